import { Injectable, Logger } from '@nestjs/common';
import { UsageEvent } from '@app/billing';
import { fromUnits } from '@app/money';
import { SystemDb } from '@app/tenancy';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { EntryInput, LedgerRepository, TransactionInput } from '../ledger/ledger.repository';
import { LowBalanceAlerts } from '../low-balance/low-balance-alerts';
import { UsageRecordsRepository } from '../usage/usage-records.repository';

interface TenantAccounts {
  tenantId: string;
  isPlatform: boolean;
  resellerRevenue?: string;
  wholesalePayable?: string;
}

interface PlatformAccounts {
  tenantId: string;
  revenue: string;
  upstreamCost: string;
  upstreamPayable: string;
}

/** Columns of tables owned by other modules that metering keeps up to date, when they exist. */
interface OptionalColumns {
  keySpent: 'spent' | 'spend_units' | null;
  keyLastUsed: boolean;
  userLastActive: boolean;
}

export interface WriteResult {
  /** Events whose usage record and ledger transaction were new. */
  written: number;
  /** Events already metered before (redelivered or duplicated): nothing changed for them. */
  duplicates: number;
}

/**
 * Turns a batch of usage events of one tenant into usage records and ledger transactions, in ONE
 * PostgreSQL transaction on the system role (metering is cross-tenant by nature: a reseller's
 * request moves money on the platform's accounts too).
 *
 * Exactly once: usage records are unique on (request id, time) and ledger transactions on
 * (tenant, `usage:<requestId>`); both inserts are ON CONFLICT DO NOTHING, and only what was new
 * gets entries, key spend and last use. A redelivered batch, or the same event in two batches
 * racing on two workers (the second waits on the unique index, then skips), changes nothing.
 *
 * Money (DESIGN.md "Money"): per request, one ledger transaction in which the customer's wallet
 * pays retail to the reseller's revenue (for the platform's own customers, straight to platform
 * revenue). Per batch, one more transaction moves what the reseller owes for those requests
 * (wholesale payable -> platform revenue) and records their upstream cost (platform expense
 * against an upstream payable): the per-request figures stay in usage_records, and folding these
 * legs per batch is what keeps the ledger at 2 entries per request instead of 6 (the metering
 * rate target). A request that cost its customer nothing has a usage record and no per-request
 * transaction.
 *
 * Webhooks: after posting, one more query per batch finds the wallets the batch took across their
 * low-balance threshold or zero, and their `billing.low_balance` / `billing.balance_depleted`
 * events are written in the same transaction (LowBalanceAlerts).
 */
@Injectable()
export class UsageWriter {
  private readonly logger = new Logger(UsageWriter.name);
  private readonly tenantAccounts = new Map<string, TenantAccounts>();
  private platform?: PlatformAccounts;
  private optionalColumns?: OptionalColumns;

  constructor(
    private readonly systemDb: SystemDb,
    private readonly ledger: LedgerRepository,
    private readonly usageRecords: UsageRecordsRepository,
    private readonly lowBalance: LowBalanceAlerts,
  ) {}

  /**
   * Writes `events` (all of `tenantId`) in one transaction; throws if any of them cannot be written.
   * `position`: the highest usage-stream entry id among them; recorded in the same transaction
   * (metering_positions), so reconciliation knows which stream entries the ledger includes.
   */
  async write(tenantId: string, events: readonly UsageEvent[], options: { position?: string } = {}): Promise<WriteResult> {
    if (events.length === 0) return { written: 0, duplicates: 0 };
    for (const e of events) if (e.tenantId !== tenantId) throw new Error(`event ${e.requestId} belongs to another tenant's stream`);
    // Account ids resolved inside the transaction are cached only once it committed: another
    // consumer (METERING_CONCURRENCY > 1) must never use an account that its own transaction cannot
    // see yet (or ever, if this one rolls back). That race dead-lettered valid events.
    const resolved: Resolved = {};
    const result = await this.writeIn(tenantId, events, resolved, options.position);
    if (resolved.tenant) this.tenantAccounts.set(tenantId, resolved.tenant);
    if (resolved.platform) this.platform = resolved.platform;
    return result;
  }

