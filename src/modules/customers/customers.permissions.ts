import { boundToSales, hasRole, PermissionDefinition } from '@app/authorization';
import { TENANT } from '../tenants/tenants.permissions';

export const CUSTOMER = 'Customer';
/** Who a customer belongs to (binding, unbinding, reassigning, and the history of it). */
export const CUSTOMER_BINDING = 'CustomerBinding';
/** Platform salespeople bound to reseller tenants. */
export const TENANT_SALES_BINDING = 'TenantSalesBinding';
/** Usage records and their aggregates. Fields: tenantId, customerId, salesUserId. */
export const USAGE = 'Usage';
/** Request logs across tenants for monitoring (platform owner and tech). Field: tenantId. */
export const REQUEST_LOG = 'RequestLog';

const MANAGE_CUSTOMERS = ['read', 'create', 'update', 'disable', 'enable'] as const;

/**
 * Customers are the end users of a tenant (the `user` role). DESIGN.md's matrix:
 * - owner, operator: every customer of the tenant; bind, unbind and reassign; all usage;
 * - finance: every customer and all usage, read-only;
 * - sales: only customers currently bound to them (`salesUserId`, translated to a subquery on
 *   customer_bindings in SQL), and their usage; a customer they create is bound to them;
 * - user: their own usage.
 * Platform staff: owner and operator bind platform salespeople to resellers; owner, operator and
 * finance read every tenant's usage; a platform salesperson reads their bound resellers' tenant
 * record and aggregate usage (the same tenants their RLS scope admits), nothing personal.
 */
export const customersPermissions: PermissionDefinition = (principal, { can }) => {
  const own = { tenantId: principal.tenantId };
  if (hasRole(principal, 'owner', 'operator')) {
    can([...MANAGE_CUSTOMERS], CUSTOMER, own);
    can(['read', 'assign'], CUSTOMER_BINDING, own);
    can('read', USAGE, own);
  }
  if (hasRole(principal, 'finance')) {
    can('read', CUSTOMER, own);
    can('read', CUSTOMER_BINDING, own);
    can('read', USAGE, own);
  }
  if (hasRole(principal, 'sales')) {
    const mine = { ...own, ...boundToSales(principal) };
    can([...MANAGE_CUSTOMERS], CUSTOMER, mine);
    can('read', CUSTOMER_BINDING, mine);
    can('read', USAGE, mine);
  }
  if (hasRole(principal, 'user')) can('read', USAGE, { ...own, customerId: principal.userId });

  if (principal.tenantType !== 'platform') return;
  if (hasRole(principal, 'owner', 'operator')) can(['read', 'assign'], TENANT_SALES_BINDING);
  if (hasRole(principal, 'owner', 'operator', 'finance')) can('read', USAGE);
  if (hasRole(principal, 'finance')) can('read', TENANT_SALES_BINDING);
  // DESIGN.md: "monitoring and logs" is the platform owner's and tech's (tech: not usage and bills).
  if (hasRole(principal, 'owner', 'tech')) can('read', REQUEST_LOG);
  const bound = [...(principal.boundTenantIds ?? [])];
  if (hasRole(principal, 'sales') && bound.length > 0) {
    can('read', TENANT, { id: { $in: bound } });
    can('read', TENANT_SALES_BINDING, { resellerId: { $in: bound } });
    can('read', USAGE, { tenantId: { $in: bound } });
  }
};
