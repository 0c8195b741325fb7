import { hasRole, PermissionDefinition } from '@app/authorization';

/**
 * A tenant's default low-balance threshold (a billing setting of the tenant): read and set by the
 * tenant's owner and operator (tenant settings) and finance (bills and balances), for their own
 * tenant only. A customer's own threshold is part of managing that customer: the customers
 * module's `Customer` read/update rules apply (owner, operator, a salesperson for bound customers;
 * finance reads).
 */
export const LOW_BALANCE_SETTINGS = 'LowBalanceSettings';

export const lowBalancePermissions: PermissionDefinition = (principal, { can }) => {
  if (hasRole(principal, 'owner', 'operator', 'finance')) can(['read', 'update'], LOW_BALANCE_SETTINGS, { tenantId: principal.tenantId });
};
