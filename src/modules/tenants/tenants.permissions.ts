import { hasRole, PermissionDefinition } from '@app/authorization';

export const TENANT = 'Tenant';
export const TENANT_DOMAIN = 'TenantDomain';

/** Fields of a tenant its own owner may change (status, slug and parent are the platform's). */
export const OWN_TENANT_EDITABLE_FIELDS = ['name', 'branding'];

/**
 * Tenant settings (domain, logo): owner and operator of the tenant; tech reads and verifies domains. The platform's owner and
 * operator manage reseller tenants (create, edit, disable); platform finance reads them all.
 * (Everyone sees their own tenant's name and type through /me.)
 */
export const tenantsPermissions: PermissionDefinition = (principal, { can }) => {
  const settings = hasRole(principal, 'owner', 'operator');
  if (settings) {
    can('read', TENANT, { id: principal.tenantId });
    can('update', TENANT, OWN_TENANT_EDITABLE_FIELDS, { id: principal.tenantId });
    can(['read', 'create', 'delete', 'update'], TENANT_DOMAIN, { tenantId: principal.tenantId });
  }
  // Tech sees the domains and runs their verification ('update' is verifying: nothing else changes).
  if (hasRole(principal, 'tech')) can(['read', 'update'], TENANT_DOMAIN, { tenantId: principal.tenantId });
  if (principal.tenantType !== 'platform') return;
  if (settings) {
    can(['read', 'create', 'disable', 'enable'], TENANT, { type: 'reseller' });
    can('update', TENANT, [...OWN_TENANT_EDITABLE_FIELDS, 'parentId'], { type: 'reseller' });
    can(['read', 'create', 'delete', 'update'], TENANT_DOMAIN);
  }
  if (hasRole(principal, 'finance')) can('read', TENANT);
};
