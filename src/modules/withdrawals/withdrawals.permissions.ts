import { hasRole, PermissionDefinition } from '@app/authorization';

/** A withdrawal of settled margin. Fields: tenantId (the reseller's), status. */
export const WITHDRAWAL = 'Withdrawal';

/**
 * DESIGN.md, "settlement and withdrawal: owner, finance":
 * - a tenant's owner and finance request withdrawals of their own tenant's settled margin and read
 *   them (the service then refuses the platform tenant, which has no margin to withdraw);
 * - the platform's owner and finance read every reseller's withdrawals and decide them (`update`:
 *   approve, reject, mark paid).
 * Nobody else: operator, sales (platform sales included: the matrix gives them nothing here),
 * tech and user get 403, and another reseller's withdrawal is 404.
 */
export const withdrawalsPermissions: PermissionDefinition = (principal, { can }) => {
  if (!hasRole(principal, 'owner', 'finance')) return;
  can(['read', 'create'], WITHDRAWAL, { tenantId: principal.tenantId });
  if (principal.tenantType === 'platform') can(['read', 'update'], WITHDRAWAL);
};
