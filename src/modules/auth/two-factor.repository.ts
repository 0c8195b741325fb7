import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { returnedRows } from '../../common/sql';

export interface TwoFactorState {
  sealedSecret: string | null;
  enabledAt: Date | null;
  lastStep: string | null;
}

/** TOTP columns of a user and their recovery codes; every method runs in the caller's tenant transaction. */
@Injectable()
export class TwoFactorRepository {
  async state(m: EntityManager, tenantId: string, userId: string, lock = false): Promise<TwoFactorState | null> {
    const [row] = await m.query(
      `SELECT totp_secret_sealed, totp_enabled_at, totp_last_step::text AS totp_last_step FROM users WHERE tenant_id = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`,
      [tenantId, userId],
    );
    return row ? { sealedSecret: row.totp_secret_sealed, enabledAt: row.totp_enabled_at, lastStep: row.totp_last_step } : null;
  }

  async setPending(m: EntityManager, tenantId: string, userId: string, sealedSecret: string): Promise<void> {
    await m.query(`UPDATE users SET totp_secret_sealed = $3, totp_enabled_at = NULL, totp_last_step = NULL WHERE tenant_id = $1 AND id = $2`, [tenantId, userId, sealedSecret]);
  }

  async enable(m: EntityManager, tenantId: string, userId: string): Promise<void> {
    await m.query(`UPDATE users SET totp_enabled_at = now() WHERE tenant_id = $1 AND id = $2`, [tenantId, userId]);
  }

  async clear(m: EntityManager, tenantId: string, userId: string): Promise<void> {
    await m.query(`UPDATE users SET totp_secret_sealed = NULL, totp_enabled_at = NULL, totp_last_step = NULL WHERE tenant_id = $1 AND id = $2`, [tenantId, userId]);
    await m.query(`DELETE FROM user_recovery_codes WHERE tenant_id = $1 AND user_id = $2`, [tenantId, userId]);
  }

  /** Records `step` as used; false when it (or a later one) was used already, so a code works once. */
  async useStep(m: EntityManager, tenantId: string, userId: string, step: number): Promise<boolean> {
    const result = await m.query(
      `UPDATE users SET totp_last_step = $3 WHERE tenant_id = $1 AND id = $2 AND (totp_last_step IS NULL OR totp_last_step < $3) RETURNING id`,
      [tenantId, userId, step],
    );
    return returnedRows(result).length === 1;
  }

  async replaceRecoveryCodes(m: EntityManager, tenantId: string, userId: string, hashes: Buffer[]): Promise<void> {
    await m.query(`DELETE FROM user_recovery_codes WHERE tenant_id = $1 AND user_id = $2`, [tenantId, userId]);
    for (const hash of hashes) {
      await m.query(`INSERT INTO user_recovery_codes (id, tenant_id, user_id, code_hash) VALUES ($1, $2, $3, $4)`, [uuidv7(), tenantId, userId, hash]);
    }
  }

  /** Spends one recovery code (atomically: two requests with the same code cannot both succeed). */
  async useRecoveryCode(m: EntityManager, tenantId: string, userId: string, hash: Buffer): Promise<boolean> {
    const result = await m.query(
      `UPDATE user_recovery_codes SET used_at = now() WHERE tenant_id = $1 AND user_id = $2 AND code_hash = $3 AND used_at IS NULL RETURNING id`,
      [tenantId, userId, hash],
    );
    return returnedRows(result).length === 1;
  }

  async recoveryCodesLeft(m: EntityManager, tenantId: string, userId: string): Promise<number> {
    const [row] = await m.query(`SELECT count(*)::int AS n FROM user_recovery_codes WHERE tenant_id = $1 AND user_id = $2 AND used_at IS NULL`, [tenantId, userId]);
    return row.n;
  }

  /** Whether the tenant requires a second factor of its staff (everyone holding a role other than `user`). */
  async requiredForStaff(m: EntityManager, tenantId: string): Promise<boolean> {
    const [row] = await m.query(`SELECT require_staff_two_factor FROM tenant_identity_settings WHERE tenant_id = $1`, [tenantId]);
    return row?.require_staff_two_factor === true;
  }
}
