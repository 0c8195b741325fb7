import { hasRole, PermissionDefinition } from '@app/authorization';

/** A closed period's statement of one tenant. Fields: tenantId. */
export const STATEMENT = 'Statement';
/** The platform-wide rollup of one period (every tenant's statements). */
export const STATEMENT_ROLLUP = 'StatementRollup';
/** A manual adjustment correcting a closed reseller statement. Fields: tenantId (the reseller's). */
export const STATEMENT_ADJUSTMENT = 'StatementAdjustment';

/**
 * Statements (DESIGN.md "settlement and withdrawal": owner and finance). A tenant's owner and
 * finance read their own tenant's; the platform's owner and finance read every tenant's and the
 * rollup; a platform salesperson reads the statements of the resellers currently bound to them
 * (the same tenants their RLS scope admits). Nobody writes a statement through the API: the
 * worker closes periods. Adjustments of a closed statement are made by the platform's owner and
 * finance only; whoever may read a statement reads its adjustments.
 */
export const settlementPermissions: PermissionDefinition = (principal, { can }) => {
  if (hasRole(principal, 'owner', 'finance')) can('read', STATEMENT, { tenantId: principal.tenantId });
  if (principal.tenantType !== 'platform') return;
  if (hasRole(principal, 'owner', 'finance')) {
    can('read', STATEMENT);
    can('read', STATEMENT_ROLLUP);
    can('create', STATEMENT_ADJUSTMENT);
  }
  const bound = [...(principal.boundTenantIds ?? [])];
  if (hasRole(principal, 'sales') && bound.length > 0) can('read', STATEMENT, { tenantId: { $in: bound } });
};
