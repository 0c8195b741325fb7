import { boundToSales, hasRole, PermissionDefinition } from '@app/authorization';

/** A customer's wallet: balance and transactions. Fields: tenantId, customerId, salesUserId. */
export const BALANCE = 'Balance';
/** Crediting or debiting a customer's wallet by hand. */
export const CREDIT = 'Credit';

/**
 * Balances: owner, operator and finance read every customer's of their tenant; sales only their
 * currently bound customers' (the customers module's sales scope); a customer (role `user`) reads
 * their own. Credits and debit adjustments: owner and finance only (DESIGN.md,
 * "usage and bills" and "settlement"); nobody crosses tenants here.
 */
export const ledgerPermissions: PermissionDefinition = (principal, { can }) => {
  const tenantId = principal.tenantId;
  if (hasRole(principal, 'owner', 'operator', 'finance')) can('read', BALANCE, { tenantId });
  if (hasRole(principal, 'sales')) can('read', BALANCE, { tenantId, ...boundToSales(principal) });
  if (hasRole(principal, 'user')) can('read', BALANCE, { tenantId, customerId: principal.userId });
  if (hasRole(principal, 'owner', 'finance')) can('create', CREDIT, { tenantId });
};
