import { hasRole, PermissionDefinition } from '@app/authorization';

export const MEMBER = 'Member';
/** Changing the roles of an existing member. */
export const ROLE_ASSIGNMENT = 'RoleAssignment';

/**
 * Members (invite, disable): owner and operator of the tenant; role assignment: owner only. The
 * platform's owner and operator also manage the members of reseller tenants (e.g. invite a new
 * reseller's first owner). Everyone sees their own membership through /me.
 */
export const membersPermissions: PermissionDefinition = (principal, { can }) => {
  if (hasRole(principal, 'owner', 'operator')) {
    can(['read', 'invite', 'disable', 'enable', 'delete'], MEMBER, { tenantId: principal.tenantId });
    if (principal.tenantType === 'platform') {
      can(['read', 'invite', 'disable', 'enable', 'delete'], MEMBER, { tenantType: 'reseller' });
    }
  }
  if (hasRole(principal, 'owner')) {
    can('assign', ROLE_ASSIGNMENT, { tenantId: principal.tenantId });
    if (principal.tenantType === 'platform') can('assign', ROLE_ASSIGNMENT, { tenantType: 'reseller' });
  }
};
