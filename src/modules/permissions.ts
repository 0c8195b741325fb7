import { PermissionDefinition } from '@app/authorization';
import { auditPermissions } from './audit/audit.permissions';
import { channelsPermissions } from './channels/channels.permissions';
import { customersPermissions } from './customers/customers.permissions';
import { keysPermissions } from './keys/keys.permissions';
import { ledgerPermissions } from './ledger/ledger.permissions';
import { membersPermissions } from './members/members.permissions';
import { pricingPermissions } from './pricing/pricing.permissions';
import { tenantsPermissions } from './tenants/tenants.permissions';
import { withdrawalsPermissions } from './withdrawals/withdrawals.permissions';
import { lowBalancePermissions } from './low-balance/low-balance.permissions';
import { settlementPermissions } from './settlement/settlement.permissions';
import { webhooksPermissions } from './webhooks/webhooks.permissions';
import { topupsPermissions } from './topups/topups.permissions';
import { limitsPermissions } from './limits/limits.permissions';
import { contentLogsPermissions } from './content-logs/content-logs.permissions';
import { identityPermissions } from './identity/identity.permissions';
import { riskPermissions } from './risk/risk.permissions';

/**
 * Every module's CASL rules. Abilities are the union of these, built per request from the
 * caller's tenant type, roles and id (DESIGN.md, "Roles and what they may do").
 */
export const ALL_PERMISSIONS: readonly PermissionDefinition[] = [
  tenantsPermissions,
  membersPermissions,
  auditPermissions,
  customersPermissions,
  pricingPermissions,
  keysPermissions,
  channelsPermissions,
  ledgerPermissions,
  withdrawalsPermissions,
  lowBalancePermissions,
  settlementPermissions,
  webhooksPermissions,
  topupsPermissions,
  limitsPermissions,
  contentLogsPermissions,
  identityPermissions,
  riskPermissions,
];
