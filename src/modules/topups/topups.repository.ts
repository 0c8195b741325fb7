import { Injectable } from '@nestjs/common';
import { abilityToSql, AppAbility, currentSalesUserSql } from '@app/authorization';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { returnedRows } from '../../common/sql';
import { TOPUP } from './topups.permissions';

export type TopupStatus = 'pending' | 'paid' | 'failed' | 'expired' | 'refunded';
export type TopupProvider = 'stripe' | 'epay';

/** The stored settings, secrets still sealed. */
export interface PaymentSettingsRow {
  tenantId: string;
  stripeEnabled: boolean;
  stripeSecretKeyCiphertext: string | null;
  stripeSecretKeyLast4: string | null;
  stripeWebhookSecretCiphertext: string | null;
  stripeCurrency: string;
  epayEnabled: boolean;
  epayMerchantId: string | null;
  epayKeyCiphertext: string | null;
  epayGatewayUrl: string | null;
  minAmount: string;
  maxAmount: string;
  updatedAt: string | null;
}

export interface TopupRow {
  id: string;
  tenantId: string;
  customerId: string;
  amount: string;
  currency: string;
  provider: TopupProvider;
  method: string | null;
  status: TopupStatus;
  providerReference: string | null;
  providerPaymentId: string | null;
  payUrl: string | null;
  refundedAmount: string;
  createdAt: string;
  paidAt: string | null;
  expiresAt: string;
  salesUserId: string | null;
}

export interface RedemptionCodeRow {
  id: string;
  batchId: string;
  codeHint: string;
  amount: string;
  expiresAt: string | null;
  disabledAt: string | null;
  redeemedBy: string | null;
  redeemedAt: string | null;
  createdAt: string;
}

const DEFAULT_SETTINGS = (tenantId: string): PaymentSettingsRow => ({
  tenantId,
  stripeEnabled: false,
  stripeSecretKeyCiphertext: null,
  stripeSecretKeyLast4: null,
  stripeWebhookSecretCiphertext: null,
  stripeCurrency: 'usd',
  epayEnabled: false,
  epayMerchantId: null,
  epayKeyCiphertext: null,
  epayGatewayUrl: null,
  minAmount: '1.000000000',
  maxAmount: '10000.000000000',
  updatedAt: null,
});

const TOPUP_COLUMNS = { tenantId: 't.tenant_id', customerId: 't.customer_id', salesUserId: currentSalesUserSql('t.customer_id') } as const;
const SELECT_TOPUP = `SELECT t.id, t.tenant_id, t.customer_id, t.amount::text AS amount, t.currency, t.provider, t.method, t.status,
         t.provider_reference, t.provider_payment_id, t.pay_url, t.refunded_amount::text AS refunded_amount,
         t.created_at, t.paid_at, t.expires_at, ${currentSalesUserSql('t.customer_id')} AS sales_user_id
    FROM topups t`;
const SELECT_CODE = `SELECT id, batch_id, code_hint, amount::text AS amount, expires_at, disabled_at, redeemed_by, redeemed_at, created_at FROM redemption_codes`;

/** SQL of top-ups, payment settings and prepaid codes. Callers pass their tenant transaction's manager. */
@Injectable()
export class TopupsRepository {
  async settings(m: EntityManager, tenantId: string): Promise<PaymentSettingsRow> {
    const [row] = await m.query(
      `SELECT tenant_id, stripe_enabled, stripe_secret_key_ciphertext, stripe_secret_key_last4, stripe_webhook_secret_ciphertext,
              stripe_currency, epay_enabled, epay_merchant_id, epay_key_ciphertext, epay_gateway_url,
              min_amount::text AS min_amount, max_amount::text AS max_amount, updated_at
         FROM payment_settings WHERE tenant_id = $1`,
      [tenantId],
    );
    if (!row) return DEFAULT_SETTINGS(tenantId);
    return {
      tenantId: row.tenant_id,
      stripeEnabled: row.stripe_enabled,
      stripeSecretKeyCiphertext: row.stripe_secret_key_ciphertext,
      stripeSecretKeyLast4: row.stripe_secret_key_last4,
      stripeWebhookSecretCiphertext: row.stripe_webhook_secret_ciphertext,
      stripeCurrency: row.stripe_currency,
      epayEnabled: row.epay_enabled,
      epayMerchantId: row.epay_merchant_id,
      epayKeyCiphertext: row.epay_key_ciphertext,
      epayGatewayUrl: row.epay_gateway_url,
      minAmount: row.min_amount,
      maxAmount: row.max_amount,
      updatedAt: iso(row.updated_at),
    };
  }

