import { Injectable } from '@nestjs/common';
import { EntityManager, IsNull } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { returnedRows } from '../../common/sql';
import { RefreshToken } from './refresh-token.entity';
import { newOpaqueToken } from './token-secrets';

export interface LiveSession {
  familyId: string;
  startedAt: Date;
  lastActiveAt: Date;
  expiresAt: Date;
  ip: string | null;
  userAgent: string | null;
}

export type RotationResult =
  | { kind: 'rotated'; userId: string; familyId: string; token: string }
  | { kind: 'reused'; userId: string; familyId: string }
  | { kind: 'invalid' };

/**
 * Sessions are families of refresh tokens. Each token is used once: using it yields the next one.
 * Presenting a token that was already used means it leaked (or a client raced itself): the whole
 * family is revoked, so whoever holds a copy is signed out too.
 */
@Injectable()
export class Sessions {
  async start(
    manager: EntityManager,
    input: { tenantId: string; userId: string; ttlSeconds: number; ip: string | null; userAgent: string | null },
  ): Promise<{ familyId: string; token: string }> {
    const familyId = uuidv7();
    const token = await this.issue(manager, { ...input, familyId });
    return { familyId, token };
  }

  async rotate(
    manager: EntityManager,
    hash: Buffer,
    input: { ttlSeconds: number; ip: string | null; userAgent: string | null },
  ): Promise<RotationResult> {
    // Atomic: of two concurrent uses of one token, exactly one wins.
    const claimed = returnedRows<{ tenant_id: string; user_id: string; family_id: string }>(
      await manager.query(
        `UPDATE refresh_tokens SET used_at = now()
          WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
          RETURNING tenant_id, user_id, family_id`,
        [hash],
      ),
    );
    if (claimed[0]) {
      const { tenant_id: tenantId, user_id: userId, family_id: familyId } = claimed[0];
      const token = await this.issue(manager, { tenantId, userId, familyId, ...input });
      return { kind: 'rotated', userId, familyId, token };
    }
    const existing = await manager.findOne(RefreshToken, { where: { tokenHash: hash } });
    if (existing && existing.usedAt) {
      await this.revokeFamily(manager, existing.familyId);
      return { kind: 'reused', userId: existing.userId, familyId: existing.familyId };
    }
    return { kind: 'invalid' };
  }

  /** Revokes a session; returns the user it belonged to (null if the token was unknown). */
  async revokeFamily(manager: EntityManager, familyId: string): Promise<void> {
    await manager.update(RefreshToken, { familyId, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
  }

  async revokeAllOfUser(manager: EntityManager, tenantId: string, userId: string): Promise<string[]> {
    const rows = returnedRows<{ family_id: string }>(
      await manager.query(
        `UPDATE refresh_tokens SET revoked_at = now()
          WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
          RETURNING family_id`,
        [tenantId, userId],
      ),
    );
    return [...new Set(rows.map((r) => r.family_id))];
  }

  /** The user's live sessions (a token neither used, revoked nor expired), most recently active first. */
  async listLive(manager: EntityManager, tenantId: string, userId: string): Promise<LiveSession[]> {
    const rows: Array<Record<string, any>> = await manager.query(
      `SELECT family_id, min(created_at) AS started_at, max(created_at) AS last_active_at, max(expires_at) AS expires_at,
              (array_agg(ip ORDER BY created_at DESC))[1] AS ip, (array_agg(user_agent ORDER BY created_at DESC))[1] AS user_agent
         FROM refresh_tokens
        WHERE tenant_id = $1 AND user_id = $2
        GROUP BY family_id
       HAVING bool_or(used_at IS NULL AND revoked_at IS NULL AND expires_at > now())
        ORDER BY max(created_at) DESC, family_id DESC`,
      [tenantId, userId],
    );
    return rows.map((r) => ({
      familyId: r.family_id,
      startedAt: new Date(r.started_at),
      lastActiveAt: new Date(r.last_active_at),
      expiresAt: new Date(r.expires_at),
      ip: r.ip,
      userAgent: r.user_agent,
    }));
  }

  /** Revokes one of the user's live sessions; false when it is not theirs or already over. */
  async revokeOwn(manager: EntityManager, tenantId: string, userId: string, familyId: string): Promise<boolean> {
    const rows = returnedRows<{ id: string }>(
      await manager.query(
        `UPDATE refresh_tokens SET revoked_at = now()
          WHERE tenant_id = $1 AND user_id = $2 AND family_id = $3 AND revoked_at IS NULL
            AND EXISTS (SELECT 1 FROM refresh_tokens l WHERE l.tenant_id = $1 AND l.family_id = $3 AND l.used_at IS NULL AND l.revoked_at IS NULL AND l.expires_at > now())
          RETURNING id`,
        [tenantId, userId, familyId],
      ),
    );
    return rows.length > 0;
  }

  /** Revokes every session of the user but `keepFamilyId`; returns the revoked sessions. */
  async revokeOthersOfUser(manager: EntityManager, tenantId: string, userId: string, keepFamilyId: string): Promise<string[]> {
    const rows = returnedRows<{ family_id: string }>(
      await manager.query(
        `UPDATE refresh_tokens SET revoked_at = now()
          WHERE tenant_id = $1 AND user_id = $2 AND family_id <> $3 AND revoked_at IS NULL AND expires_at > now()
          RETURNING family_id`,
        [tenantId, userId, keepFamilyId],
      ),
    );
    return [...new Set(rows.map((r) => r.family_id))];
  }

  private async issue(
    manager: EntityManager,
    input: { tenantId: string; userId: string; familyId: string; ttlSeconds: number; ip: string | null; userAgent: string | null },
  ): Promise<string> {
    const { token, hash } = newOpaqueToken(input.tenantId);
    await manager.insert(RefreshToken, {
      ...new RefreshToken(),
      tenantId: input.tenantId,
      userId: input.userId,
      familyId: input.familyId,
      tokenHash: hash,
      expiresAt: new Date(Date.now() + input.ttlSeconds * 1000),
      ip: input.ip,
      userAgent: input.userAgent,
    });
    return token;
  }
}
