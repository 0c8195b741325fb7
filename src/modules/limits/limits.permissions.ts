import { hasRole, PermissionDefinition } from '@app/authorization';

/** A tenant's requests and tokens per minute: set by the platform's owner and operator, read by the tenant's owner, operator and finance. */
export const TENANT_LIMITS = 'TenantLimits';
/** A customer's rate and concurrency limits: set by its tenant's owner, read by owner, operator and finance. */
export const CUSTOMER_LIMITS = 'CustomerLimits';

export const limitsPermissions: PermissionDefinition = (principal, { can }) => {
  if (hasRole(principal, 'owner', 'operator', 'finance')) {
    can('read', TENANT_LIMITS, { tenantId: principal.tenantId });
    can('read', CUSTOMER_LIMITS, { tenantId: principal.tenantId });
  }
  if (hasRole(principal, 'owner')) can('update', CUSTOMER_LIMITS, { tenantId: principal.tenantId });
  if (principal.tenantType === 'platform' && hasRole(principal, 'owner', 'operator')) can(['read', 'update'], TENANT_LIMITS);
};
