import { hasRole, PermissionDefinition } from '@app/authorization';

export const CHANNEL = 'Channel';

/**
 * Channels are the platform's own upstream providers: only the platform's owner and tech see or
 * manage them (DESIGN.md matrix). Nobody at a reseller, and no other platform role, has any rule.
 */
export const channelsPermissions: PermissionDefinition = (principal, { can }) => {
  if (principal.tenantType !== 'platform') return;
  if (hasRole(principal, 'owner', 'tech')) can(['read', 'create', 'update', 'delete', 'disable', 'enable'], CHANNEL);
};
