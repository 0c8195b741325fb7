import { Injectable, Logger } from '@nestjs/common';
import { UsageEvent } from '@app/billing';
import { fromUnits } from '@app/money';
import { SystemDb } from '@app/tenancy';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { EntryInput, LedgerRepository, TransactionInput } from '../ledger/ledger.repository';
import { LowBalanceAlerts } from '../low-balance/low-balance-alerts';
import { RaisedFlag, RiskEvaluator } from '../risk/risk-evaluator';
import { copyUsageRecords, forgetStaging, stagingConnection } from './usage-copy';

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
  /** Events whose usage record was new (and whose charge this write posted to the ledger). */
  written: number;
  /** Events already metered before (redelivered or duplicated): nothing changed for them. */
  duplicates: number;
}

/**
 * Turns a batch of usage events into usage records and ledger postings, in ONE PostgreSQL
 * transaction on the system role (metering is cross-tenant by nature: a reseller's request moves
 * money on the platform's accounts too).
 *
 * Exactly once (DESIGN.md "Money"): usage records are unique on (request id, time); they are
 * inserted with ON CONFLICT DO NOTHING RETURNING, and only what was new is posted. Per batch and
 * tenant, ONE balanced ledger transaction (`usage-batch:<uuid>`) whose legs are the sums of the
 * records this very database transaction inserted: each customer's wallet pays its retail to the
 * reseller's revenue (for the platform's own customers, straight to platform revenue), the
 * reseller owes the platform the wholesale (wholesale payable -> platform revenue) and the
 * upstream cost is recorded (platform expense against an upstream payable). The per-request
 * figures stay in usage_records, so the ledger equals the sum of the records at every commit. A
 * redelivered batch inserts no record and posts nothing; the same event in two batches racing on
 * two workers: the second waits on the unique index, then skips it.
 *
 * Webhooks: after posting, one more query per tenant finds the wallets the batch took across their
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
    private readonly lowBalance: LowBalanceAlerts,
    private readonly risk: RiskEvaluator,
  ) {}

  /**
   * Writes `events` (all of `tenantId`) in one transaction; throws if any of them cannot be written.
   * `position`: the highest usage-stream entry id among them; recorded in the same transaction
   * (metering_positions), so reconciliation knows which stream entries the ledger includes.
   */
  async write(tenantId: string, events: readonly UsageEvent[], options: { position?: string } = {}): Promise<WriteResult> {
    for (const e of events) if (e.tenantId !== tenantId) throw new Error(`event ${e.requestId} belongs to another tenant's stream`);
    return this.writeBatch(events, { positions: options.position ? new Map([[tenantId, options.position]]) : undefined });
  }

  /**
   * Writes a batch of events of any tenants in one transaction: one ledger transaction per tenant
   * with new records. `positions`: per tenant, the highest usage-stream entry id of its events.
   */
  async writeBatch(events: readonly UsageEvent[], options: { positions?: ReadonlyMap<string, string> } = {}): Promise<WriteResult> {
    if (events.length === 0) return { written: 0, duplicates: 0 };
    // Account ids resolved inside the transaction are cached only once it committed: another
    // consumer (METERING_CONCURRENCY > 1) must never use an account that its own transaction cannot
    // see yet (or ever, if this one rolls back). That race dead-lettered valid events.
    const resolved: Resolved = { tenants: new Map(), flags: [] };
    const result = await this.writeIn(events, resolved, options.positions);
    for (const [tenantId, accounts] of resolved.tenants) this.tenantAccounts.set(tenantId, accounts);
    if (resolved.platform) this.platform = resolved.platform;
    // Flags raised (and keys suspended) in the committed transaction: metric and key caches.
    if (resolved.flags.length > 0) await this.risk.afterCommit(resolved.flags);
    return result;
  }

  /**
   * A write that changes nothing, to tell "this event is refused" from "the database takes no
   * writes": it fails the same way a batch does during an outage (read-only, down, ...).
   */
  async probeWritable(): Promise<void> {
    await this.systemDb.run((m) => m.query(`UPDATE metering_positions SET last_ms = last_ms WHERE false`));
  }

  private async writeIn(events: readonly UsageEvent[], resolved: Resolved, positions: ReadonlyMap<string, string> | undefined): Promise<WriteResult> {
    // The same request twice in one batch: one record (the first), posted once.
    const unique = uniqueBy(events, (e) => e.requestId);
    let connection: object | undefined;
    try {
      return await this.systemDb.run((m) => {
        connection = stagingConnection(m);
        return this.writeRecordsAndPost(m, events.length, unique, resolved, positions);
      });
    } catch (error) {
      // A staging table this transaction created is gone with it.
      forgetStaging(connection);
      throw error;
    }
  }

  private async writeRecordsAndPost(
    m: EntityManager,
    received: number,
    unique: readonly UsageEvent[],
    resolved: Resolved,
    positions: ReadonlyMap<string, string> | undefined,
  ): Promise<WriteResult> {
    const newRecords = new Set(await copyUsageRecords(m, unique));
    const fresh = unique.filter((e) => newRecords.has(e.requestId));
    // Tenants in id order: the rows each one locks (keys, wallets) are then always taken in the
    // same order by concurrent batches.
    const byTenant = new Map<string, UsageEvent[]>();
    for (const e of fresh) {
      const list = byTenant.get(e.tenantId);
      if (list) list.push(e);
      else byTenant.set(e.tenantId, [e]);
    }
    const tenants = [...byTenant.keys()].sort();
    await insertResale(m, fresh);
    for (const tenantId of tenants) await this.touchKeysAndCustomers(m, tenantId, byTenant.get(tenantId)!);
    // The tenants' risk rules on what this transaction recorded: a flag and its suspension
    // commit with the records (a replayed batch records nothing new and evaluates nothing).
    for (const tenantId of tenants) resolved.flags.push(...(await this.risk.evaluate(m, tenantId, byTenant.get(tenantId)!)));
    for (const [tenantId, position] of [...(positions ?? new Map<string, string>())].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      await this.recordPosition(m, tenantId, position);
    }
    // The ledger last, just before the commit: its rows are shared by every batch (the platform's
    // revenue and upstream accounts, each reseller's), so concurrent batches wait for one another
    // on them; locked last, they are held only for the posting, the low-balance query and the
    // commit, and the batches' other statements run side by side.
    if (tenants.length > 0) await this.postLedger(m, tenants.map((t) => [t, byTenant.get(t)!] as const), resolved);
    return { written: fresh.length, duplicates: received - fresh.length };
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

  /**
   * One balanced ledger transaction per tenant for its newly recorded events (see the class
   * comment), all written by one `ledger.post` (two statements), then the low-balance webhooks.
   */
  private async postLedger(m: EntityManager, groups: ReadonlyArray<readonly [string, readonly UsageEvent[]]>, resolved: Resolved): Promise<void> {
    const transactions: TransactionInput[] = [];
    const debitedByTenant: Array<[string, Map<string, bigint>]> = [];
    for (const [tenantId, events] of groups) {
      const sums = usagePosting(events);
      if (!sums) continue;
      const tenant = await this.accountsOf(m, tenantId, resolved);
      const platform = await this.platformAccounts(m, resolved);
      const wallets = sums.retailByCustomer.size > 0 ? await this.ledger.wallets(m, tenantId, [...sums.retailByCustomer.keys()]) : new Map<string, string>();
      const legs = new Legs();
      for (const [customerId, retail] of sums.retailByCustomer) legs.add(wallets.get(customerId)!, tenantId, -retail);
      if (tenant.isPlatform) legs.add(platform.revenue, platform.tenantId, sums.retail);
      else {
        legs.add(tenant.resellerRevenue!, tenantId, sums.retail);
        // What the reseller owes its seller for these requests (the platform's own customers owe no wholesale).
        legs.add(tenant.wholesalePayable!, tenantId, -sums.wholesale);
        // The platform earns what the top of each chain pays it (a direct reseller: its wholesale).
        legs.add(platform.revenue, platform.tenantId, sums.platformWholesale);
        // A sub-reseller's requests: each ancestor earns what its child paid and owes what it pays its own parent.
        for (const [levelTenant, level] of sums.levels) {
          const accounts = await this.accountsOf(m, levelTenant, resolved);
          if (accounts.isPlatform) throw new Error(`usage of ${tenantId} names the platform as a reseller level`);
          legs.add(accounts.resellerRevenue!, levelTenant, level.revenue);
          legs.add(accounts.wholesalePayable!, levelTenant, -level.cost);
        }
      }
      legs.add(platform.upstreamCost, platform.tenantId, -sums.upstream);
      legs.add(platform.upstreamPayable, platform.tenantId, sums.upstream);
      const entries = legs.entries();
      if (entries.length === 0) continue;
      transactions.push({
        tenantId,
        kind: 'usage',
        idempotencyKey: `usage-batch:${uuidv7()}`,
        customerId: null,
        // What the tenant's wallets lost together (each customer's share is its wallet's entry).
        amount: fromUnits(-sums.retail),
        occurredAt: new Date(sums.lastAt),
        entries,
      });
      const debited = new Map<string, bigint>();
      for (const [customerId, retail] of sums.retailByCustomer) if (retail > 0n) debited.set(customerId, retail);
      if (debited.size > 0) debitedByTenant.push([tenantId, debited]);
    }
    if (transactions.length === 0) return;
    const posted = await this.ledger.post(m, transactions);
    // Keys are fresh uuids: a conflict here would be a bug, and would leave records unposted.
    if (posted.size !== transactions.length) throw new Error('a usage batch transaction was not written');
    // Low-balance and depleted webhook events for the wallets this batch debited: one query per
    // tenant, in its transaction (a replayed batch posts nothing new, so it publishes nothing).
    for (const [tenantId, debited] of debitedByTenant) await this.lowBalance.afterDebits(m, tenantId, debited);
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
    const cached = this.tenantAccounts.get(tenantId) ?? resolved.tenants.get(tenantId);
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
    resolved.tenants.set(tenantId, accounts);
    return accounts;
  }

  private async platformAccounts(m: EntityManager, resolved: Resolved): Promise<PlatformAccounts> {
    if (this.platform) return this.platform;
    if (resolved.platform) return resolved.platform;
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
  tenants: Map<string, TenantAccounts>;
  /** Risk flags raised in the transaction. */
  flags: RaisedFlag[];
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

/** What one tenant's newly recorded events post: sums in nano-units, retail per customer. */
export interface UsageSums {
  retail: bigint;
  wholesale: bigint;
  upstream: bigint;
  /** What the platform earns: the wholesale of direct requests, the top ancestor's cost of a sub-reseller's. */
  platformWholesale: bigint;
  /** Per ancestor reseller of a sub-reseller (events with `levels`): what its children paid it and what it paid its parent. */
  levels: Map<string, { revenue: bigint; cost: bigint }>;
  retailByCustomer: Map<string, bigint>;
  /** The newest event time (epoch ms): the transaction's occurred_at. */
  lastAt: number;
}

/** The sums a batch of one tenant posts; null when none of its events cost anything. */
export function usagePosting(events: readonly UsageEvent[]): UsageSums | null {
  const sums: UsageSums = { retail: 0n, wholesale: 0n, upstream: 0n, platformWholesale: 0n, levels: new Map(), retailByCustomer: new Map(), lastAt: 0 };
  let charged = false;
  for (const e of events) {
    if (e.retailUnits === '0' && e.wholesaleUnits === '0' && e.upstreamUnits === '0' && !e.levels?.some((l) => l.costUnits !== '0')) continue;
    charged = true;
    const retail = BigInt(e.retailUnits);
    const wholesale = BigInt(e.wholesaleUnits);
    sums.retail += retail;
    sums.wholesale += wholesale;
    sums.upstream += BigInt(e.upstreamUnits);
    let paid = wholesale;
    for (const level of e.levels ?? []) {
      const cost = BigInt(level.costUnits);
      const sum = sums.levels.get(level.tenantId) ?? { revenue: 0n, cost: 0n };
      sum.revenue += paid;
      sum.cost += cost;
      sums.levels.set(level.tenantId, sum);
      paid = cost;
    }
    sums.platformWholesale += paid;
    if (retail !== 0n) sums.retailByCustomer.set(e.customerId, (sums.retailByCustomer.get(e.customerId) ?? 0n) + retail);
    if (e.createdAt > sums.lastAt) sums.lastAt = e.createdAt;
  }
  return charged ? sums : null;
}

/**
 * One `usage_resale` row per ancestor level of each newly recorded sub-reseller request (see the
 * SubResellersAndSpot migration): the units it was charged, stored so reports never recompute. In
 * the batch's transaction, after the usage records took the cutoff lock: a replay inserts no
 * record, hence no row (and the primary key refuses a second one regardless).
 */
async function insertResale(m: EntityManager, fresh: readonly UsageEvent[]): Promise<void> {
  const cols: { seller: string[]; buyer: string[]; request: string[]; at: string[]; model: string[]; unit: string[]; quantity: number[]; input: number[]; output: number[]; cacheRead: number[]; cacheWrite: number[]; revenue: string[]; cost: string[] } =
    { seller: [], buyer: [], request: [], at: [], model: [], unit: [], quantity: [], input: [], output: [], cacheRead: [], cacheWrite: [], revenue: [], cost: [] };
  for (const e of fresh) {
    if (!e.levels?.length) continue;
    let buyer = e.tenantId;
    let paid = e.wholesaleUnits;
    for (const level of e.levels) {
      cols.seller.push(level.tenantId);
      cols.buyer.push(buyer);
      cols.request.push(e.requestId);
      cols.at.push(new Date(e.createdAt).toISOString());
      cols.model.push(e.model);
      cols.unit.push(e.unit ?? 'token');
      cols.quantity.push(e.quantity ?? e.inputTokens + e.outputTokens + (e.cacheReadTokens ?? 0) + (e.cacheWriteTokens ?? 0));
      cols.input.push(e.inputTokens);
      cols.output.push(e.outputTokens);
      cols.cacheRead.push(e.cacheReadTokens ?? 0);
      cols.cacheWrite.push(e.cacheWriteTokens ?? 0);
      cols.revenue.push(fromUnits(paid));
      cols.cost.push(fromUnits(level.costUnits));
      buyer = level.tenantId;
      paid = level.costUnits;
    }
  }
  if (cols.seller.length === 0) return;
  await m.query(
    `INSERT INTO usage_resale (tenant_id, buyer_tenant_id, request_id, created_at, model, unit, quantity, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, revenue, cost)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::numeric[], $13::numeric[])
     ON CONFLICT DO NOTHING`,
    [cols.seller, cols.buyer, cols.request, cols.at, cols.model, cols.unit, cols.quantity, cols.input, cols.output, cols.cacheRead, cols.cacheWrite, cols.revenue, cols.cost],
  );
}

/** The legs of one transaction, summed per account; zero legs are left out (entries are never zero). */
class Legs {
  private readonly byAccount = new Map<string, { tenantId: string; units: bigint }>();

  add(accountId: string, tenantId: string, units: bigint): void {
    const leg = this.byAccount.get(accountId);
    if (leg) leg.units += units;
    else this.byAccount.set(accountId, { tenantId, units });
  }

  entries(): EntryInput[] {
    const out: EntryInput[] = [];
    for (const [accountId, { tenantId, units }] of this.byAccount) if (units !== 0n) out.push({ accountId, tenantId, amount: fromUnits(units) });
    return out;
  }
}
