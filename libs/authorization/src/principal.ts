import { TenantType } from '@app/tenancy';
import { Role } from './roles';

/** Who is calling, as loaded fresh from the database on every request (not from the token). */
export interface Principal {
  readonly userId: string;
  readonly email: string;
  readonly tenantId: string;
  readonly tenantSlug: string;
  readonly tenantType: TenantType;
  readonly roles: readonly Role[];
  /** The session (refresh-token family) the access token belongs to. */
  readonly sessionId: string;
  /** The access token's id (jti), for logout. */
  readonly tokenId: string;
  readonly tokenExpiresAt: number;
  /**
   * Reseller tenants currently bound to this platform salesperson (`tenant_sales_bindings`),
   * loaded fresh on every request; empty for everyone else. They widen the RLS scope (`also`)
   * and the CASL rules on those tenants' record and aggregates.
   */
  readonly boundTenantIds?: readonly string[];
}

export function hasRole(principal: Pick<Principal, 'roles'>, ...roles: Role[]): boolean {
  return roles.some((role) => principal.roles.includes(role));
}
