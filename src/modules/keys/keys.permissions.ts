import { boundToSales, hasRole, PermissionDefinition } from '@app/authorization';

/** An API key. Fields: tenantId, customerId (the key's owner), salesUserId (the owner's salesperson). */
export const API_KEY = 'ApiKey';

const MANAGE = ['read', 'create', 'update', 'disable', 'enable', 'delete'] as const;

/**
 * DESIGN.md's matrix, "API keys": owner (and, on the platform, operator and tech) manage every key
 * of their tenant; sales the keys of customers currently bound to them; a user their own. Finance
 * has no access. Revoking is `delete`, rotating is `update`.
 */
export const keysPermissions: PermissionDefinition = (principal, { can }) => {
  const own = { tenantId: principal.tenantId };
  if (hasRole(principal, 'owner') || (principal.tenantType === 'platform' && hasRole(principal, 'operator', 'tech'))) can([...MANAGE], API_KEY, own);
  if (hasRole(principal, 'sales')) can([...MANAGE], API_KEY, { ...own, ...boundToSales(principal) });
  if (hasRole(principal, 'user')) can([...MANAGE], API_KEY, { ...own, customerId: principal.userId });
};
