import { hasRole, PermissionDefinition } from '@app/authorization';

/** A tenant's content logging switch and retention. Field: tenantId. */
export const CONTENT_LOGGING = 'ContentLogging';
/** The prompt and completion of one logged request. Fields: tenantId, customerId. */
export const REQUEST_CONTENT = 'RequestContent';

/**
 * Prompts and completions are the customers' own words: only the tenant's owner (who turned
 * logging on) and the customer themself read them; no salesperson, finance, operator or platform
 * role, whatever their usage scope.
 */
export const contentLogsPermissions: PermissionDefinition = (principal, { can }) => {
  const own = { tenantId: principal.tenantId };
  if (hasRole(principal, 'owner')) {
    can(['read', 'update'], CONTENT_LOGGING, own);
    can('read', REQUEST_CONTENT, own);
  }
  if (hasRole(principal, 'user')) can('read', REQUEST_CONTENT, { ...own, customerId: principal.userId });
};
