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
  /** The answer's `x-request-id`. */
  httpRequestId?: string | null;
  /** The time of the request as carried by the usage event: part of the idempotency key. */
  createdAt: Date | string;
}

export type UsageGroupBy = 'day' | 'hour' | 'model' | 'sales' | 'tenant' | 'key' | 'customer' | 'channel';

/** Narrowing filters of a usage query (within the caller's scope, never widening it). */
export interface UsageFilters {
  from: Date;
  to: Date;
  customerId?: string;
  tenantId?: string;
  keyId?: string;
  model?: string;
  /** `ok`, `client_cancelled`, `upstream_error`, `timeout` or `error`. */
  status?: string;
  /** The answer's `x-request-id`. */
  httpRequestId?: string;
}

/** Keyset position in the newest-first order of records: the last row of the previous page. */
export interface UsageCursor {
  /** created_at as PostgreSQL printed it (microseconds kept; a JS Date would drop them). */
  at: string;
  requestId: string;
}

/** One request as the records list shows it. */
export interface UsageListRow extends UsageRecordRow {
  upstream_model: string | null;
  channel_id: string | null;
  channel_name: string | null;
  key_prefix: string | null;
  key_name: string | null;
  client_ip: string | null;
  cursor_at: string;
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

/** One usage record as support looks it up. */
export interface UsageRecordRow {
  request_id: string;
  http_request_id: string;
  tenant_id: string;
  customer_id: string;
  api_key_id: string | null;
  model: string;
  status: string;
  error_code: string | null;
  stream: boolean;
  input_tokens: string;
  output_tokens: string;
  cache_read_tokens: string;
  cache_write_tokens: string;
  unit: string;
  quantity: string;
  retail_charge: string;
  wholesale_cost: string;
  upstream_cost: string;
  latency_ms: number;
  ttft_ms: number | null;
  created_at: Date;
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
export const SALES_AT_REQUEST_TIME = `(SELECT hb.sales_user_id FROM customer_bindings hb
   WHERE hb.customer_id = ur.customer_id AND hb.bound_at <= ur.created_at
     AND (hb.unbound_at IS NULL OR hb.unbound_at > ur.created_at)
   ORDER BY hb.bound_at DESC LIMIT 1)`;

const GROUP_KEY: Record<UsageGroupBy, string> = {
  day: `to_char(date_trunc('day', ur.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`,
  hour: `to_char(date_trunc('hour', ur.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:00:00"Z"')`,
  customer: 'ur.customer_id::text',
  channel: 'ur.channel_id::text',
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
                                  stream, client_ip, created_at, http_request_id)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[],
                            $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[],
                            $13::numeric[], $14::numeric[], $15::numeric[], $16::text[], $17::text[], $18::int[], $19::int[],
                            $20::boolean[], $21::inet[], $22::timestamptz[], $23::text[])
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
        column((r) => r.httpRequestId ?? null),
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
   * The records whose answer carried `httpRequestId` (x-request-id), among the rows matching
   * `scope` (and optionally one tenant), newest first. Runs in the caller's tenant transaction.
   */
  async findByHttpRequestId(manager: EntityManager, scope: UsageScopeFilter, httpRequestId: string, tenantId?: string): Promise<UsageRecordRow[]> {
    const q = manager
      .createQueryBuilder()
      .from('usage_records', 'ur')
      .where(scope.sql, scope.params)
      .andWhere('ur.http_request_id = :httpRequestId', { httpRequestId });
    if (tenantId) q.andWhere('ur.tenant_id = :tenantId', { tenantId });
    const [sql, params] = q.select('1').getQueryAndParameters();
    return manager.query(
      `SELECT ur.request_id, ur.http_request_id, ur.tenant_id, ur.customer_id, ur.api_key_id, ur.model, ur.status, ur.error_code, ur.stream,
              ur.input_tokens::text, ur.output_tokens::text, ur.cache_read_tokens::text, ur.cache_write_tokens::text, ur.unit, ur.quantity::text,
              ur.retail_charge::text, ur.wholesale_cost::text, ur.upstream_cost::text, ur.latency_ms, ur.ttft_ms, ur.created_at
         ${sql.slice(sql.indexOf('FROM'))} ORDER BY ur.created_at DESC LIMIT 100`,
      params,
    );
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

  /**
   * One page of records, newest first, by keyset (created_at, request_id): a page never repeats
   * or skips a row that existed when paging began, whichever monthly partitions the pages span,
   * and a row written meanwhile appears only if it sorts after the cursor (a late-metered request).
   * The range may be open (a request id lookup reaches all time). Asks `limit + 1` to tell more.
   */
  async list(
    manager: EntityManager,
    scope: UsageScopeFilter,
    filters: Omit<UsageFilters, 'from' | 'to'> & { from?: Date; to?: Date },
    cursor: UsageCursor | null,
    limit: number,
  ): Promise<UsageListRow[]> {
    const q = this.filtered(manager, scope, filters).leftJoin('api_keys', 'k', 'k.id = ur.api_key_id AND k.tenant_id = ur.tenant_id');
    if (cursor) q.andWhere('(ur.created_at, ur.request_id) < (:cursorAt::timestamptz, :cursorId::uuid)', { cursorAt: cursor.at, cursorId: cursor.requestId });
    const [sql, params] = q.select('1').getQueryAndParameters();
    return manager.query(
      `SELECT ur.request_id, ur.http_request_id, ur.tenant_id, ur.customer_id, ur.api_key_id, k.prefix AS key_prefix, k.name AS key_name,
              ur.channel_id, (SELECT c.name FROM channels c WHERE c.id = ur.channel_id) AS channel_name,
              ur.model, ur.upstream_model, ur.status, ur.error_code, ur.stream,
              ur.input_tokens::text, ur.output_tokens::text, ur.cache_read_tokens::text, ur.cache_write_tokens::text, ur.unit, ur.quantity::text,
              ur.retail_charge::text, ur.wholesale_cost::text, ur.upstream_cost::text, ur.latency_ms, ur.ttft_ms,
              host(ur.client_ip) AS client_ip, ur.created_at, ur.created_at::text AS cursor_at
         ${sql.slice(sql.indexOf('FROM'))}
        ORDER BY ur.created_at DESC, ur.request_id DESC LIMIT ${Math.trunc(limit) + 1}`,
      params,
    );
  }

  /** The `limit` customers with the highest spend in scope and range (ties by id), with their totals. */
  async topCustomers(manager: EntityManager, scope: UsageScopeFilter, range: UsageFilters, limit: number): Promise<Array<UsageTotalsRow & { tenant_id: string }>> {
    const [sql, params] = this.filtered(manager, scope, range).select('1').getQueryAndParameters();
    return manager.query(
      `SELECT ur.customer_id::text AS key, ur.tenant_id::text AS tenant_id, ${TOTALS} ${sql.slice(sql.indexOf('FROM'))}
        GROUP BY ur.customer_id, ur.tenant_id ORDER BY sum(ur.retail_charge) DESC, ur.customer_id LIMIT ${Math.trunc(limit)}`,
      params,
    );
  }

  /**
   * The export's query (oldest first, no limit) for a streaming cursor: the caller reads it row by
   * row inside the tenant transaction, so the whole result is never held in memory.
   */
  exportQuery(manager: EntityManager, scope: UsageScopeFilter, range: UsageFilters): [string, unknown[]] {
    const [sql, params] = this.filtered(manager, scope, range).select('1').getQueryAndParameters();
    return [
      `SELECT ur.created_at, ur.request_id, ur.customer_id, ur.api_key_id,
              (SELECT k.name FROM api_keys k WHERE k.id = ur.api_key_id AND k.tenant_id = ur.tenant_id) AS key_name, ur.model,
              ur.input_tokens::text AS input_tokens, ur.output_tokens::text AS output_tokens,
              ur.cache_read_tokens::text AS cache_read_tokens, ur.cache_write_tokens::text AS cache_write_tokens,
              ur.retail_charge::numeric(30, 9)::text AS retail_charge, ur.status, ur.latency_ms
         ${sql.slice(sql.indexOf('FROM'))}
        ORDER BY ur.created_at, ur.request_id`,
      params,
    ];
  }

  private filtered(manager: EntityManager, scope: UsageScopeFilter, range: Omit<UsageFilters, 'from' | 'to'> & { from?: Date; to?: Date }) {
    const q = manager.createQueryBuilder().from('usage_records', 'ur').where(scope.sql, scope.params);
    if (range.from) q.andWhere('ur.created_at >= :from', { from: range.from.toISOString() });
    if (range.to) q.andWhere('ur.created_at < :to', { to: range.to.toISOString() });
    if (range.customerId) q.andWhere('ur.customer_id = :customerId', { customerId: range.customerId });
    if (range.tenantId) q.andWhere('ur.tenant_id = :tenantId', { tenantId: range.tenantId });
    if (range.keyId) q.andWhere('ur.api_key_id = :keyId', { keyId: range.keyId });
    if (range.model) q.andWhere('ur.model = :model', { model: range.model });
    if (range.status) q.andWhere('ur.status = :status', { status: range.status });
    if (range.httpRequestId) q.andWhere('ur.http_request_id = :httpRequestId', { httpRequestId: range.httpRequestId });
    return q;
  }
}
