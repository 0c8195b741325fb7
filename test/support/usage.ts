import Redis from 'ioredis';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { billingKeys, encodeUsageEvent, USAGE_EVENT_FIELD, UsageEvent } from '../../libs/billing/src';
import { waitUntil } from './timing';

/** A small deterministic PRNG (mulberry32), so randomized runs repeat exactly. */
export function seededRandom(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** A well-formed usage event as the proxy's settle script appends it. */
export function usageEvent(over: Partial<UsageEvent> & Pick<UsageEvent, 'tenantId' | 'customerId'>): UsageEvent {
  return {
    v: 1,
    requestId: uuidv7(),
    apiKeyId: uuidv7(),
    channelId: null,
    model: 'gpt-test',
    upstreamModel: 'gpt-test-upstream',
    pool: 'standard',
    inputTokens: 100,
    outputTokens: 50,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    retailUnits: '2000',
    wholesaleUnits: '1500',
    upstreamUnits: '1000',
    status: 'ok',
    errorCode: null,
    latencyMs: 120,
    ttftMs: 40,
    stream: false,
    clientIp: '203.0.113.7',
    createdAt: Date.now(),
    ...over,
  };
}

/**
 * What the proxy's settle step does for metering: debit the Redis balance by the retail charge
 * and append the event to the tenant's stream, in one MULTI (the real proxy does it in one Lua).
 */
export async function settle(redis: Redis, event: UsageEvent, options: { debit?: boolean } = {}): Promise<void> {
  const multi = redis.multi();
  if (options.debit !== false) multi.decrby(billingKeys.balance(event.tenantId, event.customerId), event.retailUnits);
  multi.xadd(billingKeys.usageStream(event.tenantId), '*', USAGE_EVENT_FIELD, encodeUsageEvent(event));
  await multi.exec();
}

/** Appends a raw stream entry (for malformed events). */
export async function appendRaw(redis: Redis, tenantId: string, fields: string[]): Promise<void> {
  await redis.xadd(billingKeys.usageStream(tenantId), '*', ...fields);
}

/** Polls until `check` returns true; `timeoutMs` is a quiet machine's deadline (scaled, see ./timing). */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 20000): Promise<void> {
  await waitUntil(check, { what, timeoutMs, intervalMs: 50, onError: 'throw' });
}

/** The double-entry invariants over the whole ledger, as the system role. */
export async function ledgerInvariants(system: Client): Promise<{ unbalanced: number; mismatched: number }> {
  const unbalanced = await system.query(
    `SELECT t.id FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
      GROUP BY t.id HAVING coalesce(sum(e.amount), 0) <> 0 OR count(e.id) < 2`,
  );
  const mismatched = await system.query(
    `SELECT a.id FROM ledger_accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id
      GROUP BY a.id, a.balance HAVING a.balance <> coalesce(sum(e.amount), 0)`,
  );
  return { unbalanced: unbalanced.rowCount ?? 0, mismatched: mismatched.rowCount ?? 0 };
}

/**
 * "The ledger equals the usage records" for one tenant (DESIGN.md "Money": usage is posted per
 * metering batch and tenant, its legs the sums of the records the batch inserted). Compares, in
 * nano-units, per customer the retail of their records with what the tenant's usage transactions
 * took from their wallet, and the tenant's revenue, wholesale and upstream legs with the records'
 * sums. Returns the mismatches (empty when they agree). Only for tenants whose records all came
 * through metering.
 */
export async function usageLedgerMismatches(system: Client, tenantId: string): Promise<string[]> {
  const { rows } = await system.query(
    `WITH rec AS (
       SELECT customer_id::text AS what, sum(retail_charge) AS amount FROM usage_records WHERE tenant_id = $1 GROUP BY customer_id
       UNION ALL SELECT 'revenue', coalesce(sum(retail_charge), 0) FROM usage_records WHERE tenant_id = $1
       UNION ALL SELECT 'wholesale', coalesce(sum(wholesale_cost), 0) FROM usage_records WHERE tenant_id = $1 AND (SELECT type FROM tenants WHERE id = $1) = 'reseller'
       UNION ALL SELECT 'upstream', coalesce(sum(upstream_cost), 0) FROM usage_records WHERE tenant_id = $1
     ), legs AS (
       SELECT a.kind, a.customer_id, a.tenant_id AS account_tenant, e.amount FROM ledger_transactions t
         JOIN ledger_entries e ON e.transaction_id = t.id JOIN ledger_accounts a ON a.id = e.account_id
        WHERE t.tenant_id = $1 AND t.kind = 'usage'
     ), led AS (
       SELECT customer_id::text AS what, -sum(amount) AS amount FROM legs WHERE kind = 'customer_wallet' GROUP BY customer_id
       UNION ALL SELECT 'revenue', coalesce(sum(amount), 0) FROM legs WHERE kind = 'reseller_revenue' OR (kind = 'platform_revenue' AND account_tenant = $1)
       UNION ALL SELECT 'wholesale', -coalesce(sum(amount), 0) FROM legs WHERE kind = 'wholesale_payable' AND (SELECT type FROM tenants WHERE id = $1) = 'reseller'
       UNION ALL SELECT 'upstream', -coalesce(sum(amount), 0) FROM legs WHERE kind = 'upstream_cost'
     )
     SELECT what, coalesce(rec.amount, 0)::numeric(30, 9)::text AS records, coalesce(led.amount, 0)::numeric(30, 9)::text AS ledger
       FROM rec FULL JOIN led USING (what) WHERE coalesce(rec.amount, 0) <> coalesce(led.amount, 0)`,
    [tenantId],
  );
  return rows.map((r) => `${r.what}: records ${r.records}, ledger ${r.ledger}`);
}

/** A tenant's usage transactions (newest first) with their legs, as `kind[:customer] amount` strings sorted. */
export async function usageTransactions(system: Client, tenantId: string): Promise<Array<{ id: string; legs: string[] }>> {
  const { rows } = await system.query(
    `SELECT t.id, array_agg(a.kind || coalesce(':' || a.customer_id::text, '') || ' ' || e.amount::text ORDER BY a.kind, a.customer_id) AS legs
       FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id JOIN ledger_accounts a ON a.id = e.account_id
      WHERE t.tenant_id = $1 AND t.kind = 'usage' GROUP BY t.id ORDER BY t.id DESC`,
    [tenantId],
  );
  return rows;
}
