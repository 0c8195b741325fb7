import { hasRole, PermissionDefinition } from '@app/authorization';

/** A webhook endpoint (and, through it, its deliveries). Fields: tenantId. */
export const WEBHOOK_ENDPOINT = 'WebhookEndpoint';

/**
 * Webhooks are the tenant owner's: an endpoint receives the tenant's balances, keys, statements
 * and withdrawals, and its secret signs what the tenant's systems will trust. The owner manages
 * endpoints, reads the delivery log and redelivers (issue 13); no other role has access (a role can
 * be granted read later without touching the routes). Redelivering and test pings are `update`.
 */
export const webhooksPermissions: PermissionDefinition = (principal, { can }) => {
  if (hasRole(principal, 'owner')) can(['read', 'create', 'update', 'delete'], WEBHOOK_ENDPOINT, { tenantId: principal.tenantId });
};
