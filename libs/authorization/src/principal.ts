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
}

export function hasRole(principal: Pick<Principal, 'roles'>, ...roles: Role[]): boolean {
  return roles.some((role) => principal.roles.includes(role));
}
