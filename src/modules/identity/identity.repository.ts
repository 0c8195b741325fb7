import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { returnedRows } from '../../common/sql';

export interface IdentitySettingsRow {
  signUpEnabled: boolean;
  signUpDomains: string[];
  signUpBonus: string;
  requireStaffTwoFactor: boolean;
  updatedAt: Date | null;
}

const DEFAULTS: IdentitySettingsRow = { signUpEnabled: false, signUpDomains: [], signUpBonus: '0.000000000', requireStaffTwoFactor: false, updatedAt: null };

/** Identity settings, pseudonymisation and the personal-data export; every method runs in the caller's tenant transaction. */
@Injectable()
export class IdentityRepository {
  async settings(m: EntityManager, tenantId: string): Promise<IdentitySettingsRow> {
    const [row] = await m.query(
      `SELECT sign_up_enabled, sign_up_domains, sign_up_bonus::text AS sign_up_bonus, require_staff_two_factor, updated_at
         FROM tenant_identity_settings WHERE tenant_id = $1`,
      [tenantId],
    );
    if (!row) return { ...DEFAULTS };
    return {
      signUpEnabled: row.sign_up_enabled,
      signUpDomains: row.sign_up_domains,
      signUpBonus: row.sign_up_bonus,
      requireStaffTwoFactor: row.require_staff_two_factor,
      updatedAt: row.updated_at,
    };
  }

  async saveSettings(m: EntityManager, tenantId: string, value: IdentitySettingsRow, by: string): Promise<void> {
    await m.query(
      `INSERT INTO tenant_identity_settings (tenant_id, sign_up_enabled, sign_up_domains, sign_up_bonus, require_staff_two_factor, updated_at, updated_by)
       VALUES ($1, $2, $3, $4, $5, now(), $6)
       ON CONFLICT (tenant_id) DO UPDATE SET sign_up_enabled = $2, sign_up_domains = $3, sign_up_bonus = $4, require_staff_two_factor = $5, updated_at = now(), updated_by = $6`,
      [tenantId, value.signUpEnabled, value.signUpDomains, value.signUpBonus, value.requireStaffTwoFactor, by],
    );
  }

  async grantCustomerRole(m: EntityManager, tenantId: string, userId: string): Promise<void> {
    await m.query(`INSERT INTO user_roles (tenant_id, user_id, role) VALUES ($1, $2, 'user') ON CONFLICT DO NOTHING`, [tenantId, userId]);
  }

  /** Activates a self-signed-up account whose address was just verified; false if it is not pending. */
  async activateVerified(m: EntityManager, tenantId: string, userId: string): Promise<boolean> {
    const result = await m.query(
      `UPDATE users SET status = 'active', email_verified_at = now() WHERE tenant_id = $1 AND id = $2 AND status = 'invited' AND deleted_at IS NULL RETURNING id`,
      [tenantId, userId],
    );
    return returnedRows(result).length === 1;
  }

  /** The used verification token's user, if that user's address is verified (a second click of the same link). */
  async verifiedByUsedToken(m: EntityManager, hash: Buffer): Promise<{ id: string; email: string } | null> {
    const [row] = await m.query(
      `SELECT u.id, u.email FROM one_time_tokens t JOIN users u ON u.id = t.user_id AND u.tenant_id = t.tenant_id
        WHERE t.token_hash = $1 AND t.purpose = 'email_verification' AND t.used_at IS NOT NULL AND u.email_verified_at IS NOT NULL AND u.deleted_at IS NULL`,
      [hash],
    );
    return row ?? null;
  }

  async roles(m: EntityManager, tenantId: string, userId: string): Promise<string[]> {
    const rows: Array<{ role: string }> = await m.query(`SELECT role FROM user_roles WHERE tenant_id = $1 AND user_id = $2 ORDER BY role`, [tenantId, userId]);
    return rows.map((r) => r.role);
  }