  /**
   * A write that changes nothing, to tell "this event is refused" from "the database takes no
   * writes": it fails the same way a batch does during an outage (read-only, down, ...).
   */
  async probeWritable(): Promise<void> {
    await this.systemDb.run((m) => m.query(`UPDATE metering_positions SET last_ms = last_ms WHERE false`));
  }

  private writeIn(tenantId: string, events: readonly UsageEvent[], resolved: Resolved, position: string | undefined): Promise<WriteResult> {
    return this.systemDb.run(async (m) => {
      const newRecords = new Set(
        await this.usageRecords.insertMany(
          m,
          events.map((e) => ({
            requestId: e.requestId,
            tenantId: e.tenantId,
            customerId: e.customerId,
            apiKeyId: e.apiKeyId,
            channelId: e.channelId,
            model: e.model,
            upstreamModel: e.upstreamModel,
            pool: e.pool,
            inputTokens: e.inputTokens,
            outputTokens: e.outputTokens,
            cacheReadTokens: e.cacheReadTokens,
            cacheWriteTokens: e.cacheWriteTokens,
            retailCharge: fromUnits(e.retailUnits),
            wholesaleCost: fromUnits(e.wholesaleUnits),
            upstreamCost: fromUnits(e.upstreamUnits),
            status: e.status,
            errorCode: e.errorCode,
            latencyMs: e.latencyMs,
            ttftMs: e.ttftMs,
            stream: e.stream,
            clientIp: e.clientIp,
            httpRequestId: e.httpRequestId ?? null,
            createdAt: new Date(e.createdAt),
          })),
        ),
      );
      // The same request twice in one batch: the record is new once, and so is its transaction.
      const fresh = uniqueBy(events.filter((e) => newRecords.has(e.requestId)), (e) => e.requestId);
      if (fresh.length > 0) {
        await this.postLedger(m, tenantId, fresh, resolved);
        await this.touchKeysAndCustomers(m, tenantId, fresh);
      }
      if (position) await this.recordPosition(m, tenantId, position);
      return { written: fresh.length, duplicates: events.length - fresh.length };
    });
  }

  /** Advances the tenant's metered position (never backwards: batches of one stream may commit out of order). */
  private async recordPosition(m: EntityManager, tenantId: string, position: string): Promise<void> {
    const [ms, seq] = position.split('-');
    await m.query(
      `INSERT INTO metering_positions AS p (tenant_id, last_ms, last_seq) VALUES ($1, $2, $3)
       ON CONFLICT (tenant_id) DO UPDATE SET last_ms = EXCLUDED.last_ms, last_seq = EXCLUDED.last_seq, updated_at = now()
        WHERE (p.last_ms, p.last_seq) < (EXCLUDED.last_ms, EXCLUDED.last_seq)`,
      [tenantId, ms, seq ?? '0'],
    );
  }

