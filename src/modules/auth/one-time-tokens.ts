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