  /** Whether the user is a customer (holds the `user` role) of the tenant, locked for the erasure. */
  async lockCustomer(m: EntityManager, tenantId: string, userId: string): Promise<{ id: string; deletedAt: Date | null; roles: string[] } | null> {
    const [row] = await m.query(`SELECT id, deleted_at FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [tenantId, userId]);
    if (!row) return null;
    return { id: row.id, deletedAt: row.deleted_at, roles: await this.roles(m, tenantId, userId) };
  }

  /**
   * Erases what identifies the person: address (a placeholder unique to the row), name, password,
   * language, second factor, pending links, and the IP addresses and browsers of their sessions.
   * Keys are revoked (their names and prefixes stay: they identify a key, not a person). The row,
   * its id, the ledger, usage records and statements stay, so every total still adds up.
   */
  async pseudonymise(m: EntityManager, tenantId: string, userId: string): Promise<{ keysRevoked: number; deletedAt: Date }> {
    const [user] = returnedRows<{ deleted_at: Date }>(
      await m.query(
        `UPDATE users SET email = 'deleted-' || id || '@deleted.invalid', display_name = NULL, password_hash = NULL, preferred_language = NULL,
                totp_secret_sealed = NULL, totp_enabled_at = NULL, totp_last_step = NULL, email_verified_at = NULL,
                status = 'disabled', deleted_at = now()
          WHERE tenant_id = $1 AND id = $2 RETURNING deleted_at`,
        [tenantId, userId],
      ),
    );
    await m.query(`DELETE FROM user_recovery_codes WHERE tenant_id = $1 AND user_id = $2`, [tenantId, userId]);
    await m.query(`UPDATE one_time_tokens SET used_at = now() WHERE tenant_id = $1 AND user_id = $2 AND used_at IS NULL`, [tenantId, userId]);
    await m.query(`UPDATE refresh_tokens SET ip = NULL, user_agent = NULL WHERE tenant_id = $1 AND user_id = $2`, [tenantId, userId]);
    const revoked = await m.query(
      `UPDATE api_keys SET status = 'revoked', revoked_at = coalesce(revoked_at, now()), updated_at = now()
        WHERE tenant_id = $1 AND customer_id = $2 AND status <> 'revoked' RETURNING id`,
      [tenantId, userId],
    );
    return { keysRevoked: returnedRows(revoked).length, deletedAt: user.deleted_at };
  }

  async exportProfile(m: EntityManager, tenantId: string, userId: string) {
    const [row] = await m.query(
      `SELECT id, email, display_name, preferred_language, status, created_at, last_login_at, email_verified_at, totp_enabled_at IS NOT NULL AS two_factor
         FROM users WHERE tenant_id = $1 AND id = $2`,
      [tenantId, userId],
    );
    return row ?? null;
  }

  exportKeys(m: EntityManager, tenantId: string, userId: string): Promise<Array<Record<string, any>>> {
    return m.query(
      `SELECT id, name, prefix, status, allowed_models, expires_at, created_at FROM api_keys WHERE tenant_id = $1 AND customer_id = $2 ORDER BY created_at, id`,
      [tenantId, userId],
    );
  }

  exportUsage(m: EntityManager, tenantId: string, userId: string): Promise<Array<Record<string, any>>> {
    return m.query(
      `SELECT request_id, model, api_key_id, input_tokens::text, output_tokens::text, cache_read_tokens::text, cache_write_tokens::text,
              retail_charge::text, status, host(client_ip) AS client_ip, created_at
         FROM usage_records WHERE tenant_id = $1 AND customer_id = $2 ORDER BY created_at, request_id`,
      [tenantId, userId],
    );
  }

  exportTransactions(m: EntityManager, tenantId: string, userId: string): Promise<Array<Record<string, any>>> {
    return m.query(
      // The wallet's own entries: a metering batch is one transaction for many customers.
      `SELECT t.id, t.kind, sum(e.amount)::text AS amount, t.note, t.created_at
         FROM ledger_accounts a
         JOIN ledger_entries e ON e.account_id = a.id AND e.tenant_id = a.tenant_id
         JOIN ledger_transactions t ON t.id = e.transaction_id AND t.tenant_id = e.tenant_id
        WHERE a.tenant_id = $1 AND a.kind = 'customer_wallet' AND a.customer_id = $2
        GROUP BY t.id ORDER BY t.created_at, t.id`,
      [tenantId, userId],
    );
  }

  exportSessions(m: EntityManager, tenantId: string, userId: string): Promise<Array<Record<string, any>>> {
    return m.query(
      `SELECT min(created_at) AS started_at, (array_agg(ip ORDER BY created_at DESC))[1] AS ip, (array_agg(user_agent ORDER BY created_at DESC))[1] AS user_agent
         FROM refresh_tokens WHERE tenant_id = $1 AND user_id = $2 GROUP BY family_id ORDER BY 1`,
      [tenantId, userId],
    );
  }

  async walletBalance(m: EntityManager, tenantId: string, userId: string): Promise<string> {
    const [row] = await m.query(
      `SELECT balance::text AS balance FROM ledger_accounts WHERE tenant_id = $1 AND kind = 'customer_wallet' AND customer_id = $2`,
      [tenantId, userId],
    );
    return row?.balance ?? '0.000000000';
  }
}
