import { hasRole, PermissionDefinition } from '@app/authorization';

export const AUDIT_LOG = 'AuditLog';

/** Owners read their tenant's audit log; the platform's owner and tech read everyone's. */
export const auditPermissions: PermissionDefinition = (principal, { can }) => {
  if (hasRole(principal, 'owner')) can('read', AUDIT_LOG, { tenantId: principal.tenantId });
  if (principal.tenantType === 'platform' && hasRole(principal, 'owner', 'tech')) can('read', AUDIT_LOG);
};
