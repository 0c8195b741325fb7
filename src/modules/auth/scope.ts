import { hasRole, Principal } from '@app/authorization';
import { TenantScope } from '@app/tenancy';

/**
 * The rows a principal's transactions may reach (RLS), independent of what CASL then allows.
 * Platform owner, operator, finance and tech work across tenants; everyone else stays in their
 * own tenant; platform sales also reach the resellers bound to them.
 */
export function scopeFor(principal: Pick<Principal, 'tenantId' | 'tenantType' | 'roles' | 'boundTenantIds'>): TenantScope {
  if (principal.tenantType === 'platform' && hasRole(principal, 'owner', 'operator', 'finance', 'tech')) {
    return { tenantId: principal.tenantId, all: true };
  }
  // A platform salesperson's bound resellers: RLS then admits exactly those tenants' rows, and
  // CASL narrows them to the tenant record and aggregates (never members' or customers' data).
  if (principal.tenantType === 'platform' && hasRole(principal, 'sales') && principal.boundTenantIds?.length) {
    return { tenantId: principal.tenantId, also: [...principal.boundTenantIds] };
  }
  return { tenantId: principal.tenantId };
}
