import { Injectable } from '@nestjs/common';
import { ModelMapping, ProviderType, UpstreamSettings } from '@app/providers';
import { EntityManager } from 'typeorm';
import { returnedRows } from '../../common/sql';

export interface ChannelRow {
  id: string;
  name: string;
  provider: ProviderType;
  baseUrl: string;
  models: ModelMapping[];
  priority: number;
  weight: number;
  pool: 'standard' | 'spot';
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  totalTimeoutMs: number;
  retryBudget: number;
  /** Non-secret provider settings (api-version, region, project and location, preset). */
  settings: UpstreamSettings;
  status: 'enabled' | 'disabled' | 'auto_disabled' | 'quota_exhausted';
  statusReason: string | null;
  statusChangedAt: Date | null;
  checkFailures: number;
  lastCheckAt: Date | null;
  lastCheckLatencyMs: number | null;
  lastCheckError: string | null;
  rpmLimit: number | null;
  tpmLimit: number | null;
  /** Nano-units (bigint as text). */
  dailySpendCapUnits: string | null;
  /** The upstream account's balance as it reported it (decimal text, its own currency). */
  balance: string | null;
  balanceCurrency: string | null;
  balanceCheckedAt: Date | null;
  balanceError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ChannelKeyRow {
  id: string;
  channelId: string;
  position: number;
  ciphertext: string;
  last4: string;
  status: 'active' | 'disabled';
  disabledReason: string | null;
  disabledAt: Date | null;
}

export interface ChannelCostRow {
  channelId: string;
  model: string;
  inputPerMillion: string;
  outputPerMillion: string;
  cachedInputPerMillion: string;
}

export type ChannelSettings = Pick<
  ChannelRow,
  'name' | 'provider' | 'baseUrl' | 'models' | 'priority' | 'weight' | 'pool' | 'connectTimeoutMs' | 'firstByteTimeoutMs' | 'totalTimeoutMs' | 'retryBudget'
> & { settings?: UpstreamSettings; rpmLimit?: number | null; tpmLimit?: number | null; dailySpendCapUnits?: string | null };

const CHANNEL_COLUMNS = `
  id, name, provider, base_url AS "baseUrl", models, priority, weight, pool,
  connect_timeout_ms AS "connectTimeoutMs", first_byte_timeout_ms AS "firstByteTimeoutMs",
  total_timeout_ms AS "totalTimeoutMs", retry_budget AS "retryBudget", settings, status,
  status_reason AS "statusReason", status_changed_at AS "statusChangedAt", check_failures AS "checkFailures",
  last_check_at AS "lastCheckAt", last_check_latency_ms AS "lastCheckLatencyMs", last_check_error AS "lastCheckError",
  rpm_limit AS "rpmLimit", tpm_limit AS "tpmLimit", daily_spend_cap_units::text AS "dailySpendCapUnits",
  balance::text AS balance, balance_currency AS "balanceCurrency", balance_checked_at AS "balanceCheckedAt", balance_error AS "balanceError",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

const KEY_COLUMNS = `id, channel_id AS "channelId", position, ciphertext, last4, status, disabled_reason AS "disabledReason", disabled_at AS "disabledAt"`;

const SETTING_COLUMNS: Record<keyof ChannelSettings, string> = {
  name: 'name',
  provider: 'provider',
  baseUrl: 'base_url',
  models: 'models',
  priority: 'priority',
  weight: 'weight',
  pool: 'pool',
  connectTimeoutMs: 'connect_timeout_ms',
  firstByteTimeoutMs: 'first_byte_timeout_ms',
  totalTimeoutMs: 'total_timeout_ms',
  retryBudget: 'retry_budget',
  settings: 'settings',
  rpmLimit: 'rpm_limit',
  tpmLimit: 'tpm_limit',
  dailySpendCapUnits: 'daily_spend_cap_units',
};

const JSON_COLUMNS: ReadonlySet<string> = new Set(['models', 'settings']);

/** The routing table as `tenancy.channel_routing_table()` returns it (keys still encrypted). */
export interface RoutingRow {
  id: string;
  name: string;
  provider: ProviderType;
  base_url: string;
  models: ModelMapping[];
  priority: number;
  weight: number;
  pool: 'standard' | 'spot';
  connect_timeout_ms: number;
  first_byte_timeout_ms: number;
  total_timeout_ms: number;
  retry_budget: number;
  status: 'enabled' | 'disabled' | 'auto_disabled' | 'quota_exhausted';
  updated_at: Date;
  keys: Array<{ id: string; ciphertext: string; last4: string; status: 'active' | 'disabled' }>;
  /** Upstream cost per million tokens by model (decimal strings). */
  costs: Record<string, { input: string; output: string; cachedInput: string }>;
  settings: UpstreamSettings;
  rpm_limit: number | null;
  tpm_limit: number | null;
  /** Nano-units as text. */
  daily_spend_cap_units: string | null;
}

/**
 * SQL of channels, their keys and costs. The manager decides who reads: a platform-wide scope
 * (admin API), the system role (worker, cli); the api's router reads only through
 * `routingTable`, a definer function.
 */
@Injectable()
export class ChannelsRepository {
  async list(m: EntityManager, filter: { status?: string; provider?: string; q?: string; model?: string }, offset: number, limit: number): Promise<[ChannelRow[], number]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const like = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    if (filter.status) where.push(`status = $${params.push(filter.status)}`);
    if (filter.provider) where.push(`provider = $${params.push(filter.provider)}`);
    if (filter.q) {
      const n = params.push(like(filter.q));
      where.push(`(name ILIKE $${n} OR base_url ILIKE $${n} OR EXISTS (SELECT 1 FROM jsonb_array_elements(models) e WHERE e->>'public' ILIKE $${n} OR e->>'upstream' ILIKE $${n}))`);
    }
    // A model: a mapping whose public or upstream name holds the text (wildcard mappings by their pattern).
    if (filter.model) {
      where.push(
        `EXISTS (SELECT 1 FROM jsonb_array_elements(models) e WHERE e->>'public' ILIKE $${params.push(like(filter.model))} OR e->>'upstream' ILIKE $${params.length})`,
      );
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const rows: ChannelRow[] = await m.query(
      `SELECT ${CHANNEL_COLUMNS} FROM channels ${clause} ORDER BY priority DESC, lower(name) LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, limit, offset],
    );
    const [{ total }] = await m.query(`SELECT count(*)::int AS total FROM channels ${clause}`, params);
    return [rows, total];
  }

  async all(m: EntityManager): Promise<ChannelRow[]> {
    return m.query(`SELECT ${CHANNEL_COLUMNS} FROM channels ORDER BY id`);
  }

  async findById(m: EntityManager, id: string, options: { lock?: boolean } = {}): Promise<ChannelRow | null> {
    const rows: ChannelRow[] = await m.query(`SELECT ${CHANNEL_COLUMNS} FROM channels WHERE id = $1 ${options.lock ? 'FOR UPDATE' : ''}`, [id]);
    return rows[0] ?? null;
  }

  async nameTaken(m: EntityManager, name: string, exceptId?: string): Promise<boolean> {
    const rows = await m.query(`SELECT 1 FROM channels WHERE lower(name) = lower($1) AND id IS DISTINCT FROM $2::uuid`, [name, exceptId ?? null]);
    return rows.length > 0;
  }

  async insert(m: EntityManager, id: string, settings: ChannelSettings): Promise<void> {
    const columns = Object.keys(SETTING_COLUMNS) as Array<keyof ChannelSettings>;
    await m.query(
      `INSERT INTO channels (id, ${columns.map((c) => SETTING_COLUMNS[c]).join(', ')})
       VALUES ($1, ${columns.map((_, i) => `$${i + 2}`).join(', ')})`,
      [id, ...columns.map((c) => (JSON_COLUMNS.has(c) ? JSON.stringify(settings[c] ?? (c === 'settings' ? {} : [])) : settings[c]))],
    );
  }

  async update(m: EntityManager, id: string, changes: Partial<ChannelSettings>): Promise<void> {
    const entries = Object.entries(changes).filter(([, v]) => v !== undefined) as Array<[keyof ChannelSettings, unknown]>;
    const sets = entries.map(([column], i) => `${SETTING_COLUMNS[column]} = $${i + 2}`);
    await m.query(`UPDATE channels SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE id = $1`, [
      id,
      ...entries.map(([c, v]) => (JSON_COLUMNS.has(c) ? JSON.stringify(v) : v)),
    ]);
  }

  async setStatus(m: EntityManager, id: string, status: ChannelRow['status'], reason: string | null): Promise<void> {
    await m.query(
      `UPDATE channels SET status = $2, status_reason = $3, status_changed_at = now(), updated_at = now(),
              check_failures = CASE WHEN $2 = 'enabled' THEN 0 ELSE check_failures END
        WHERE id = $1`,
      [id, status, reason],
    );
  }

  async setBalance(m: EntityManager, id: string, balance: { amount: string; currency: string } | null, error: string | null): Promise<void> {
    await m.query(
      `UPDATE channels SET balance = coalesce($2::numeric, balance), balance_currency = coalesce($3, balance_currency),
              balance_checked_at = now(), balance_error = $4
        WHERE id = $1`,
      [id, balance?.amount ?? null, balance?.currency ?? null, error],
    );
  }

  async recordCheck(m: EntityManager, id: string, check: { ok: boolean; latencyMs: number; error: string | null }): Promise<number> {
    const rows = returnedRows<{ failures: number }>(
      await m.query(
        `UPDATE channels SET last_check_at = now(), last_check_latency_ms = $2, last_check_error = $3,
                check_failures = CASE WHEN $4 THEN 0 ELSE check_failures + 1 END
          WHERE id = $1 RETURNING check_failures AS failures`,
        [id, check.latencyMs, check.error, check.ok],
      ),
    );
    return rows[0]?.failures ?? 0;
  }

  async delete(m: EntityManager, id: string): Promise<void> {
    await m.query(`DELETE FROM channels WHERE id = $1`, [id]);
  }

  async keysOf(m: EntityManager, channelIds: string[]): Promise<ChannelKeyRow[]> {
    if (!channelIds.length) return [];
    return m.query(`SELECT ${KEY_COLUMNS} FROM channel_keys WHERE channel_id = ANY($1::uuid[]) ORDER BY channel_id, position`, [channelIds]);
  }

  async allKeys(m: EntityManager): Promise<ChannelKeyRow[]> {
    return m.query(`SELECT ${KEY_COLUMNS} FROM channel_keys ORDER BY channel_id, position`);
  }

  async addKey(m: EntityManager, key: { id: string; channelId: string; ciphertext: string; last4: string }): Promise<void> {
    await m.query(
      `INSERT INTO channel_keys (id, channel_id, position, ciphertext, last4)
       VALUES ($1, $2, (SELECT coalesce(max(position), -1) + 1 FROM channel_keys WHERE channel_id = $2), $3, $4)`,
      [key.id, key.channelId, key.ciphertext, key.last4],
    );
  }

  async removeKey(m: EntityManager, channelId: string, keyId: string): Promise<void> {
    await m.query(`DELETE FROM channel_keys WHERE channel_id = $1 AND id = $2`, [channelId, keyId]);
  }

  async setKeyStatus(m: EntityManager, channelId: string, keyId: string, status: 'active' | 'disabled', reason: string | null): Promise<boolean> {
    const rows = returnedRows(
      await m.query(
        `UPDATE channel_keys SET status = $3, disabled_reason = $4, disabled_at = CASE WHEN $3 = 'disabled' THEN now() END
          WHERE channel_id = $1 AND id = $2 AND status <> $3 RETURNING id`,
        [channelId, keyId, status, reason],
      ),
    );
    if (rows.length) await m.query(`UPDATE channels SET updated_at = now() WHERE id = $1`, [channelId]);
    return rows.length > 0;
  }

  async setCiphertext(m: EntityManager, keyId: string, ciphertext: string): Promise<void> {
    await m.query(`UPDATE channel_keys SET ciphertext = $2 WHERE id = $1`, [keyId, ciphertext]);
  }

  async costsOf(m: EntityManager, channelIds: string[]): Promise<ChannelCostRow[]> {
    if (!channelIds.length) return [];
    return m.query(
      `SELECT channel_id AS "channelId", model, input_per_million::text AS "inputPerMillion",
              output_per_million::text AS "outputPerMillion", cached_input_per_million::text AS "cachedInputPerMillion"
         FROM channel_model_costs WHERE channel_id = ANY($1::uuid[]) ORDER BY channel_id, model`,
      [channelIds],
    );
  }

  async replaceCosts(m: EntityManager, channelId: string, costs: Array<Omit<ChannelCostRow, 'channelId'>>): Promise<void> {
    await m.query(`DELETE FROM channel_model_costs WHERE channel_id = $1`, [channelId]);
    for (const cost of costs) {
      await m.query(
        `INSERT INTO channel_model_costs (channel_id, model, input_per_million, output_per_million, cached_input_per_million)
         VALUES ($1, $2, $3, $4, $5)`,
        [channelId, cost.model, cost.inputPerMillion, cost.outputPerMillion, cost.cachedInputPerMillion],
      );
    }
  }

  async routingTable(m: EntityManager): Promise<RoutingRow[]> {
    return m.query(`SELECT * FROM tenancy.channel_routing_table()`);
  }

  /** An audit entry of a change the system made (no actor), in the platform tenant. */
  async insertSystemAudit(m: EntityManager, entry: { id: string; tenantId: string; action: string; subjectType: string; subjectId: string; changes: unknown }): Promise<void> {
    await m.query(
      `INSERT INTO audit_log (id, tenant_id, actor_user_id, actor_tenant_id, action, subject_type, subject_id, changes)
       VALUES ($1, $2, NULL, NULL, $3, $4, $5, $6)`,
      [entry.id, entry.tenantId, entry.action, entry.subjectType, entry.subjectId, JSON.stringify(entry.changes)],
    );
  }

  /** The platform tenant (where the audit entries of system changes to channels go). */
  async platformTenantId(m: EntityManager): Promise<string | null> {
    const rows = await m.query(`SELECT id FROM tenants WHERE type = 'platform' ORDER BY created_at LIMIT 1`);
    return rows[0]?.id ?? null;
  }
}