  private async postLedger(m: EntityManager, tenantId: string, events: readonly UsageEvent[], resolved: Resolved): Promise<void> {
    const charged = events.filter((e) => e.retailUnits !== '0' || e.wholesaleUnits !== '0' || e.upstreamUnits !== '0');
    if (charged.length === 0) return;
    const tenant = await this.accountsOf(m, tenantId, resolved);
    const platform = await this.platformAccounts(m, resolved);
    const wallets = await this.ledger.wallets(m, tenantId, charged.map((e) => e.customerId));
    const transactions: TransactionInput[] = [];
    let wholesale = 0n;
    let upstream = 0n;
    for (const e of charged) {
      const retail = BigInt(e.retailUnits);
      wholesale += BigInt(e.wholesaleUnits);
      upstream += BigInt(e.upstreamUnits);
      if (retail === 0n) continue;
      transactions.push({
        tenantId,
        kind: 'usage',
        idempotencyKey: `usage:${e.requestId}`,
        customerId: e.customerId,
        amount: fromUnits(-retail),
        occurredAt: new Date(e.createdAt),
        entries: [
          { accountId: wallets.get(e.customerId)!, tenantId, amount: fromUnits(-retail) },
          tenant.isPlatform
            ? { accountId: platform.revenue, tenantId: platform.tenantId, amount: fromUnits(retail) }
            : { accountId: tenant.resellerRevenue!, tenantId, amount: fromUnits(retail) },
        ],
      });
    }
    // What the reseller owes the platform and what upstreams charged, for this batch's new events
    // at once. Exactly once still holds: an event is in `events` only if its usage record was
    // new in this very database transaction. (Per request, both stay in usage_records.)
    const entries: EntryInput[] = [];
    if (!tenant.isPlatform && wholesale !== 0n) {
      entries.push({ accountId: tenant.wholesalePayable!, tenantId, amount: fromUnits(-wholesale) });
      entries.push({ accountId: platform.revenue, tenantId: platform.tenantId, amount: fromUnits(wholesale) });
    }
    if (upstream !== 0n) {
      entries.push({ accountId: platform.upstreamCost, tenantId: platform.tenantId, amount: fromUnits(-upstream) });
      entries.push({ accountId: platform.upstreamPayable, tenantId: platform.tenantId, amount: fromUnits(upstream) });
    }
    if (entries.length > 0) {
      transactions.push({
        tenantId,
        kind: 'usage',
        idempotencyKey: `usage-batch:${uuidv7()}`,
        customerId: null,
        amount: '0',
        note: `wholesale and upstream cost of ${charged.length} requests`,
        entries,
      });
    }
    const posted = await this.ledger.post(m, transactions);
    // Low-balance and depleted webhook events for the wallets this batch debited: one query for
    // the batch, in its transaction (a replayed batch posts nothing new, so it publishes nothing).
    const debited = new Map<string, bigint>();
    for (const e of charged) {
      if (e.retailUnits !== '0' && posted.has(`usage:${e.requestId}`)) debited.set(e.customerId, (debited.get(e.customerId) ?? 0n) + BigInt(e.retailUnits));
    }
    if (debited.size > 0) await this.lowBalance.afterDebits(m, tenantId, debited);
  }

  /**
   * Key spend and last use, and the customer's last activity: columns of the keys and customers
   * modules, updated when they exist (looked up once per process). Rows are locked in id order
   * first so that two batches of one tenant cannot deadlock.
   */
  private async touchKeysAndCustomers(m: EntityManager, tenantId: string, events: readonly UsageEvent[]): Promise<void> {
    const columns = await this.columns(m);
    if (columns.keySpent || columns.keyLastUsed) {
      const byKey = new Map<string, { spent: bigint; last: number }>();
      for (const e of events) {
        const k = byKey.get(e.apiKeyId) ?? { spent: 0n, last: 0 };
        k.spent += BigInt(e.retailUnits);
        k.last = Math.max(k.last, e.createdAt);
        byKey.set(e.apiKeyId, k);
      }
      const ids = [...byKey.keys()].sort();
      const sets = [
        columns.keySpent === 'spent' ? 'spent = k.spent + d.amount' : null,
        columns.keySpent === 'spend_units' ? 'spend_units = k.spend_units + d.units' : null,
        columns.keyLastUsed ? 'last_used_at = greatest(k.last_used_at, d.last)' : null,
      ].filter(Boolean);
      await m.query(`SELECT 1 FROM api_keys WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR NO KEY UPDATE`, [tenantId, ids]);
      await m.query(
        `UPDATE api_keys k SET ${sets.join(', ')}
           FROM unnest($2::uuid[], $3::numeric[], $4::bigint[], $5::timestamptz[]) AS d(id, amount, units, last)
          WHERE k.tenant_id = $1 AND k.id = d.id`,
        [
          tenantId,
          ids,
          ids.map((id) => fromUnits(byKey.get(id)!.spent)),
          ids.map((id) => byKey.get(id)!.spent.toString()),
          ids.map((id) => new Date(byKey.get(id)!.last).toISOString()),
        ],
      );
    }
    if (columns.userLastActive) {
      const last = new Map<string, number>();
      for (const e of events) last.set(e.customerId, Math.max(last.get(e.customerId) ?? 0, e.createdAt));
      const ids = [...last.keys()].sort();
      await m.query(
        `UPDATE users u SET last_active_at = greatest(u.last_active_at, d.last)
           FROM unnest($2::uuid[], $3::timestamptz[]) AS d(id, last)
          WHERE u.tenant_id = $1 AND u.id = d.id AND (u.last_active_at IS NULL OR u.last_active_at < d.last)`,
        [tenantId, ids, ids.map((id) => new Date(last.get(id)!).toISOString())],
      );
    }
  }