  async saveSettings(m: EntityManager, s: PaymentSettingsRow, updatedBy: string): Promise<void> {
    await m.query(
      `INSERT INTO payment_settings (tenant_id, stripe_enabled, stripe_secret_key_ciphertext, stripe_secret_key_last4, stripe_webhook_secret_ciphertext,
              stripe_currency, epay_enabled, epay_merchant_id, epay_key_ciphertext, epay_gateway_url, min_amount, max_amount, updated_by, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())
       ON CONFLICT (tenant_id) DO UPDATE SET
         stripe_enabled = EXCLUDED.stripe_enabled, stripe_secret_key_ciphertext = EXCLUDED.stripe_secret_key_ciphertext,
         stripe_secret_key_last4 = EXCLUDED.stripe_secret_key_last4, stripe_webhook_secret_ciphertext = EXCLUDED.stripe_webhook_secret_ciphertext,
         stripe_currency = EXCLUDED.stripe_currency, epay_enabled = EXCLUDED.epay_enabled, epay_merchant_id = EXCLUDED.epay_merchant_id,
         epay_key_ciphertext = EXCLUDED.epay_key_ciphertext, epay_gateway_url = EXCLUDED.epay_gateway_url,
         min_amount = EXCLUDED.min_amount, max_amount = EXCLUDED.max_amount, updated_by = EXCLUDED.updated_by, updated_at = now()`,
      [
        s.tenantId,
        s.stripeEnabled,
        s.stripeSecretKeyCiphertext,
        s.stripeSecretKeyLast4,
        s.stripeWebhookSecretCiphertext,
        s.stripeCurrency,
        s.epayEnabled,
        s.epayMerchantId,
        s.epayKeyCiphertext,
        s.epayGatewayUrl,
        s.minAmount,
        s.maxAmount,
        updatedBy,
      ],
    );
  }

  /** The tenant's primary domain, for the links given to the providers (return and notify URLs). */
  async primaryDomain(m: EntityManager, tenantId: string): Promise<string | null> {
    const [row] = await m.query(`SELECT domain FROM tenant_domains WHERE tenant_id = $1 AND status = 'verified' ORDER BY is_primary DESC, created_at ASC LIMIT 1`, [tenantId]);
    return row?.domain ?? null;
  }

  /** A customer (role `user`) of the tenant with their e-mail, or null. */
  async customer(m: EntityManager, tenantId: string, customerId: string): Promise<{ id: string; email: string } | null> {
    const [row] = await m.query(
      `SELECT u.id, u.email FROM users u
        WHERE u.tenant_id = $1 AND u.id = $2
          AND EXISTS (SELECT 1 FROM user_roles r WHERE r.tenant_id = u.tenant_id AND r.user_id = u.id AND r.role = 'user')`,
      [tenantId, customerId],
    );
    return row ? { id: row.id, email: row.email } : null;
  }

  async insertTopup(
    m: EntityManager,
    t: { id: string; tenantId: string; customerId: string; amount: string; currency: string; provider: TopupProvider; method: string | null; ttlMinutes: number },
  ): Promise<void> {
    await m.query(
      `INSERT INTO topups (id, tenant_id, customer_id, amount, currency, provider, method, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(mins => $8))`,
      [t.id, t.tenantId, t.customerId, t.amount, t.currency, t.provider, t.method, t.ttlMinutes],
    );
    await this.addEvent(m, t.tenantId, t.id, null, 'pending', null);
  }

  async setCheckout(m: EntityManager, id: string, providerReference: string | null, payUrl: string): Promise<void> {
    await m.query(`UPDATE topups SET provider_reference = $2, pay_url = $3, updated_at = now() WHERE id = $1`, [id, providerReference, payUrl]);
  }

  async find(m: EntityManager, id: string): Promise<TopupRow | null> {
    const [row] = await m.query(`${SELECT_TOPUP} WHERE t.id = $1`, [id]);
    return row ? toTopup(row) : null;
  }

