import { hasRole, PermissionDefinition } from '@app/authorization';

/** A tenant's risk rules and flags: its owner reads and changes them; the platform's owner and operator read any tenant's. */
export const RISK = 'Risk';

export const riskPermissions: PermissionDefinition = (principal, { can }) => {
  if (hasRole(principal, 'owner')) can(['read', 'update'], RISK, { tenantId: principal.tenantId });
  if (principal.tenantType === 'platform' && hasRole(principal, 'owner', 'operator')) can('read', RISK);
};
