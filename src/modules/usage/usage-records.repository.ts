import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';

/** One inference request as the metering pipeline records it (amounts are decimal strings). */
export interface UsageRecordInput {
  requestId: string;
  tenantId: string;
  customerId: string;
  apiKeyId?: string | null;
  channelId?: string | null;
  model: string;
  upstreamModel?: string | null;
  pool?: string;
  inputTokens: number | bigint;
  outputTokens: number | bigint;
  cacheReadTokens?: number | bigint;
  cacheWriteTokens?: number | bigint;
  /** What the customer pays (retail), NUMERIC(30,9) as a decimal string. */
  retailCharge: string;
  /** What the reseller owes the platform (wholesale). */
  wholesaleCost: string;
  /** What the upstream channel costs the platform. */
  upstreamCost: string;
  status: string;
  errorCode?: string | null;
  latencyMs: number;
  ttftMs?: number | null;
  stream: boolean;
  clientIp?: string | null;
  /** The time of the request as carried by the usage event: part of the idempotency key. */
  createdAt: Date | string;
}

export type UsageGroupBy = 'day' | 'model' | 'sales' | 'tenant' | 'key';

/** Narrowing filters of a usage query (within the caller's scope, never widening it). */
export interface UsageFilters {
  from: Date;
  to: Date;
  customerId?: string;
  tenantId?: string;
  keyId?: string;
  model?: string;
}

/** One request as the CSV export shows it. */
export interface UsageExportRow {
  created_at: Date;
  request_id: string;
  customer_id: string;
  api_key_id: string | null;
  key_name: string | null;
  model: string;
  input_tokens: string;
  output_tokens: string;
  cache_read_tokens: string;
  cache_write_tokens: string;
  retail_charge: string;
  status: string;
  latency_ms: number;
}

export interface UsageTotalsRow {
  key: string | null;
  requests: string;
  input_tokens: string;
  output_tokens: string;
  cache_read_tokens: string;
  cache_write_tokens: string;
  retail_charge: string;
  wholesale_cost: string;
  upstream_cost: string;
}

/** A boolean SQL condition over `ur` (usage_records) with TypeORM-style named parameters. */
export interface UsageScopeFilter {
  sql: string;
  params: Record<string, unknown>;
}

const TOTALS = `count(*)::text AS requests,
       coalesce(sum(ur.input_tokens), 0)::text AS input_tokens,
       coalesce(sum(ur.output_tokens), 0)::text AS output_tokens,
       coalesce(sum(ur.cache_read_tokens), 0)::text AS cache_read_tokens,
       coalesce(sum(ur.cache_write_tokens), 0)::text AS cache_write_tokens,
       coalesce(sum(ur.retail_charge), 0)::numeric(30, 9)::text AS retail_charge,
       coalesce(sum(ur.wholesale_cost), 0)::numeric(30, 9)::text AS wholesale_cost,
       coalesce(sum(ur.upstream_cost), 0)::numeric(30, 9)::text AS upstream_cost`;

/**
 * The salesperson a request is credited to: whoever held the customer when it happened (the
 * binding period containing its time), not whoever holds the customer now.
 */
const SALES_AT_REQUEST_TIME = `(SELECT hb.sales_user_id FROM customer_bindings hb
   WHERE hb.customer_id = ur.customer_id AND hb.bound_at <= ur.created_at
     AND (hb.unbound_at IS NULL OR hb.unbound_at > ur.created_at)
   ORDER BY hb.bound_at DESC LIMIT 1)`;

const GROUP_KEY: Record<UsageGroupBy, string> = {
  day: `to_char(date_trunc('day', ur.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`,
  model: 'ur.model',
  sales: `${SALES_AT_REQUEST_TIME}::text`,
  tenant: 'ur.tenant_id::text',
  key: 'ur.api_key_id::text',
};

/**
 * Usage records: one row per inference request, in monthly partitions. The metering pipeline
 * writes them with `insertMany`; summaries read them under the caller's scope (RLS) and a CASL
 * filter (SQL), so every aggregate covers exactly the rows the caller may see.
 */