  private async columns(m: EntityManager): Promise<OptionalColumns> {
    if (this.optionalColumns) return this.optionalColumns;
    const rows: Array<{ table_name: string; column_name: string }> = await m.query(
      `SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'public' AND ((table_name = 'api_keys' AND column_name IN ('spent', 'spend_units', 'last_used_at'))
           OR (table_name = 'users' AND column_name = 'last_active_at'))`,
    );
    const has = (t: string, c: string) => rows.some((r) => r.table_name === t && r.column_name === c);
    this.optionalColumns = {
      keySpent: has('api_keys', 'spent') ? 'spent' : has('api_keys', 'spend_units') ? 'spend_units' : null,
      keyLastUsed: has('api_keys', 'last_used_at'),
      userLastActive: has('users', 'last_active_at'),
    };
    this.logger.log(this.optionalColumns, 'metering keeps these columns of other modules up to date');
    return this.optionalColumns;
  }

  private async accountsOf(m: EntityManager, tenantId: string, resolved: Resolved): Promise<TenantAccounts> {
    const cached = this.tenantAccounts.get(tenantId);
    if (cached) return cached;
    const [tenant] = await m.query(`SELECT type FROM tenants WHERE id = $1`, [tenantId]);
    if (!tenant) throw new UnknownTenantError(tenantId);
    const accounts: TenantAccounts =
      tenant.type === 'platform'
        ? { tenantId, isPlatform: true }
        : {
            tenantId,
            isPlatform: false,
            resellerRevenue: await this.ledger.tenantAccount(m, tenantId, 'reseller_revenue'),
            wholesalePayable: await this.ledger.tenantAccount(m, tenantId, 'wholesale_payable'),
          };
    resolved.tenant = accounts;
    return accounts;
  }

  private async platformAccounts(m: EntityManager, resolved: Resolved): Promise<PlatformAccounts> {
    if (this.platform) return this.platform;
    const [row] = await m.query(`SELECT id FROM tenants WHERE type = 'platform' ORDER BY created_at LIMIT 1`);
    if (!row) throw new Error('no platform tenant: run `cli bootstrap` first');
    resolved.platform = {
      tenantId: row.id,
      revenue: await this.ledger.tenantAccount(m, row.id, 'platform_revenue'),
      upstreamCost: await this.ledger.tenantAccount(m, row.id, 'upstream_cost'),
      upstreamPayable: await this.ledger.tenantAccount(m, row.id, 'upstream_payable'),
    };
    return resolved.platform;
  }
}

/** Accounts one transaction resolved, cached after it commits. */
interface Resolved {
  tenant?: TenantAccounts;
  platform?: PlatformAccounts;
}

/** An event naming a tenant that does not exist: it can never be metered (a poison event). */
export class UnknownTenantError extends Error {
  constructor(tenantId: string) {
    super(`unknown tenant ${tenantId}`);
  }
}

function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => (seen.has(key(item)) ? false : (seen.add(key(item)), true)));
}
