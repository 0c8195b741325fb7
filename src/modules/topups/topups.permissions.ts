import { boundToSales, hasRole, PermissionDefinition } from '@app/authorization';

/** A top-up order. Fields: tenantId, customerId, salesUserId (the customer's current salesperson). */
export const TOPUP = 'Topup';
/** A tenant's payment settings (provider credentials). Fields: tenantId. */
export const PAYMENT_SETTINGS = 'PaymentSettings';
/** Prepaid redemption codes. Fields: tenantId. */
export const REDEMPTION_CODE = 'RedemptionCode';
/** Redeeming a code into one's own wallet. Fields: tenantId, customerId. */
export const REDEMPTION = 'Redemption';

/**
 * Top-ups (issue 21). Orders are read like customers' bills (DESIGN.md "usage and bills", as the
 * issue asks: owner and finance all of their tenant's, sales those of their bound customers); a
 * customer (role `user`) creates and reads their own. Payment settings hold the tenant's merchant
 * credentials: owner only. Prepaid codes are money: owner and finance issue, list and disable them;
 * a customer redeems into their own wallet. Operator and tech have nothing here; nobody crosses
 * tenants (the platform tenant sells to its own direct customers the same way).
 */
export const topupsPermissions: PermissionDefinition = (principal, { can }) => {
  const tenantId = principal.tenantId;
  if (hasRole(principal, 'owner', 'finance')) {
    can('read', TOPUP, { tenantId });
    can(['read', 'create', 'disable'], REDEMPTION_CODE, { tenantId });
  }
  if (hasRole(principal, 'sales')) can('read', TOPUP, { tenantId, ...boundToSales(principal) });
  if (hasRole(principal, 'user')) {
    can(['read', 'create'], TOPUP, { tenantId, customerId: principal.userId });
    can('create', REDEMPTION, { tenantId, customerId: principal.userId });
  }
  if (hasRole(principal, 'owner')) can(['read', 'update'], PAYMENT_SETTINGS, { tenantId });
};
