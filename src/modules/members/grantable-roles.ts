import { hasRole, Principal, Role, ROLES_BY_TENANT_TYPE } from '@app/authorization';
import { TenantType } from '@app/tenancy';

/**
 * The roles a principal may hand out in a tenant of `targetType`: an owner any role that exists
 * there; an operator any but owner; nobody else any. Nobody can grant a role the target tenant
 * type does not have (a reseller has no operator or tech).
 */
export function grantableRoles(principal: Pick<Principal, 'roles'>, targetType: TenantType): Role[] {
  const available = ROLES_BY_TENANT_TYPE[targetType];
  if (hasRole(principal, 'owner')) return [...available];
  if (hasRole(principal, 'operator')) return available.filter((role) => role !== 'owner');
  return [];
}
