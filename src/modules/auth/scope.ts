import { hasRole, Principal } from '@app/authorization';
import { TenantScope } from '@app/tenancy';

/**
 * The rows a principal's transactions may reach (RLS), independent of what CASL then allows.
 * Platform owner, operator, finance and tech work across tenants; everyone else stays in their
 * own tenant. (Platform sales will see the resellers bound to them once bindings exist.)
 */
export function scopeFor(principal: Pick<Principal, 'tenantId' | 'tenantType' | 'roles'>): TenantScope {
  if (principal.tenantType === 'platform' && hasRole(principal, 'owner', 'operator', 'finance', 'tech')) {
    return { tenantId: principal.tenantId, all: true };
  }
  return { tenantId: principal.tenantId };
}
