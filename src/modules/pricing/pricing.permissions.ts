import { hasRole, PermissionDefinition } from '@app/authorization';

/** A tenant's effective price list: every member reads it; owner and finance set it. */
export const PRICE = 'Price';
/** Wholesale prices, margins and the version history: owner and finance only. */
export const PRICE_COST = 'PriceCost';
/** The per-reseller wholesale discount: set by the platform's owner and finance, read by the reseller's. */
export const WHOLESALE_DISCOUNT = 'WholesaleDiscount';
/** A reseller's sub-resellers: created by its owner, listed (with their discount) by its owner and finance. */
export const SUB_RESELLER = 'SubReseller';
/** Customer groups (tiers) with their multiplier and per-model prices: owner and finance. */
export const CUSTOMER_GROUP = 'CustomerGroup';
/** A customer's group and per-model prices: owner and finance. */
export const CUSTOMER_PRICE = 'CustomerPrice';

export const pricingPermissions: PermissionDefinition = (principal, { can }) => {
  can('read', PRICE, { tenantId: principal.tenantId });
  if (!hasRole(principal, 'owner', 'finance')) return;
  can('update', PRICE, { tenantId: principal.tenantId });
  can('read', PRICE_COST, { tenantId: principal.tenantId });
  can(['read', 'update'], [CUSTOMER_GROUP, CUSTOMER_PRICE], { tenantId: principal.tenantId });
  can('read', WHOLESALE_DISCOUNT, { tenantId: principal.tenantId });
  if (principal.tenantType === 'reseller') {
    // A parent sets what its sub-resellers pay it (the platform's mechanism, scoped to the parent).
    can(['read', 'update'], WHOLESALE_DISCOUNT, { parentId: principal.tenantId });
    can('read', SUB_RESELLER, { parentId: principal.tenantId });
    if (hasRole(principal, 'owner')) can('create', SUB_RESELLER, { parentId: principal.tenantId });
  }
  if (principal.tenantType !== 'platform') return;
  can(['read', 'update'], WHOLESALE_DISCOUNT, { tenantType: 'reseller' });
  // Platform owner and finance read any reseller's effective list, with wholesale and margin.
  can('read', [PRICE, PRICE_COST], { tenantType: 'reseller' });
};