  /** The order, locked until the end of the transaction: notifications for it are handled one at a time. */
  async lock(m: EntityManager, id: string): Promise<TopupRow | null> {
    const [row] = await m.query(`${SELECT_TOPUP} WHERE t.id = $1 FOR UPDATE OF t`, [id]);
    return row ? toTopup(row) : null;
  }

  async findByPaymentId(m: EntityManager, tenantId: string, provider: TopupProvider, paymentId: string): Promise<TopupRow | null> {
    const [row] = await m.query(`${SELECT_TOPUP} WHERE t.tenant_id = $1 AND t.provider = $2 AND t.provider_payment_id = $3`, [
      tenantId,
      provider,
      paymentId,
    ]);
    return row ? toTopup(row) : null;
  }

  /** Moves the order from `from` to `to` (the WHERE makes it happen at most once) and appends the history. */
  async transition(
    m: EntityManager,
    order: Pick<TopupRow, 'id' | 'tenantId'>,
    from: TopupStatus,
    to: TopupStatus,
    reason: string | null,
    set: { providerReference?: string; providerPaymentId?: string | null; refundedAmount?: string } = {},
  ): Promise<boolean> {
    const result = await m.query(
      `UPDATE topups SET status = $3,
              paid_at = CASE WHEN $3 = 'paid' AND paid_at IS NULL THEN now() ELSE paid_at END,
              provider_reference = coalesce($4, provider_reference),
              provider_payment_id = coalesce($5, provider_payment_id),
              refunded_amount = coalesce($6::numeric, refunded_amount),
              updated_at = now()
        WHERE id = $1 AND status = $2 RETURNING id`,
      [order.id, from, to, set.providerReference ?? null, set.providerPaymentId ?? null, set.refundedAmount ?? null],
    );
    if (returnedRows(result).length === 0) return false;
    await this.addEvent(m, order.tenantId, order.id, from, to, reason);
    return true;
  }

  async addEvent(m: EntityManager, tenantId: string, topupId: string, from: TopupStatus | null, to: TopupStatus, reason: string | null): Promise<void> {
    await m.query(`INSERT INTO topup_events (id, tenant_id, topup_id, from_status, to_status, reason) VALUES ($1, $2, $3, $4, $5, $6)`, [
      uuidv7(),
      tenantId,
      topupId,
      from,
      to,
      reason,
    ]);
  }

  async history(m: EntityManager, topupId: string): Promise<Array<{ from: string | null; to: string; reason: string | null; at: string }>> {
    const rows = await m.query(`SELECT from_status, to_status, reason, created_at FROM topup_events WHERE topup_id = $1 ORDER BY created_at, id`, [topupId]);
    return rows.map((r: any) => ({ from: r.from_status, to: r.to_status, reason: r.reason, at: iso(r.created_at)! }));
  }

  /** The orders the caller may read (CASL rules as SQL; RLS is the second layer), newest first. */
  async list(
    m: EntityManager,
    ability: AppAbility,
    filter: { customerId?: string; status?: TopupStatus },
    offset: number,
    limit: number,
  ): Promise<[TopupRow[], number]> {
    const allowed = abilityToSql(ability, 'read', TOPUP, TOPUP_COLUMNS);
    if (!allowed) return [[], 0];
    const filters = [allowed.sql];
    const params: Record<string, unknown> = { ...allowed.params, limit, offset, customerId: filter.customerId, status: filter.status };
    if (filter.customerId) filters.push('t.customer_id = :customerId');
    if (filter.status) filters.push('t.status = :status');
    const where = filters.join(' AND ');
    const [{ total }] = await this.query(m, `SELECT count(*)::int AS total FROM topups t WHERE ${where}`, params);
    const rows = await this.query(m, `${SELECT_TOPUP} WHERE ${where} ORDER BY t.created_at DESC, t.id DESC LIMIT :limit OFFSET :offset`, params);
    return [rows.map(toTopup), total];
  }

  async insertCodes(
    m: EntityManager,
    codes: Array<{ id: string; hash: Buffer; hint: string }>,
    batch: { tenantId: string; batchId: string; amount: string; expiresAt: string | null; createdBy: string },
  ): Promise<void> {
    await m.query(
      `INSERT INTO redemption_codes (id, tenant_id, batch_id, code_hash, code_hint, amount, expires_at, created_by)
       SELECT c.id, $1, $2, c.hash, c.hint, $3, $4, $5 FROM unnest($6::uuid[], $7::bytea[], $8::text[]) AS c(id, hash, hint)`,
      [batch.tenantId, batch.batchId, batch.amount, batch.expiresAt, batch.createdBy, codes.map((c) => c.id), codes.map((c) => c.hash), codes.map((c) => c.hint)],
    );
  }

