import { Client } from 'pg';
import { Queue } from 'bullmq';
import { getQueueToken } from '@nestjs/bullmq';
import { UsageEvent } from '../../libs/billing/src';
import { fromUnits, toUnits } from '../../libs/money/src';
import { QueueName, SettlementJob } from '../../libs/queue/src';
import { UsageWriter } from '../../src/modules/metering/usage-writer';
import { StatementCloser } from '../../src/modules/settlement/statement-closer.service';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { expectSqlError, isolatedDatabase } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, RoleName, signIn, TestTenant } from '../support/identity';
import { isolatedRedisUrl } from '../support/redis';
import { insertStatement, utcDay } from '../support/statements';
import { eventually, ledgerInvariants, seededRandom, usageEvent } from '../support/usage';
import { waitUntil } from '../support/timing';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/**
 * Settlement statements end to end, on a database of their own (closing periods touches every
 * tenant's statements and the platform tenant's): figures equal the sums of the period's usage
 * records after a randomized run through the real metering writer, late records become
 * corrections of the next statement, salespeople are credited by the binding of the request's
 * time, closed statements cannot change at the database, the settlement ledger transaction moves
 * the margin to reseller_settled, and who may read which statement.
 */
describe('settlement statements (e2e)', () => {
  let urls: Awaited<ReturnType<typeof isolatedDatabase>>;
  let system: Client;
  let app: Client;
  let admin: Client;
  let worker: RunningApp;
  let api: RunningApp;
  let closer: StatementCloser;
  let platform: TestTenant;
  let shop: TestTenant;
  let other: TestTenant;
  const day = utcDay(5);

  const connect = async (url: string) => {
    const client = new Client({ connectionString: url });
    await client.connect();
    return client;
  };

  beforeAll(async () => {
    urls = await isolatedDatabase();
    const overrides = { ...urls, REDIS_URL: await isolatedRedisUrl(), SETTLEMENT_ENABLED: 'false', METERING_ENABLED: 'false' };
    [system, app, admin] = await Promise.all([connect(urls.DATABASE_SYSTEM_URL), connect(urls.DATABASE_URL), connect(urls.DATABASE_ADMIN_URL)]);
    platform = await platformWithUsers(system, {
      owner: ['owner'], operator: ['operator'], sales: ['sales'], finance: ['finance'], tech: ['tech'], user: ['user'], unboundSales: ['sales'],
    });
    shop = await resellerWithUsers(system, {
      owner: ['owner'], finance: ['finance'], sales: ['sales'], user: ['user'], s1: ['sales'], s2: ['sales'],
      c1: ['user'], c2: ['user'], c3: ['user'], c4: ['user'],
    });
    other = await resellerWithUsers(system, { owner: ['owner'], c: ['user'] });
    [worker, api] = await Promise.all([startTestWorker(overrides), startTestApi(overrides)]);
    closer = worker.app.get(StatementCloser, { strict: false });
  });

  afterAll(async () => {
    await api?.close();
    await worker?.close();
    await Promise.all([system?.end(), app?.end(), admin?.end()]);
  });

  const meter = (tenantId: string, events: UsageEvent[]) => worker.app.get(UsageWriter, { strict: false }).write(tenantId, events);
  const statementRow = async (id: string) => (await system.query(`SELECT * FROM statements WHERE id = $1`, [id])).rows[0];
  const balance = async (tenantId: string, kind: string) =>
    (await system.query(`SELECT balance::text FROM ledger_accounts WHERE tenant_id = $1 AND kind = $2 AND customer_id IS NULL`, [tenantId, kind])).rows[0]?.balance ?? '0.000000000';

  interface Sums { requests: number; input: number; output: number; cacheRead: number; cacheWrite: number; retail: bigint; wholesale: bigint; upstream: bigint }
  const zero = (): Sums => ({ requests: 0, input: 0, output: 0, cacheRead: 0, cacheWrite: 0, retail: 0n, wholesale: 0n, upstream: 0n });
  const add = (s: Sums, e: UsageEvent) => {
    s.requests += 1;
    s.input += e.inputTokens;
    s.output += e.outputTokens;
    s.cacheRead += e.cacheReadTokens;
    s.cacheWrite += e.cacheWriteTokens;
    s.retail += BigInt(e.retailUnits);
    s.wholesale += BigInt(e.wholesaleUnits);
    s.upstream += BigInt(e.upstreamUnits);
    return s;
  };
  /** The figures as the statement stores them (reseller margin: retail - wholesale). */
  const asRow = (s: Sums, type: 'reseller' | 'platform' = 'reseller') => ({
    requests: String(s.requests),
    input_tokens: String(s.input),
    output_tokens: String(s.output),
    cache_read_tokens: String(s.cacheRead),
    cache_write_tokens: String(s.cacheWrite),
    retail_revenue: fromUnits(s.retail),
    wholesale_cost: fromUnits(s.wholesale),
    upstream_cost: fromUnits(s.upstream),
    margin: fromUnits(s.retail - (type === 'platform' ? s.upstream : s.wholesale)),
  });
  const FIGURES = ['requests', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'retail_revenue', 'wholesale_cost', 'upstream_cost', 'margin'];
  const pick = (row: Record<string, unknown>) => Object.fromEntries(FIGURES.map((f) => [f, String(row[f])]));
  /** The same figures computed by SQL straight from usage_records (independent of the closer's queries). */
  const sqlSums = async (tenantId: string, where: string, params: unknown[]) =>
    (
      await system.query(
        `SELECT count(*)::text AS requests, coalesce(sum(input_tokens), 0)::text AS input_tokens, coalesce(sum(output_tokens), 0)::text AS output_tokens,
                coalesce(sum(cache_read_tokens), 0)::text AS cache_read_tokens, coalesce(sum(cache_write_tokens), 0)::text AS cache_write_tokens,
                coalesce(sum(retail_charge), 0)::numeric(30, 9)::text AS retail_revenue, coalesce(sum(wholesale_cost), 0)::numeric(30, 9)::text AS wholesale_cost,
                coalesce(sum(upstream_cost), 0)::numeric(30, 9)::text AS upstream_cost,
                coalesce(sum(retail_charge) - sum(wholesale_cost), 0)::numeric(30, 9)::text AS margin
           FROM usage_records WHERE tenant_id = $1 AND ${where}`,
        [tenantId, ...params],
      )
    ).rows[0];

  describe('closing a period', () => {
    const rand = seededRandom(20260302);
    const models = ['gpt-a', 'gpt-b', 'claude-c'];
    const events: UsageEvent[] = [];
    let binding: (customerId: string, at: number) => string | null;
    let first: string;

    beforeAll(async () => {
      // Bindings as periods: c1 moves from s1 to s2 at 10:00 of the day (a reassignment in
      // mid-period); c2 stays with s2; c3 is never bound; c4 is bound to s1 only from 05:00.
      const t = day.getTime();
      const periods: Array<[string, string, number, number | null]> = [
        [shop.users.c1.id, shop.users.s1.id, t - 10 * DAY, t + 10 * HOUR],
        [shop.users.c1.id, shop.users.s2.id, t + 10 * HOUR, null],
        [shop.users.c2.id, shop.users.s2.id, t - 10 * DAY, null],
        [shop.users.c4.id, shop.users.s1.id, t + 5 * HOUR, null],
      ];
      for (const [customer, sales, from, to] of periods) {
        await system.query(`INSERT INTO customer_bindings (tenant_id, customer_id, sales_user_id, bound_at, unbound_at) VALUES ($1, $2, $3, $4, $5)`, [
          shop.id, customer, sales, new Date(from).toISOString(), to === null ? null : new Date(to).toISOString(),
        ]);
      }
      binding = (customerId, at) => {
        const p = periods.find(([c, , from, to]) => c === customerId && from <= at && (to === null || to > at));
        return p ? p[1] : null;
      };
      const customers = [shop.users.c1.id, shop.users.c2.id, shop.users.c3.id, shop.users.c4.id];
      // 400 requests: most inside the day, some in the hour around each boundary, a few exactly on them.
      for (let i = 0; i < 400; i++) {
        const where = rand(10);
        const createdAt =
          where === 0 ? t - 1 - rand(HOUR) : where === 1 ? t + DAY + rand(HOUR) : where === 2 ? (rand(2) === 0 ? t : t + DAY) : t + rand(DAY);
        const retail = BigInt(rand(5_000_000));
        events.push(
          usageEvent({
            tenantId: shop.id,
            customerId: customers[rand(customers.length)],
            model: models[rand(models.length)],
            inputTokens: rand(5000),
            outputTokens: rand(2000),
            cacheReadTokens: rand(3) === 0 ? rand(1000) : 0,
            cacheWriteTokens: rand(5) === 0 ? rand(500) : 0,
            retailUnits: String(retail),
            // Mostly below retail; now and then at or above it (a discount, a zero-priced model).
            wholesaleUnits: String(rand(8) === 0 ? retail + BigInt(rand(1000)) : (retail * BigInt(rand(100))) / 100n),
            upstreamUnits: String(rand(3_000_000)),
            createdAt,
          }),
        );
      }
      for (let i = 0; i < events.length; i += 80) await meter(shop.id, events.slice(i, i + 80));
    });

    it('writes figures and lines equal to the sums of the period’s usage records', async () => {
      const before = { revenue: await balance(shop.id, 'reseller_revenue'), payable: await balance(shop.id, 'wholesale_payable') };
      const result = await closer.closePeriod(shop.id, day, 'day');
      expect(result.created).toBe(true);
      first = result.id;
      const row = await statementRow(first);
      const t = day.getTime();
      const inPeriod = events.filter((e) => e.createdAt >= t && e.createdAt < t + DAY);
      const earlier = events.filter((e) => e.createdAt < t);
      expect(inPeriod.length).toBeGreaterThan(250);
      expect(earlier.length).toBeGreaterThan(10);

      // Totals: against the generated events and against SQL over usage_records.
      expect(pick(row)).toEqual(asRow(inPeriod.reduce(add, zero())));
      expect(pick(row)).toEqual(await sqlSums(shop.id, `created_at >= $2 AND created_at < $3`, [day.toISOString(), new Date(t + DAY).toISOString()]));
      expect(row).toMatchObject({ period_kind: 'day', tenant_type: 'reseller', previous_closed_at: null });
      expect(new Date(row.period_start).getTime()).toBe(t);
      expect(new Date(row.period_end).getTime()).toBe(t + DAY);
      // The tenant's first statement also settles whatever came before its first period.
      const earlierSums = asRow(earlier.reduce(add, zero()));
      expect({
        requests: String(row.correction_requests), retail: row.correction_retail, wholesale: row.correction_wholesale,
        upstream: row.correction_upstream, margin: row.correction_margin,
      }).toEqual({
        requests: earlierSums.requests, retail: earlierSums.retail_revenue, wholesale: earlierSums.wholesale_cost,
        upstream: earlierSums.upstream_cost, margin: earlierSums.margin,
      });

      const lines = (await system.query(`SELECT * FROM statement_lines WHERE statement_id = $1`, [first])).rows;
      for (const model of models) {
        const line = lines.find((l) => l.kind === 'model' && l.model === model);
        expect(pick(line)).toEqual(asRow(inPeriod.filter((e) => e.model === model).reduce(add, zero())));
      }
      // Salespeople by the binding of each request's time: c1's morning stays with s1.
      const bySales = new Map<string | null, Sums>();
      for (const e of inPeriod) bySales.set(binding(e.customerId, e.createdAt), add(bySales.get(binding(e.customerId, e.createdAt)) ?? zero(), e));
      expect(bySales.size).toBe(3);
      const salesLines = lines.filter((l) => l.kind === 'sales');
      expect(salesLines).toHaveLength(bySales.size);
      for (const [sales, sums] of bySales) expect(pick(salesLines.find((l) => l.sales_user_id === sales))).toEqual(asRow(sums));
      const correction = lines.filter((l) => l.kind === 'correction');
      expect(correction).toHaveLength(1);
      expect(correction[0].corrects_statement_id).toBeNull();
      expect(pick(correction[0])).toEqual(earlierSums);

      // The settlement transaction: everything this statement settles leaves revenue and payable
      // for reseller_settled, balanced, and referenced by the statement.
      const settledRetail = toUnits(row.retail_revenue) + toUnits(row.correction_retail);
      const settledWholesale = toUnits(row.wholesale_cost) + toUnits(row.correction_wholesale);
      const entries = (
        await system.query(
          `SELECT a.kind, e.amount::text AS amount, t.id AS transaction_id, t.kind AS tx_kind FROM ledger_transactions t
             JOIN ledger_entries e ON e.transaction_id = t.id JOIN ledger_accounts a ON a.id = e.account_id
            WHERE t.tenant_id = $1 AND t.idempotency_key = $2 ORDER BY a.kind`,
          [shop.id, `settlement:${first}`],
        )
      ).rows;
      expect(entries.map(({ kind, amount }) => ({ kind, amount }))).toEqual([
        { kind: 'reseller_revenue', amount: fromUnits(-settledRetail) },
        { kind: 'reseller_settled', amount: fromUnits(settledRetail - settledWholesale) },
        { kind: 'wholesale_payable', amount: fromUnits(settledWholesale) },
      ]);
      expect(entries[0]).toMatchObject({ tx_kind: 'settlement', transaction_id: row.settlement_transaction_id });
      expect(await balance(shop.id, 'reseller_settled')).toBe(fromUnits(settledRetail - settledWholesale));
      expect(toUnits(await balance(shop.id, 'reseller_revenue'))).toBe(toUnits(before.revenue) - settledRetail);
      expect(toUnits(await balance(shop.id, 'wholesale_payable'))).toBe(toUnits(before.payable) + settledWholesale);
      expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });

      // The webhook event, written in the same transaction.
      const hook = (await system.query(`SELECT data FROM webhook_events WHERE tenant_id = $1 AND type = 'statement.closed'`, [shop.id])).rows;
      expect(hook).toHaveLength(1);
      expect(hook[0].data).toMatchObject({ statementId: first, periodStart: day.toISOString(), retailRevenue: row.retail_revenue, margin: row.margin });
    });

    it('puts usage recorded after the close into the next statement, as a correction referencing the closed one', async () => {
      const closedBefore = await statementRow(first);
      const t = day.getTime();
      const late = Array.from({ length: 25 }, (_, i) =>
        usageEvent({ tenantId: shop.id, customerId: shop.users.c3.id, model: 'gpt-a', retailUnits: String(1_000_000 + i), wholesaleUnits: '400000', upstreamUnits: '100', createdAt: t + rand(DAY) }),
      );
      const next = Array.from({ length: 30 }, () =>
        usageEvent({ tenantId: shop.id, customerId: shop.users.c2.id, model: 'gpt-b', retailUnits: String(rand(900_000)), wholesaleUnits: String(rand(300_000)), createdAt: t + DAY + rand(DAY) }),
      );
      await meter(shop.id, [...late, ...next]);
      const settledBefore = toUnits(await balance(shop.id, 'reseller_settled'));

      const second = await closer.closePeriod(shop.id, new Date(t + DAY), 'day');
      const row = await statementRow(second.id);
      const nextPeriod = [...events, ...next].filter((e) => e.createdAt >= t + DAY && e.createdAt < t + 2 * DAY);
      expect(pick(row)).toEqual(asRow(nextPeriod.reduce(add, zero())));
      const lateSums = asRow(late.reduce(add, zero()));
      expect([String(row.correction_requests), row.correction_retail, row.correction_wholesale, row.correction_margin]).toEqual([
        lateSums.requests, lateSums.retail_revenue, lateSums.wholesale_cost, lateSums.margin,
      ]);
      expect(row.corrected_statement_ids).toEqual([first]);
      expect(row.previous_closed_at.getTime()).toBe(closedBefore.closed_at.getTime());
      const correction = (await system.query(`SELECT * FROM statement_lines WHERE statement_id = $1 AND kind = 'correction'`, [second.id])).rows;
      expect(correction.map((l) => [l.corrects_statement_id, pick(l)])).toEqual([[first, lateSums]]);
      // The closed statement did not move, and the late records were settled once, by the second.
      expect(await statementRow(first)).toEqual(closedBefore);
      expect(toUnits(await balance(shop.id, 'reseller_settled')) - settledBefore).toBe(toUnits(row.margin) + toUnits(row.correction_margin));

      // Every record dated before the second period's end is in exactly one statement.
      const all = await sqlSums(shop.id, `created_at < $2`, [new Date(t + 2 * DAY).toISOString()]);
      const statements = (await system.query(`SELECT * FROM statements WHERE tenant_id = $1`, [shop.id])).rows;
      const total = (f: string, c: string) => statements.reduce((sum, s) => sum + toUnits(s[f]) + toUnits(s[c]), 0n);
      expect(fromUnits(total('retail_revenue', 'correction_retail'))).toBe(all.retail_revenue);
      expect(fromUnits(total('wholesale_cost', 'correction_wholesale'))).toBe(all.wholesale_cost);
      expect(statements.reduce((n, s) => n + Number(s.requests) + Number(s.correction_requests), 0)).toBe(Number(all.requests));
    });

    it('closes a period once however many times (and workers) close it, and only in order', async () => {
      const third = new Date(day.getTime() + 2 * DAY);
      const results = await Promise.all([closer.closePeriod(shop.id, third, 'day'), closer.closePeriod(shop.id, third, 'day'), closer.closeDue(shop.id, new Date(third.getTime() + DAY + HOUR))]);
      const created = [results[0], results[1], ...results[2].filter((s) => s.periodStart === third.toISOString())];
      expect(created.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(created.map((r) => r.id)).size).toBe(1);
      expect(Number((await system.query(`SELECT count(*) FROM statements WHERE tenant_id = $1 AND period_start = $2`, [shop.id, third.toISOString()])).rows[0].count)).toBe(1);
      // A zero-usage period: a statement with zero figures and no ledger transaction.
      const row = await statementRow(created[0].id);
      expect([row.requests, row.retail_revenue, row.settlement_transaction_id]).toEqual(['0', '0.000000000', null]);
      // Skipping a period is refused.
      await expect(closer.closePeriod(shop.id, new Date(third.getTime() + 3 * DAY), 'day')).rejects.toThrow(/next period/);
    });

    it("writes the platform's own statement: its direct customers' retail minus upstream cost, and no settlement", async () => {
      const t = day.getTime();
      const direct = Array.from({ length: 40 }, () =>
        usageEvent({ tenantId: platform.id, customerId: platform.users.user.id, retailUnits: String(rand(2_000_000)), wholesaleUnits: '0', upstreamUnits: String(rand(1_000_000)), createdAt: t + rand(DAY) }),
      );
      await meter(platform.id, direct);
      const closed = await closer.closePeriod(platform.id, day, 'day');
      const row = await statementRow(closed.id);
      expect(pick(row)).toEqual(asRow(direct.reduce(add, zero()), 'platform'));
      expect(row.settlement_transaction_id).toBeNull();
    });
  });

  describe('the cutoff against metering transactions in flight', () => {
    let tenant: TestTenant;
    let writer: Client;
    // Days of their own, so the other tests' period rollups do not include this tenant.
    const base = utcDay(15);
    const insertRecord = (client: Client, createdAt: Date) =>
      client.query(
        `INSERT INTO usage_records (request_id, tenant_id, customer_id, model, retail_charge, wholesale_cost, upstream_cost, status, created_at)
         VALUES (gen_random_uuid(), $1, $2, 'gpt-a', 1, 0.5, 0.25, 'ok', $3) RETURNING request_id`,
        [tenant.id, tenant.users.c.id, createdAt.toISOString()],
      );
    const requestsOf = async (id: string) => {
      const row = await statementRow(id);
      return [Number(row.requests), Number(row.correction_requests)];
    };

    beforeAll(async () => {
      tenant = await resellerWithUsers(system, { c: ['user'] });
      writer = await connect(urls.DATABASE_SYSTEM_URL);
    });
    afterAll(() => writer?.end());

    it('waits for an insert in flight and counts it in the period it closes', async () => {
      const writerPid = (await writer.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      await writer.query('BEGIN');
      await insertRecord(writer, new Date(base.getTime() + HOUR));
      const closing = closer.closePeriod(tenant.id, base, 'day');
      // The close is waiting once a session is blocked by the writer's transaction.
      await waitUntil(async () => (await system.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [writerPid])).rowCount! > 0, {
        what: 'the close to wait for the insert in flight',
      });
      await writer.query('COMMIT');
      const closed = await closing;
      expect(await requestsOf(closed.id)).toEqual([1, 0]);
    });

    it('settles a record whose transaction began before the close but wrote after it in the next statement', async () => {
      // The transaction starts (its now() is fixed) before the close, and inserts after it: with a
      // transaction-time recorded_at this record would fall between two statements.
      await writer.query('BEGIN');
      await writer.query('SELECT now()');
      const first = await closer.closePeriod(tenant.id, new Date(base.getTime() + DAY), 'day');
      await insertRecord(writer, new Date(base.getTime() + DAY + HOUR));
      await writer.query('COMMIT');
      expect(await requestsOf(first.id)).toEqual([0, 0]);
      const next = await closer.closePeriod(tenant.id, new Date(base.getTime() + 2 * DAY), 'day');
      expect(await requestsOf(next.id)).toEqual([0, 1]);
      expect((await statementRow(next.id)).corrected_statement_ids).toEqual([first.id]);
    });
  });

  describe('immutability', () => {
    let id: string;
    beforeAll(async () => {
      id = (await system.query(`SELECT id FROM statements WHERE tenant_id = $1 ORDER BY period_start LIMIT 1`, [shop.id])).rows[0].id;
    });

    it('refuses UPDATE and DELETE of a closed statement and its lines to the system role', async () => {
      await expectSqlError(system.query(`UPDATE statements SET margin = 0 WHERE id = $1`, [id]), /permission denied/);
      await expectSqlError(system.query(`DELETE FROM statements WHERE id = $1`, [id]), /permission denied/);
      await expectSqlError(system.query(`UPDATE statement_lines SET margin = 0 WHERE statement_id = $1`, [id]), /permission denied/);
      await expectSqlError(system.query(`DELETE FROM statement_lines WHERE statement_id = $1`, [id]), /permission denied/);
      await expectSqlError(system.query(`TRUNCATE statement_lines`), /permission denied/);
    });

    it('refuses them to the application role, even in a platform-wide scope', async () => {
      for (const sql of [`UPDATE statements SET margin = 0 WHERE id = $1`, `DELETE FROM statements WHERE id = $1`, `DELETE FROM statement_lines WHERE statement_id = $1`]) {
        await app.query('BEGIN');
        try {
          await app.query(`SELECT tenancy.enter_scope($1::uuid, '{}'::uuid[], true)`, [platform.id]);
          await expectSqlError(app.query(sql, [id]), /permission denied/);
        } finally {
          await app.query('ROLLBACK');
        }
      }
      await expectSqlError(app.query(`INSERT INTO statements (id) VALUES (gen_random_uuid())`), /permission denied/);
    });

    it('refuses them even to the owner of the tables, with row security lifted (trigger)', async () => {
      await expectSqlError(admin.query(`TRUNCATE statement_lines`), /immutable/);
      for (const sql of [`UPDATE statements SET margin = 0 WHERE id = $1`, `DELETE FROM statements WHERE id = $1`, `DELETE FROM statement_lines WHERE statement_id = $1`]) {
        await admin.query('BEGIN');
        try {
          // The owner is bound by FORCEd RLS (it would see no row); lift it so the trigger is what refuses.
          await admin.query(`ALTER TABLE statements NO FORCE ROW LEVEL SECURITY`);
          await admin.query(`ALTER TABLE statement_lines NO FORCE ROW LEVEL SECURITY`);
          expect(Number((await admin.query(`SELECT count(*) FROM statements WHERE id = $1`, [id])).rows[0].count)).toBe(1);
          await expectSqlError(admin.query(sql, [id]), /immutable/);
        } finally {
          await admin.query('ROLLBACK');
        }
      }
      expect((await statementRow(id)).margin).not.toBe('0.000000000');
    });
  });

  describe('reading statements', () => {
    let tokens: Map<string, string>;
    let shopStatement: string;
    let otherStatement: string;
    let platformStatement: string;
    const as = (who: string) => ({ host: who.startsWith('platform') ? platform.domain : who.startsWith('other') ? other.domain : shop.domain, token: tokens.get(who) });

    beforeAll(async () => {
      await system.query(`INSERT INTO tenant_sales_bindings (tenant_id, reseller_id, sales_user_id) VALUES ($1, $2, $3)`, [platform.id, shop.id, platform.users.sales.id]);
      otherStatement = await insertStatement(system, { id: other.id, type: 'reseller' }, day);
      shopStatement = (await system.query(`SELECT id FROM statements WHERE tenant_id = $1 AND period_start = $2`, [shop.id, day.toISOString()])).rows[0].id;
      platformStatement = (await system.query(`SELECT id FROM statements WHERE tenant_id = $1 AND period_start = $2`, [platform.id, day.toISOString()])).rows[0].id;
      tokens = new Map();
      for (const [tenant, prefix] of [[platform, 'platform'], [shop, 'shop']] as const) {
        for (const name of Object.keys(tenant.users).filter((n) => !/^(c\d|s\d)$/.test(n))) tokens.set(`${prefix}:${name}`, (await signIn(api.baseUrl, tenant, name)).accessToken);
      }
      tokens.set('other:owner', (await signIn(api.baseUrl, other, 'owner')).accessToken);
    });

    const ids = (res: { body: { items: Array<{ id: string }> } }) => res.body.items.map((s) => s.id);

    it('shows a reseller owner and finance their own statements only, without upstream cost', async () => {
      for (const who of ['shop:owner', 'shop:finance']) {
        const list = await call(api.baseUrl, 'GET', '/api/v1/statements', as(who));
        expect(list.status).toBe(200);
        expect(ids(list)).toEqual((await system.query(`SELECT id FROM statements WHERE tenant_id = $1 ORDER BY period_start DESC`, [shop.id])).rows.map((r) => r.id));
        const detail = await call(api.baseUrl, 'GET', `/api/v1/statements/${shopStatement}`, as(who));
        expect(detail.status).toBe(200);
        const row = await statementRow(shopStatement);
        expect(detail.body.totals).toEqual({
          requests: Number(row.requests), inputTokens: Number(row.input_tokens), outputTokens: Number(row.output_tokens),
          cacheReadTokens: Number(row.cache_read_tokens), cacheWriteTokens: Number(row.cache_write_tokens),
          retailRevenue: row.retail_revenue, wholesaleCost: row.wholesale_cost, margin: row.margin,
        });
        expect(detail.text).not.toMatch(/upstream/i);
        const sales = detail.body.lines.filter((l: { kind: string }) => l.kind === 'sales');
        expect(sales.find((l: { salesUserId: string }) => l.salesUserId === shop.users.s1.id).salesEmail).toBe(shop.users.s1.email);
        // Another reseller's statement does not exist for them.
        expect((await call(api.baseUrl, 'GET', `/api/v1/statements/${otherStatement}`, as(who))).status).toBe(404);
        expect((await call(api.baseUrl, 'GET', `/api/v1/statements/${otherStatement}.csv`, as(who))).status).toBe(404);
        expect(ids(await call(api.baseUrl, 'GET', `/api/v1/statements?tenantId=${other.id}`, as(who)))).toEqual([]);
      }
    });

    it('exports a statement as CSV: header, totals, corrections and lines, formula cells neutralised', async () => {
      const res = await call(api.baseUrl, 'GET', `/api/v1/statements/${shopStatement}.csv`, as('shop:finance'));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      expect(res.headers['content-disposition']).toMatch(/attachment; filename="statement-.*\.csv"/);
      const rows = res.text.trim().split('\r\n').map((r) => r.split(','));
      const row = await statementRow(shopStatement);
      expect(rows[1]).toEqual(['row', 'key', 'requests', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'retail_revenue', 'wholesale_cost', 'margin']);
      expect(rows[2]).toEqual(['total', '', row.requests, row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens, row.retail_revenue, row.wholesale_cost, row.margin]);
      expect(rows.filter((r) => r[0] === 'model').map((r) => r[1]).sort()).toEqual(['claude-c', 'gpt-a', 'gpt-b']);
      expect(rows.find((r) => r[0] === 'sales' && r[1] === shop.users.s1.email)).toBeDefined();
      // The synthetic statement's model is "=cmd|calc": exported as text, never a formula.
      const platformCsv = await call(api.baseUrl, 'GET', `/api/v1/statements/${otherStatement}.csv`, as('platform:finance'));
      expect(platformCsv.status).toBe(200);
      expect(platformCsv.text).toContain("model,'=cmd|calc,");
      expect(platformCsv.text.split('\r\n')[1]).toContain('upstream_cost');
    });

    it("shows platform finance and owner every tenant's statements with upstream cost, and the rollup", async () => {
      for (const who of ['platform:finance', 'platform:owner']) {
        const list = await call(api.baseUrl, 'GET', `/api/v1/statements?from=${day.toISOString()}&to=${new Date(day.getTime() + DAY).toISOString()}`, as(who));
        expect(new Set(ids(list))).toEqual(new Set([shopStatement, otherStatement, platformStatement]));
        const detail = await call(api.baseUrl, 'GET', `/api/v1/statements/${shopStatement}`, as(who));
        expect(detail.body.totals.upstreamCost).toBe((await statementRow(shopStatement)).upstream_cost);
        // Salespeople of a reseller are ids to the platform, not e-mails.
        expect(detail.body.lines.filter((l: { kind: string }) => l.kind === 'sales').every((l: { salesEmail: unknown }) => l.salesEmail === null)).toBe(true);
      }
      const rollup = await call(api.baseUrl, 'GET', `/api/v1/statements/rollup?periodStart=${day.toISOString()}`, as('platform:finance'));
      expect(rollup.status).toBe(200);
      const rows = (await system.query(`SELECT * FROM statements WHERE period_start = $1`, [day.toISOString()])).rows;
      const sum = (type: string | null, f: string) => fromUnits(rows.filter((r) => !type || r.tenant_type === type).reduce((s, r) => s + toUnits(r[f]), 0n));
      expect(rollup.body).toMatchObject({
        periodStart: day.toISOString(),
        tenants: 3,
        resellerRetail: sum('reseller', 'retail_revenue'),
        resellerWholesale: sum('reseller', 'wholesale_cost'),
        platformDirectRetail: sum('platform', 'retail_revenue'),
        upstreamCost: sum(null, 'upstream_cost'),
        platformMargin: fromUnits(toUnits(sum('reseller', 'wholesale_cost')) + toUnits(sum('platform', 'retail_revenue')) - toUnits(sum(null, 'upstream_cost'))),
      });
    });

    it('shows a platform salesperson the statements of the resellers bound to them only', async () => {
      const list = await call(api.baseUrl, 'GET', '/api/v1/statements?limit=200', as('platform:sales'));
      expect(list.status).toBe(200);
      expect(new Set(list.body.items.map((s: { tenantId: string }) => s.tenantId))).toEqual(new Set([shop.id]));
      const detail = await call(api.baseUrl, 'GET', `/api/v1/statements/${shopStatement}`, as('platform:sales'));
      expect(detail.status).toBe(200);
      expect(detail.body.totals.upstreamCost).toBeUndefined();
      expect((await call(api.baseUrl, 'GET', `/api/v1/statements/${otherStatement}`, as('platform:sales'))).status).toBe(404);
      expect((await call(api.baseUrl, 'GET', `/api/v1/statements/${platformStatement}`, as('platform:sales'))).status).toBe(404);
      expect((await call(api.baseUrl, 'GET', `/api/v1/statements/rollup?periodStart=${day.toISOString()}`, as('platform:sales'))).status).toBe(403);
      // Without a bound reseller a salesperson reads no statements at all.
      expect((await call(api.baseUrl, 'GET', '/api/v1/statements', as('platform:unboundSales'))).status).toBe(403);
    });

    /** Every role of both tenant types on every statement route (own tenant's statement). */
    const MATRIX: Array<[string, RoleName, { list: number; detail: number; csv: number; rollup: number }]> = [
      ['platform', 'owner', { list: 200, detail: 200, csv: 200, rollup: 200 }],
      ['platform', 'operator', { list: 403, detail: 403, csv: 403, rollup: 403 }],
      // Bound to the shop: its statements yes (above), the platform's own no.
      ['platform', 'sales', { list: 200, detail: 404, csv: 404, rollup: 403 }],
      ['platform', 'finance', { list: 200, detail: 200, csv: 200, rollup: 200 }],
      ['platform', 'tech', { list: 403, detail: 403, csv: 403, rollup: 403 }],
      ['platform', 'user', { list: 403, detail: 403, csv: 403, rollup: 403 }],
      ['shop', 'owner', { list: 200, detail: 200, csv: 200, rollup: 403 }],
      ['shop', 'sales', { list: 403, detail: 403, csv: 403, rollup: 403 }],
      ['shop', 'finance', { list: 200, detail: 200, csv: 200, rollup: 403 }],
      ['shop', 'user', { list: 403, detail: 403, csv: 403, rollup: 403 }],
    ];
    it.each(MATRIX)('%s %s on the statement routes', async (tenant, role, expected) => {
      const statement = tenant === 'platform' ? platformStatement : shopStatement;
      const who = as(`${tenant}:${role}`);
      const got = {
        list: (await call(api.baseUrl, 'GET', '/api/v1/statements', who)).status,
        detail: (await call(api.baseUrl, 'GET', `/api/v1/statements/${statement}`, who)).status,
        csv: (await call(api.baseUrl, 'GET', `/api/v1/statements/${statement}.csv`, who)).status,
        rollup: (await call(api.baseUrl, 'GET', `/api/v1/statements/rollup?periodStart=${day.toISOString()}`, who)).status,
      };
      expect(got).toEqual(expected);
    });

    it('paginates with a cursor and refuses bad input with problem+json', async () => {
      const all = ids(await call(api.baseUrl, 'GET', '/api/v1/statements?limit=200', as('platform:finance')));
      expect(all.length).toBeGreaterThanOrEqual(5);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { body: { items: Array<{ id: string }>; nextCursor: string | null } } = await call(api.baseUrl, 'GET', `/api/v1/statements?limit=2${cursor ? `&cursor=${cursor}` : ''}`, as('platform:finance'));
        seen.push(...page.body.items.map((s) => s.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(all);
      const bad = [
        '/api/v1/statements?limit=0',
        '/api/v1/statements?cursor=nonsense',
        '/api/v1/statements?from=yesterday',
        `/api/v1/statements?from=${day.toISOString()}&to=${day.toISOString()}`,
        '/api/v1/statements?tenantId=42',
        '/api/v1/statements/rollup',
        '/api/v1/statements/rollup?periodStart=2026-03-01T05:00:00Z',
      ];
      for (const path of bad) {
        const res = await call(api.baseUrl, 'GET', path, as('platform:finance'));
        expect({ path, status: res.status, type: res.headers['content-type'] }).toEqual({ path, status: 400, type: expect.stringMatching(/^application\/problem\+json/) });
      }
      expect((await call(api.baseUrl, 'GET', '/api/v1/statements/not-a-uuid', as('platform:finance'))).status).toBe(404);
      expect((await call(api.baseUrl, 'GET', '/api/v1/statements/not-a-uuid.csv', as('platform:finance'))).status).toBe(404);
    });
  });

  describe('the scheduled close', () => {
    it('catches up every due period of a tenant from its creation, then has nothing left to do', async () => {
      const late = await resellerWithUsers(system, { c: ['user'] });
      await system.query(`UPDATE tenants SET created_at = $2 WHERE id = $1`, [late.id, new Date(utcDay(3).getTime() + HOUR).toISOString()]);
      await meter(late.id, [usageEvent({ tenantId: late.id, customerId: late.users.c.id, createdAt: utcDay(2).getTime() + HOUR })]);
      const now = new Date(utcDay(0).getTime() + 2 * HOUR);
      const first = await closer.closeDue(late.id, now);
      // From the day of its creation through yesterday (today has not ended).
      expect(first.map((s) => [s.periodStart, s.created])).toEqual([3, 2, 1].map((d) => [utcDay(d).toISOString(), true]));
      expect(await closer.closeDue(late.id, now)).toEqual([]);
      const figures = (await system.query(`SELECT period_start, requests FROM statements WHERE tenant_id = $1 ORDER BY period_start`, [late.id])).rows;
      expect(figures.find((f) => f.period_start.getTime() === utcDay(2, now).getTime())?.requests).toBe('1');
    });

    it('registers the close as a job scheduler when enabled, and the job closes due periods', async () => {
      const redisUrl = await isolatedRedisUrl();
      const scheduled = await startTestWorker({ ...urls, REDIS_URL: redisUrl, METERING_ENABLED: 'false', SETTLEMENT_ENABLED: 'true', SETTLEMENT_CLOSE_INTERVAL_SECONDS: '3600' });
      try {
        const queue = scheduled.app.get<Queue>(getQueueToken(QueueName.Settlement));
        expect((await queue.getJobSchedulers()).map((s) => s.key ?? s.name)).toContain(SettlementJob.CloseStatements);
        // Its first run catches the shop up to the last period whose grace has passed.
        const dueEnd = Date.now() - 600_000 >= utcDay(0).getTime() ? utcDay(0) : utcDay(1);
        await eventually(async () => {
          const { rows } = await system.query(`SELECT max(period_end) AS last FROM statements WHERE tenant_id = $1`, [shop.id]);
          return rows[0].last?.getTime() === dueEnd.getTime();
        }, 'the scheduled close of the shop');
      } finally {
        await scheduled.close();
      }
    });
  });
});
