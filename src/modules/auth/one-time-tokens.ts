import { Injectable } from '@nestjs/common';
import { EntityManager, IsNull } from 'typeorm';
import { returnedRows } from '../../common/sql';
import { OneTimePurpose, OneTimeToken } from './one-time-token.entity';
import { newOpaqueToken } from './token-secrets';

/**
 * Invitation and password-reset links: one valid token per user and purpose (issuing a new one
 * voids the old), single use, expiring. Used inside the caller's tenant transaction.
 */
@Injectable()
export class OneTimeTokens {
  async issue(
    manager: EntityManager,
    input: { tenantId: string; userId: string; purpose: OneTimePurpose; ttlSeconds: number; createdBy?: string | null },
  ): Promise<string> {
    await manager.update(
      OneTimeToken,
      { tenantId: input.tenantId, userId: input.userId, purpose: input.purpose, usedAt: IsNull() },
      { usedAt: () => 'now()' },
    );
    const { token, hash } = newOpaqueToken(input.tenantId);
    await manager.insert(OneTimeToken, {
      ...new OneTimeToken(),
      tenantId: input.tenantId,
      userId: input.userId,
      purpose: input.purpose,
      tokenHash: hash,
      expiresAt: new Date(Date.now() + input.ttlSeconds * 1000),
      createdBy: input.createdBy ?? null,
    });
    return token;
  }

  /** The e-mail of the user a still-valid token is for, without spending it. */
  async peekEmail(manager: EntityManager, hash: Buffer, purpose: OneTimePurpose): Promise<string | null> {
    const rows: Array<{ email: string }> = await manager.query(
      `SELECT u.email FROM one_time_tokens t JOIN users u ON u.id = t.user_id AND u.tenant_id = t.tenant_id
        WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > now()`,
      [hash, purpose],
    );
    return rows[0]?.email ?? null;
  }

  /** The user a still-valid token is for, without spending it. */
  async peekUser(manager: EntityManager, hash: Buffer, purpose: OneTimePurpose): Promise<{ userId: string; email: string } | null> {
    const rows: Array<{ id: string; email: string }> = await manager.query(
      `SELECT u.id, u.email FROM one_time_tokens t JOIN users u ON u.id = t.user_id AND u.tenant_id = t.tenant_id
        WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > now()`,
      [hash, purpose],
    );
    return rows[0] ? { userId: rows[0].id, email: rows[0].email } : null;
  }

  /** Marks the token used and returns its user, or null if it is unknown, used or expired. Atomic. */
  async consume(manager: EntityManager, hash: Buffer, purpose: OneTimePurpose): Promise<{ userId: string; tenantId: string } | null> {
    const result = await manager.query(
      `UPDATE one_time_tokens SET used_at = now()
        WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
        RETURNING user_id, tenant_id`,
      [hash, purpose],
    );
    const [row] = returnedRows<{ user_id: string; tenant_id: string }>(result);
    return row ? { userId: row.user_id, tenantId: row.tenant_id } : null;
  }
}
