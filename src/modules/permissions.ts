import { PermissionDefinition } from '@app/authorization';
import { auditPermissions } from './audit/audit.permissions';
import { customersPermissions } from './customers/customers.permissions';
import { ledgerPermissions } from './ledger/ledger.permissions';
import { membersPermissions } from './members/members.permissions';
import { tenantsPermissions } from './tenants/tenants.permissions';

/**
 * Every module's CASL rules. Abilities are the union of these, built per request from the
 * caller's tenant type, roles and id (DESIGN.md, "Roles and what they may do").
 */
export const ALL_PERMISSIONS: readonly PermissionDefinition[] = [
  tenantsPermissions,
  membersPermissions,
  auditPermissions,
  customersPermissions,
  ledgerPermissions,
];
