import type { Me } from '@/app/areas/types';

/**
 * What a platform operator may use, from `/me`'s CASL rules (the same rules the API enforces).
 * Every check requires the platform tenant first: a reseller's owner also reads "their" audit log
 * and tenant, and must never be offered a platform page.
 */
const platform = (me: Me) => me.tenant.type === 'platform';

export const access = {
  channels: (me: Me) => platform(me) && me.ability.can('read', 'Channel'),
  manageChannels: (me: Me) => platform(me) && me.ability.can('update', 'Channel'),
  resellers: (me: Me) => platform(me) && (me.ability.can('create', 'Tenant') || me.ability.can('update', 'WholesaleDiscount')),
  // With its first owner: only who may appoint owners (an operator appoints none).
  createReseller: (me: Me) => platform(me) && me.ability.can('create', 'Tenant') && me.ability.can('assign', 'RoleAssignment'),
  suspendReseller: (me: Me) => platform(me) && me.ability.can('disable', 'Tenant'),
  editReseller: (me: Me) => platform(me) && me.ability.can('update', 'Tenant'),
  discount: (me: Me) => platform(me) && me.ability.can('update', 'WholesaleDiscount'),
  tenantLimits: (me: Me) => platform(me) && me.ability.can('update', 'TenantLimits'),
  salesBinding: (me: Me) => platform(me) && me.ability.can('assign', 'TenantSalesBinding'),
  priceBook: (me: Me) => platform(me) && me.ability.can('update', 'Price'),
  withdrawals: (me: Me) => platform(me) && me.ability.can('update', 'Withdrawal'),
  rollup: (me: Me) => platform(me) && me.ability.can('read', 'StatementRollup'),
  statements: (me: Me) => platform(me) && me.ability.can('read', 'StatementRollup'),
  adjust: (me: Me) => platform(me) && me.ability.can('create', 'StatementAdjustment'),
  audit: (me: Me) => platform(me) && me.ability.can('read', 'AuditLog'),
  requests: (me: Me) => platform(me) && me.ability.can('read', 'RequestLog'),
};