  async findCodeByHash(m: EntityManager, tenantId: string, hash: Buffer): Promise<RedemptionCodeRow | null> {
    const [row] = await m.query(`${SELECT_CODE} WHERE tenant_id = $1 AND code_hash = $2`, [tenantId, hash]);
    return row ? toCode(row) : null;
  }

  /**
   * Marks the code redeemed by the customer if it still can be: one conditional UPDATE, so of any
   * number of concurrent redemptions exactly one gets the row back.
   */
  async claimCode(m: EntityManager, id: string, customerId: string): Promise<RedemptionCodeRow | null> {
    const result = await m.query(
      `UPDATE redemption_codes SET redeemed_by = $2, redeemed_at = now()
        WHERE id = $1 AND redeemed_at IS NULL AND disabled_at IS NULL AND (expires_at IS NULL OR expires_at > now())
        RETURNING id, batch_id, code_hint, amount::text AS amount, expires_at, disabled_at, redeemed_by, redeemed_at, created_at`,
      [id, customerId],
    );
    const [row] = returnedRows<Record<string, unknown>>(result);
    return row ? toCode(row) : null;
  }

  async disableCode(m: EntityManager, tenantId: string, id: string, by: string): Promise<RedemptionCodeRow | null> {
    await m.query(`UPDATE redemption_codes SET disabled_at = now(), disabled_by = $3 WHERE tenant_id = $1 AND id = $2 AND disabled_at IS NULL`, [tenantId, id, by]);
    const [row] = await m.query(`${SELECT_CODE} WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
    return row ? toCode(row) : null;
  }

  async listCodes(
    m: EntityManager,
    tenantId: string,
    filter: { batchId?: string; status?: 'active' | 'redeemed' | 'disabled' | 'expired' },
    offset: number,
    limit: number,
  ): Promise<[RedemptionCodeRow[], number]> {
    const where = [`tenant_id = $1`, `($2::uuid IS NULL OR batch_id = $2)`];
    const status = {
      active: `redeemed_at IS NULL AND disabled_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
      redeemed: `redeemed_at IS NOT NULL`,
      disabled: `disabled_at IS NOT NULL AND redeemed_at IS NULL`,
      expired: `redeemed_at IS NULL AND disabled_at IS NULL AND expires_at <= now()`,
    };
    if (filter.status) where.push(status[filter.status]);
    const params = [tenantId, filter.batchId ?? null];
    const [{ total }] = await m.query(`SELECT count(*)::int AS total FROM redemption_codes WHERE ${where.join(' AND ')}`, params);
    const rows = await m.query(`${SELECT_CODE} WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4`, [...params, limit, offset]);
    return [rows.map(toCode), total];
  }

  private query(m: EntityManager, sql: string, params: Record<string, unknown>): Promise<any[]> {
    const [text, values] = m.connection.driver.escapeQueryWithParameters(sql, params, {});
    return m.query(text, values);
  }
}

function iso(value: Date | string | null): string | null {
  return value === null || value === undefined ? null : new Date(value).toISOString();
}

function toTopup(row: Record<string, any>): TopupRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    customerId: row.customer_id,
    amount: row.amount,
    currency: row.currency,
    provider: row.provider,
    method: row.method,
    status: row.status,
    providerReference: row.provider_reference,
    providerPaymentId: row.provider_payment_id,
    payUrl: row.pay_url,
    refundedAmount: row.refunded_amount,
    createdAt: iso(row.created_at)!,
    paidAt: iso(row.paid_at),
    expiresAt: iso(row.expires_at)!,
    salesUserId: row.sales_user_id,
  };
}

function toCode(row: Record<string, any>): RedemptionCodeRow {
  return {
    id: row.id,
    batchId: row.batch_id,
    codeHint: row.code_hint,
    amount: row.amount,
    expiresAt: iso(row.expires_at),
    disabledAt: iso(row.disabled_at),
    redeemedBy: row.redeemed_by,
    redeemedAt: iso(row.redeemed_at),
    createdAt: iso(row.created_at)!,
  };
}