@Injectable()
export class UsageRecordsRepository {
  /**
   * Inserts a batch in one statement and returns the request ids that were new. A redelivered
   * event (same request id and time) is skipped by the primary key, so replaying a batch changes
   * nothing and the caller can write ledger entries for the returned ids only.
   */
  async insertMany(manager: EntityManager, rows: readonly UsageRecordInput[]): Promise<string[]> {
    if (rows.length === 0) return [];
    const column = <T>(pick: (r: UsageRecordInput) => T) => rows.map(pick);
    const inserted: Array<{ request_id: string }> = await manager.query(
      `INSERT INTO usage_records (request_id, tenant_id, customer_id, api_key_id, channel_id, model, upstream_model, pool,
                                  input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                                  retail_charge, wholesale_cost, upstream_cost, status, error_code, latency_ms, ttft_ms,
                                  stream, client_ip, created_at)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[],
                            $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[],
                            $13::numeric[], $14::numeric[], $15::numeric[], $16::text[], $17::text[], $18::int[], $19::int[],
                            $20::boolean[], $21::inet[], $22::timestamptz[])
       ON CONFLICT (request_id, created_at) DO NOTHING
       RETURNING request_id`,
      [
        column((r) => r.requestId),
        column((r) => r.tenantId),
        column((r) => r.customerId),
        column((r) => r.apiKeyId ?? null),
        column((r) => r.channelId ?? null),
        column((r) => r.model),
        column((r) => r.upstreamModel ?? null),
        column((r) => r.pool ?? 'standard'),
        column((r) => String(r.inputTokens)),
        column((r) => String(r.outputTokens)),
        column((r) => String(r.cacheReadTokens ?? 0)),
        column((r) => String(r.cacheWriteTokens ?? 0)),
        column((r) => r.retailCharge),
        column((r) => r.wholesaleCost),
        column((r) => r.upstreamCost),
        column((r) => r.status),
        column((r) => r.errorCode ?? null),
        column((r) => r.latencyMs),
        column((r) => r.ttftMs ?? null),
        column((r) => r.stream),
        column((r) => r.clientIp ?? null),
        column((r) => (r.createdAt instanceof Date ? r.createdAt.toISOString() : r.createdAt)),
      ],
    );
    return inserted.map((r) => r.request_id);
  }

  /**
   * Creates the monthly partitions from the month of `from` through `months` months later
   * (idempotent; rows parked in the default partition move into their month). Needs the system
   * role: the worker's scheduler calls it ahead of time.
   */
  async ensurePartitions(manager: EntityManager, from: Date, months: number): Promise<number> {
    const [row] = await manager.query('SELECT usage_records_ensure_partitions($1, $2) AS created', [from.toISOString(), months]);
    return Number(row.created);
  }

  /**
   * Totals over [from, to) of the rows matching `scope` (and optionally one customer), overall and
   * grouped. Runs in the caller's tenant transaction, so RLS bounds it as well.
   */
  async summarize(
    manager: EntityManager,
    scope: UsageScopeFilter,
    range: UsageFilters,
    groupBy?: UsageGroupBy,
  ): Promise<{ totals: UsageTotalsRow; groups: UsageTotalsRow[] }> {
    const qb = () => this.filtered(manager, scope, range);
    const [totalsSql, totalsParams] = qb().select('1').getQueryAndParameters();
    const totals: UsageTotalsRow[] = await manager.query(
      `SELECT NULL::text AS key, ${TOTALS} ${totalsSql.slice(totalsSql.indexOf('FROM'))}`,
      totalsParams,
    );
    if (!groupBy) return { totals: totals[0], groups: [] };
    const [groupSql, groupParams] = qb().select('1').getQueryAndParameters();
    const key = GROUP_KEY[groupBy];
    const groups: UsageTotalsRow[] = await manager.query(
      `SELECT ${key} AS key, ${TOTALS} ${groupSql.slice(groupSql.indexOf('FROM'))} GROUP BY 1 ORDER BY 1 NULLS LAST LIMIT 1000`,
      groupParams,
    );
    return { totals: totals[0], groups };
  }

  /** Requests in scope and range, oldest first, at most `limit` (the caller asks one more to tell truncation). */
  async exportRows(manager: EntityManager, scope: UsageScopeFilter, range: UsageFilters, limit: number): Promise<UsageExportRow[]> {
    const [sql, params] = this.filtered(manager, scope, range).select('1').getQueryAndParameters();
    return manager.query(
      `SELECT ur.created_at, ur.request_id, ur.customer_id, ur.api_key_id,
              (SELECT k.name FROM api_keys k WHERE k.id = ur.api_key_id AND k.tenant_id = ur.tenant_id) AS key_name, ur.model,
              ur.input_tokens::text AS input_tokens, ur.output_tokens::text AS output_tokens,
              ur.cache_read_tokens::text AS cache_read_tokens, ur.cache_write_tokens::text AS cache_write_tokens,
              ur.retail_charge::numeric(30, 9)::text AS retail_charge, ur.status, ur.latency_ms
         ${sql.slice(sql.indexOf('FROM'))}
        ORDER BY ur.created_at, ur.request_id LIMIT ${Math.trunc(limit)}`,
      params,
    );
  }

  private filtered(manager: EntityManager, scope: UsageScopeFilter, range: UsageFilters) {
    const q = manager
      .createQueryBuilder()
      .from('usage_records', 'ur')
      .where(scope.sql, scope.params)
      .andWhere('ur.created_at >= :from AND ur.created_at < :to', { from: range.from.toISOString(), to: range.to.toISOString() });
    if (range.customerId) q.andWhere('ur.customer_id = :customerId', { customerId: range.customerId });
    if (range.tenantId) q.andWhere('ur.tenant_id = :tenantId', { tenantId: range.tenantId });
    if (range.keyId) q.andWhere('ur.api_key_id = :keyId', { keyId: range.keyId });
    if (range.model) q.andWhere('ur.model = :model', { model: range.model });
    return q;
  }
}
