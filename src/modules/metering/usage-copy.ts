import { UsageEvent } from '@app/billing';
import { fromUnits } from '@app/money';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { EntityManager } from 'typeorm';

/** The usage_records columns metering writes, in COPY order. */
const COLUMNS = `request_id, tenant_id, customer_id, api_key_id, channel_id, model, upstream_model, pool,
  input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, retail_charge, wholesale_cost, upstream_cost,
  status, error_code, latency_ms, ttft_ms, stream, client_ip, created_at, http_request_id, unit, quantity`;

/**
 * A session's staging table for metering batches (temporary: private to the connection, dropped
 * with it, emptied at every commit, and its rows gone with a rollback).
 */
// Named after its columns' version: a session that made an older one makes this one anew.
const STAGING = 'metering_usage_staging_v2';
const CREATE_STAGING = `CREATE TEMP TABLE IF NOT EXISTS ${STAGING} (
  request_id uuid, tenant_id uuid, customer_id uuid, api_key_id uuid, channel_id uuid, model text, upstream_model text, pool text,
  input_tokens bigint, output_tokens bigint, cache_read_tokens bigint, cache_write_tokens bigint,
  retail_charge numeric(30, 9), wholesale_cost numeric(30, 9), upstream_cost numeric(30, 9),
  status text, error_code text, latency_ms integer, ttft_ms integer, stream boolean, client_ip inet, created_at timestamptz, http_request_id text,
  unit text, quantity bigint
) ON COMMIT DELETE ROWS`;

/** Connections whose staging table exists (created by a transaction that committed). */
const staged = new WeakSet<object>();

/**
 * Inserts the usage records of `events` (request ids unique among them) and returns the request
 * ids that were new, in the caller's transaction: the rows are streamed with COPY into the
 * session's staging table, then moved by one INSERT ... SELECT ... ON CONFLICT DO NOTHING
 * RETURNING, so a record that exists already (a redelivered event) is skipped exactly as with a
 * plain INSERT. COPY's text format costs far less on both sides than 23 array parameters
 * (serialised by node-postgres, parsed by array_in).
 *
 * `onRollback` must be called if the caller's transaction does not commit: a staging table created
 * in it is then gone, and is created again next time.
 */
export async function copyUsageRecords(m: EntityManager, events: readonly UsageEvent[]): Promise<string[]> {
  if (events.length === 0) return [];
  const client = connectionOf(m);
  if (!staged.has(client)) {
    await m.query(CREATE_STAGING);
    staged.add(client);
  }
  await new Promise<void>((resolve, reject) => {
    const stream = client.query(copyFrom(`COPY ${STAGING} (${COLUMNS}) FROM STDIN`));
    stream.on('finish', resolve);
    stream.on('error', (error: Error & { code?: string }) => {
      // undefined_table: however it came to be missing, it is created again next time.
      if (error.code === '42P01') staged.delete(client);
      reject(error);
    });
    stream.end(copyText(events));
  });
  const rows: Array<{ request_id: string }> = await m.query(
    `INSERT INTO usage_records (${COLUMNS}) SELECT ${COLUMNS} FROM ${STAGING}
     ON CONFLICT (request_id, created_at) DO NOTHING RETURNING request_id`,
  );
  return rows.map((r) => r.request_id);
}

/**
 * The connection of a transaction's EntityManager, taken while the transaction runs: after a
 * failed transaction, `forgetStaging(connection)` makes the next batch on it create the staging
 * table again (the transaction that created it may be the one that rolled back).
 */
export function stagingConnection(m: EntityManager): object | undefined {
  return (m.queryRunner as unknown as { databaseConnection?: object } | undefined)?.databaseConnection;
}

export function forgetStaging(connection: object | undefined): void {
  if (connection) staged.delete(connection);
}

function connectionOf(m: EntityManager): PoolClient {
  const client = (m.queryRunner as unknown as { databaseConnection?: PoolClient } | undefined)?.databaseConnection;
  if (!client) throw new Error('copyUsageRecords needs the EntityManager of a transaction');
  return client;
}

/** The rows in COPY's text format (tab-separated, \N for NULL, backslash escapes). */
export function copyText(events: readonly UsageEvent[]): string {
  let out = '';
  for (const e of events) {
    out +=
      `${e.requestId}\t${e.tenantId}\t${e.customerId}\t${e.apiKeyId}\t${e.channelId ?? '\\N'}\t${text(e.model)}\t${nullableText(e.upstreamModel)}\t${text(e.pool ?? 'standard')}\t` +
      `${int(e.inputTokens)}\t${int(e.outputTokens)}\t${int(e.cacheReadTokens ?? 0)}\t${int(e.cacheWriteTokens ?? 0)}\t` +
      `${fromUnits(e.retailUnits)}\t${fromUnits(e.wholesaleUnits)}\t${fromUnits(e.upstreamUnits)}\t` +
      `${text(e.status)}\t${nullableText(e.errorCode)}\t${int(e.latencyMs)}\t${e.ttftMs === null || e.ttftMs === undefined ? '\\N' : int(e.ttftMs)}\t` +
      `${e.stream ? 't' : 'f'}\t${nullableText(e.clientIp)}\t${new Date(e.createdAt).toISOString()}\t${nullableText(e.httpRequestId ?? null)}\t` +
      `${text(e.unit ?? 'token')}\t${int(e.quantity ?? e.inputTokens + e.outputTokens + (e.cacheReadTokens ?? 0) + (e.cacheWriteTokens ?? 0))}\n`;
  }
  return out;
}

const SPECIAL = /[\\\t\n\r]/;

function text(value: string): string {
  if (!SPECIAL.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

function nullableText(value: string | null | undefined): string {
  return value === null || value === undefined ? '\\N' : text(value);
}

/** A count or duration as PostgreSQL reads it (a non-integer is refused by the column, as before). */
function int(value: number): string {
  return String(value);
}
