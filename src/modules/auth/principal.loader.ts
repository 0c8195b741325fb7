import { Injectable } from '@nestjs/common';
import { Principal, Role } from '@app/authorization';
import { TenantDb, TenantStatus, TenantType } from '@app/tenancy';

export interface LoadedIdentity {
  userId: string;
  email: string;
  userStatus: 'invited' | 'active' | 'disabled';
  tenantId: string;
  tenantSlug: string;
  tenantType: TenantType;
  tenantStatus: TenantStatus;
  roles: Role[];
  /** Reseller tenants bound to a platform salesperson (empty otherwise). */
  boundTenantIds: string[];
  /** Staff of a tenant that requires two-factor, who have not set it up: they may only do that. */
  mustEnrolSecondFactor: boolean;
}

/**
 * Loads the caller's current status and roles in their own tenant's scope, on every request:
 * disabling a member or removing a role takes effect on the next request, not at token expiry.
 */
@Injectable()
export class PrincipalLoader {
  constructor(private readonly tenantDb: TenantDb) {}

  async load(tenantId: string, userId: string): Promise<LoadedIdentity | null> {
    return this.tenantDb.run({ tenantId }, async (manager) => {
      const rows: Array<Record<string, any>> = await manager.query(
        `SELECT u.id, u.email, u.status, t.id AS tenant_id, t.slug, t.type, t.status AS tenant_status,
                u.totp_enabled_at IS NOT NULL AS totp_enabled,
                coalesce((SELECT s.require_staff_two_factor FROM tenant_identity_settings s WHERE s.tenant_id = t.id), false) AS require_staff_two_factor,
                coalesce(array_agg(r.role ORDER BY r.role) FILTER (WHERE r.role IS NOT NULL), '{}') AS roles
           FROM users u
           JOIN tenants t ON t.id = u.tenant_id
           LEFT JOIN user_roles r ON r.user_id = u.id AND r.tenant_id = u.tenant_id
          WHERE u.id = $1 AND u.tenant_id = $2
          GROUP BY u.id, t.id`,
        [userId, tenantId],
      );
      const row = rows[0];
      if (!row) return null;
      const boundTenantIds: string[] =
        row.type === 'platform' && (row.roles as string[]).includes('sales')
          ? (
              await manager.query(
                `SELECT reseller_id FROM tenant_sales_bindings
                  WHERE tenant_id = $1 AND sales_user_id = $2 AND unbound_at IS NULL ORDER BY reseller_id`,
                [tenantId, userId],
              )
            ).map((r: { reseller_id: string }) => r.reseller_id)
          : [];
      return {
        userId: row.id,
        email: row.email,
        userStatus: row.status,
        tenantId: row.tenant_id,
        tenantSlug: row.slug,
        tenantType: row.type,
        tenantStatus: row.tenant_status,
        roles: row.roles,
        boundTenantIds,
        mustEnrolSecondFactor: row.require_staff_two_factor && !row.totp_enabled && (row.roles as string[]).some((r) => r !== 'user'),
      };
    });
  }
}

export function toPrincipal(identity: LoadedIdentity, token: { sid: string; jti: string; exp: number }): Principal {
  return {
    userId: identity.userId,
    email: identity.email,
    tenantId: identity.tenantId,
    tenantSlug: identity.tenantSlug,
    tenantType: identity.tenantType,
    roles: identity.roles,
    sessionId: token.sid,
    tokenId: token.jti,
    tokenExpiresAt: token.exp,
    boundTenantIds: identity.boundTenantIds,
  };
}
