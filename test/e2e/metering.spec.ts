import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { Client } from 'pg';
import { QueueName } from '../../libs/queue/src';
import { billingKeys } from '../../libs/billing/src';
import { fromUnits, toUnits } from '../../libs/money/src';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { LedgerJobsProcessor } from '../../src/modules/metering/ledger-jobs.processor';
import { MeteringProcessor } from '../../src/modules/metering/metering.processor';
import { ReconciliationService } from '../../src/modules/metering/reconciliation.service';
import { UsageWriter } from '../../src/modules/metering/usage-writer';
import { RiskEvaluator } from '../../src/modules/risk/risk-evaluator';
import { LowBalanceAlerts } from '../../src/modules/low-balance/low-balance-alerts';
import { LedgerRepository } from '../../src/modules/ledger/ledger.repository';
import { SystemDb } from '../../libs/tenancy/src';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { connectAs } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { isolatedRedisUrl } from '../support/redis';
import { appendRaw, eventually, ledgerInvariants, seededRandom, settle, usageEvent, usageLedgerMismatches, usageTransactions } from '../support/usage';
import { UsageEvent } from '../../libs/billing/src';
import { scaled } from '../support/timing';

/**
 * The metering processor against real PostgreSQL and Redis: usage events appended to a tenant's
 * stream become usage records and balanced ledger transactions exactly once, poison events go to
 * the dead-letter stream without blocking the others, and after a randomized run the ledger's
 * invariants hold and reconciliation brings every Redis balance to the ledger.
 */
describe('metering (e2e)', () => {
  let system: Client;
  let redis: Redis;
  let worker: RunningApp;
  let api: RunningApp;
  let platform: TestTenant;
  let shop: TestTenant;

  beforeAll(async () => {
    system = await connectAs('system');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    await redis.flushdb();
    platform = await platformWithUsers(system, { pc: ['user'] });
    shop = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'], c1: ['user'], c2: ['user'], c3: ['user'] });
    const overrides = { REDIS_URL: redisUrl, METERING_CLAIM_IDLE_MS: '1000', METERING_TENANT_REFRESH_MS: '200', METERING_BATCH_SIZE: '200' };
    worker = await startTestWorker(overrides);
    api = await startTestApi(overrides);
    await worker.app.get(MeteringProcessor, { strict: false }).refreshTenants();
  });

  afterAll(async () => {
    await api?.close();
    await worker?.close();
    redis?.disconnect();
    await system?.end();
  });

  const streamEmpty = (tenantId: string) => async () => (await redis.xlen(billingKeys.usageStream(tenantId))) === 0;
  const records = async (requestId: string) =>
    Number((await system.query(`SELECT count(*) FROM usage_records WHERE request_id = $1`, [requestId])).rows[0].count);
  const walletBalance = async (tenantId: string, customerId: string) =>
    (await system.query(`SELECT balance::text FROM ledger_accounts WHERE tenant_id = $1 AND customer_id = $2`, [tenantId, customerId])).rows[0]?.balance ?? null;
  const usageCount = async (tenantId: string) => (await usageTransactions(system, tenantId)).length;
  const writer = () => worker.app.get(UsageWriter, { strict: false });
  const nano = (n: bigint) => fromUnits(n);

  it('writes a usage record and, for its batch, one balanced transaction: retail from the wallet to revenue, wholesale and upstream legs', async () => {
    const own = await resellerWithUsers(system, { c: ['user'] });
    await worker.app.get(MeteringProcessor, { strict: false }).refreshTenants();
    const event = usageEvent({ tenantId: own.id, customerId: own.users.c.id, retailUnits: '3000000', wholesaleUnits: '2000000', upstreamUnits: '1200000' });
    await settle(redis, event, { debit: false });
    await eventually(async () => (await records(event.requestId)) === 1, 'the usage record');
    const [tx, ...others] = await usageTransactions(system, own.id);
    expect(others).toEqual([]);
    expect([...tx.legs].sort()).toEqual(
      [
        `customer_wallet:${own.users.c.id} -0.003000000`,
        'platform_revenue 0.002000000',
        'reseller_revenue 0.003000000',
        'upstream_cost -0.001200000',
        'upstream_payable 0.001200000',
        'wholesale_payable -0.002000000',
      ].sort(),
    );
    const { rows: accounts } = await system.query(
      `SELECT DISTINCT a.kind, a.tenant_id FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id WHERE e.transaction_id = $1 ORDER BY a.kind`,
      [tx.id],
    );
    expect(accounts).toEqual([
      { kind: 'customer_wallet', tenant_id: own.id },
      { kind: 'platform_revenue', tenant_id: platform.id },
      { kind: 'reseller_revenue', tenant_id: own.id },
      { kind: 'upstream_cost', tenant_id: platform.id },
      { kind: 'upstream_payable', tenant_id: platform.id },
      { kind: 'wholesale_payable', tenant_id: own.id },
    ]);
    const [record] = (await system.query(`SELECT retail_charge::text, wholesale_cost::text, upstream_cost::text, client_ip::text, model FROM usage_records WHERE request_id = $1`, [event.requestId])).rows;
    expect(record).toEqual({ retail_charge: '0.003000000', wholesale_cost: '0.002000000', upstream_cost: '0.001200000', client_ip: '203.0.113.7/32', model: 'gpt-test' });
    expect(await usageLedgerMismatches(system, own.id)).toEqual([]);
    await eventually(streamEmpty(own.id), 'the stream to be emptied after XACK');
  });

  it("sends the platform's own customers' retail straight to platform revenue", async () => {
    const before = await usageCount(platform.id);
    const event = usageEvent({ tenantId: platform.id, customerId: platform.users.pc.id, retailUnits: '5000', wholesaleUnits: '5000', upstreamUnits: '0' });
    await settle(redis, event, { debit: false });
    await eventually(async () => (await records(event.requestId)) === 1, 'the usage record');
    expect(await usageCount(platform.id)).toBe(before + 1);
    const [tx] = await usageTransactions(system, platform.id);
    expect(tx.legs).toEqual([`customer_wallet:${platform.users.pc.id} -0.000005000`, 'platform_revenue 0.000005000']);
  });

  it('meters an event redelivered later (sequentially) once', async () => {
    const event = usageEvent({ tenantId: shop.id, customerId: shop.users.c2.id, retailUnits: '7000' });
    const before = await walletBalance(shop.id, shop.users.c2.id);
    await settle(redis, event, { debit: false });
    await eventually(async () => (await records(event.requestId)) === 1, 'the first delivery');
    await eventually(streamEmpty(shop.id), 'the first delivery acknowledged');
    const transactionsAfterFirst = await usageCount(shop.id);
    await settle(redis, event, { debit: false });
    await eventually(streamEmpty(shop.id), 'the second delivery acknowledged');
    expect(await records(event.requestId)).toBe(1);
    expect(await usageCount(shop.id)).toBe(transactionsAfterFirst);
    const expected = fromUnits(toUnits(before ?? '0') - 7000n);
    expect(await walletBalance(shop.id, shop.users.c2.id)).toBe(expected);
  });

  it('meters the same event written concurrently by two writers, and twice in one batch, once', async () => {
    const event = usageEvent({ tenantId: shop.id, customerId: shop.users.c3.id, retailUnits: '9000' });
    const [balanceBefore, countBefore] = [await walletBalance(shop.id, shop.users.c3.id), await usageCount(shop.id)];
    const results = await Promise.all([writer().write(shop.id, [event]), writer().write(shop.id, [event]), writer().write(shop.id, [event, event])]);
    expect(results.reduce((sum, r) => sum + r.written, 0)).toBe(1);
    expect(results.reduce((sum, r) => sum + r.duplicates, 0)).toBe(3);
    expect(await records(event.requestId)).toBe(1);
    expect(await usageCount(shop.id)).toBe(countBefore + 1);
    expect(await walletBalance(shop.id, shop.users.c3.id)).toBe(fromUnits(toUnits(balanceBefore ?? '0') - 9000n));
  });

  describe('one ledger transaction per batch and tenant', () => {
    let a: TestTenant;
    let b: TestTenant;
    beforeAll(async () => {
      // Tenants with no stream traffic: only these tests write for them, through the writer.
      a = await resellerWithUsers(system, { owner: ['owner'], x: ['user'], y: ['user'] });
      b = await resellerWithUsers(system, { x: ['user'] });
    });

    it("posts a batch of two tenants' records as two transactions whose legs are the sums of each tenant's records, exact to the nano-unit", async () => {
      const random = seededRandom(29);
      // Amounts that a float would round: up to ~10^12 nano-units with every digit significant.
      const amount = () => BigInt(1 + random(999_999_999)) * 1000n + BigInt(random(1000));
      const batch = Array.from({ length: 60 }, (_, i) => {
        const tenant = i % 3 === 2 ? b : a;
        const customer = tenant === b ? b.users.x.id : i % 2 ? a.users.x.id : a.users.y.id;
        return usageEvent({ tenantId: tenant.id, customerId: customer, retailUnits: amount().toString(), wholesaleUnits: amount().toString(), upstreamUnits: amount().toString() });
      });
      batch.push(usageEvent({ tenantId: a.id, customerId: a.users.x.id, retailUnits: '1', wholesaleUnits: '1', upstreamUnits: '1' }));
      const result = await writer().writeBatch(batch);
      expect(result).toEqual({ written: 61, duplicates: 0 });
      const [ta, tb] = [await usageTransactions(system, a.id), await usageTransactions(system, b.id)];
      expect([ta.length, tb.length]).toEqual([1, 1]);
      const sum = (tenant: TestTenant, pick: (e: UsageEvent) => string, customer?: string) =>
        batch.filter((e) => e.tenantId === tenant.id && (!customer || e.customerId === customer)).reduce((s, e) => s + BigInt(pick(e)), 0n);
      const retail = (e: UsageEvent) => e.retailUnits;
      const wholesale = (e: UsageEvent) => e.wholesaleUnits;
      const upstream = (e: UsageEvent) => e.upstreamUnits;
      expect([...ta[0].legs].sort()).toEqual(
        [
          `customer_wallet:${a.users.x.id} ${nano(-sum(a, retail, a.users.x.id))}`,
          `customer_wallet:${a.users.y.id} ${nano(-sum(a, retail, a.users.y.id))}`,
          `platform_revenue ${nano(sum(a, wholesale))}`,
          `reseller_revenue ${nano(sum(a, retail))}`,
          `upstream_cost ${nano(-sum(a, upstream))}`,
          `upstream_payable ${nano(sum(a, upstream))}`,
          `wholesale_payable ${nano(-sum(a, wholesale))}`,
        ].sort(),
      );
      expect(ta[0].legs.filter((l) => l.startsWith('customer_wallet'))).toHaveLength(2);
      expect(tb[0].legs).toContain(`customer_wallet:${b.users.x.id} ${nano(-sum(b, retail))}`);
      expect(tb[0].legs).toContain(`reseller_revenue ${nano(sum(b, retail))}`);
      expect(await walletBalance(a.id, a.users.x.id)).toBe(nano(-sum(a, retail, a.users.x.id)));
      expect(await usageLedgerMismatches(system, a.id)).toEqual([]);
      expect(await usageLedgerMismatches(system, b.id)).toEqual([]);
    });

    it('keeps text fields exactly through COPY (tabs, newlines, backslashes, a literal \\N, non-ASCII) and NULLs as NULL', async () => {
      const odd = 'm\t1\n2\r3\\4 \\N \u00e9\u6a21\u578b';
      const event = usageEvent({ tenantId: b.id, customerId: b.users.x.id, model: odd, upstreamModel: null, errorCode: '\\N', clientIp: null, ttftMs: null, retailUnits: '0', wholesaleUnits: '0', upstreamUnits: '0' });
      expect(await writer().write(b.id, [event])).toEqual({ written: 1, duplicates: 0 });
      const [row] = (await system.query(`SELECT model, upstream_model, error_code, client_ip, ttft_ms, retail_charge::text FROM usage_records WHERE request_id = $1`, [event.requestId])).rows;
      expect(row).toEqual({ model: odd, upstream_model: null, error_code: '\\N', client_ip: null, ttft_ms: null, retail_charge: '0.000000000' });
    });

    it('a batch whose records all exist already writes no ledger transaction; a partly replayed one posts only its new records', async () => {
      const old = Array.from({ length: 5 }, () => usageEvent({ tenantId: a.id, customerId: a.users.x.id, retailUnits: '1000003' }));
      await writer().write(a.id, old);
      const [count, balance] = [await usageCount(a.id), await walletBalance(a.id, a.users.x.id)];
      expect(await writer().write(a.id, old)).toEqual({ written: 0, duplicates: 5 });
      expect(await usageCount(a.id)).toBe(count);
      expect(await walletBalance(a.id, a.users.x.id)).toBe(balance);
      const fresh = Array.from({ length: 3 }, () => usageEvent({ tenantId: a.id, customerId: a.users.x.id, retailUnits: '700001' }));
      expect(await writer().write(a.id, [...old, ...fresh])).toEqual({ written: 3, duplicates: 5 });
      const [newest] = await usageTransactions(system, a.id);
      expect(await usageCount(a.id)).toBe(count + 1);
      expect(newest.legs).toContain(`customer_wallet:${a.users.x.id} -0.002100003`);
      expect(await walletBalance(a.id, a.users.x.id)).toBe(fromUnits(toUnits(balance!) - 2_100_003n));
      expect(await usageLedgerMismatches(system, a.id)).toEqual([]);
    });

    it('a batch that dies between its records and their posting leaves neither; its replay posts everything once', async () => {
      // The writer's own repository: its post is where this batch's process dies.
      const ledger = (writer() as unknown as { ledger: LedgerRepository }).ledger;
      const batch = Array.from({ length: 4 }, (_, i) => usageEvent({ tenantId: b.id, customerId: b.users.x.id, retailUnits: String(1000 + i) }));
      const [count, balance] = [await usageCount(b.id), await walletBalance(b.id, b.users.x.id)];
      const post = jest.spyOn(ledger, 'post').mockRejectedValueOnce(new Error('the worker died here'));
      try {
        await expect(writer().write(b.id, batch)).rejects.toThrow('the worker died here');
      } finally {
        post.mockRestore();
      }
      expect(await records(batch[0].requestId)).toBe(0);
      expect(await usageCount(b.id)).toBe(count);
      expect(await writer().write(b.id, batch)).toEqual({ written: 4, duplicates: 0 });
      expect(await writer().write(b.id, batch)).toEqual({ written: 0, duplicates: 4 });
      expect(await usageCount(b.id)).toBe(count + 1);
      expect(await walletBalance(b.id, b.users.x.id)).toBe(fromUnits(toUnits(balance!) - 4006n));
      expect(await usageLedgerMismatches(system, b.id)).toEqual([]);
    });

    it("recovers when a connection's COPY staging table is gone (its creating transaction rolled back, or it was dropped)", async () => {
      const systemDb = worker.app.get(SystemDb, { strict: false });
      for (let round = 0; round < 3; round++) {
        // The pool hands the connection just released to the next transaction (LIFO): the write
        // below most likely meets the connection whose staging table was just dropped.
        await systemDb.run((m) => m.query(`DROP TABLE IF EXISTS pg_temp.metering_usage_staging`));
        const event = usageEvent({ tenantId: b.id, customerId: b.users.x.id, retailUnits: '3' });
        const first = await writer().write(b.id, [event]).catch((error: Error) => error);
        // Refused at most once (undefined_table), then written: the table is created again.
        const result = first instanceof Error ? await writer().write(b.id, [event]) : first;
        if (first instanceof Error) expect((first as Error & { code?: string }).code).toBe('42P01');
        expect(result).toEqual({ written: 1, duplicates: 0 });
      }
      expect(await usageLedgerMismatches(system, b.id)).toEqual([]);
    });

    it("lists each customer's share of a batch in their transactions, with the balance after it", async () => {
      const owner = await signIn(api.baseUrl, a, 'owner');
      const list = async (customerId: string) =>
        (await call(api.baseUrl, 'GET', `/api/v1/customers/${customerId}/transactions`, { host: a.domain, token: owner.accessToken })).body.items as Array<{
          kind: string;
          amount: string;
          balanceAfter: string;
        }>;
      await writer().write(a.id, [
        usageEvent({ tenantId: a.id, customerId: a.users.x.id, retailUnits: '250000000' }),
        usageEvent({ tenantId: a.id, customerId: a.users.y.id, retailUnits: '125000000' }),
        usageEvent({ tenantId: a.id, customerId: a.users.x.id, retailUnits: '5' }),
      ]);
      const [x, y] = [await list(a.users.x.id), await list(a.users.y.id)];
      expect(x[0]).toMatchObject({ kind: 'usage', amount: '-0.250000005', balanceAfter: await walletBalance(a.id, a.users.x.id) });
      expect(y[0]).toMatchObject({ kind: 'usage', amount: '-0.125000000', balanceAfter: await walletBalance(a.id, a.users.y.id) });
      // Every line of x's list: the balance after it is the next older one's plus its amount.
      for (let i = 0; i + 1 < x.length; i++) expect(toUnits(x[i].balanceAfter)).toBe(toUnits(x[i + 1].balanceAfter) + toUnits(x[i].amount));
      expect(toUnits(x[x.length - 1].balanceAfter)).toBe(toUnits(x[x.length - 1].amount));
    });
  });

  it("meters a new tenant's first batches written at once by several consumers (accounts created by one are not used by another before they commit)", async () => {
    // A writer with nothing cached, as a worker that just started; a reseller with no ledger accounts yet.
    const fresh = new UsageWriter(worker.app.get(SystemDb, { strict: false }), worker.app.get(LedgerRepository, { strict: false }), worker.app.get(LowBalanceAlerts, { strict: false }), worker.app.get(RiskEvaluator, { strict: false }));
    const newShop = await resellerWithUsers(system, { a: ['user'], b: ['user'] });
    const batches = Array.from({ length: 6 }, (_, i) =>
      Array.from({ length: 20 }, () => usageEvent({ tenantId: newShop.id, customerId: i % 2 ? newShop.users.a.id : newShop.users.b.id, retailUnits: '1000' })),
    );
    const results = await Promise.all(batches.map((batch) => fresh.write(newShop.id, batch)));
    expect(results.reduce((sum, r) => sum + r.written, 0)).toBe(120);
    const { rows } = await system.query(`SELECT count(*)::int AS n FROM usage_records WHERE tenant_id = $1`, [newShop.id]);
    expect(rows[0].n).toBe(120);
    expect(await walletBalance(newShop.id, newShop.users.a.id)).toBe(fromUnits(-60_000n));
  });

  it('runs as BullMQ processors: one drain job scheduler per stream shard (once, however often the worker starts), its keys under one hash tag, its jobs in the queue metrics', async () => {
    const queue = worker.app.get<Queue>(getQueueToken(QueueName.Metering));
    await worker.app.get(MeteringProcessor, { strict: false }).onApplicationBootstrap();
    const schedulers = (await queue.getJobSchedulers()).map((s) => s.key).sort();
    expect(schedulers).toEqual(Array.from({ length: worker.config.METERING_SHARDS }, (_, i) => `metering-drain:${i}`).sort());
    // The events of this file so far were metered by drain jobs.
    await eventually(async () => (await queue.getJobCounts('completed')).completed > 0, 'completed drain jobs');
    const queueKeys = (await redis.keys('*metering*')).filter((k) => !k.startsWith('{t:'));
    expect(queueKeys.length).toBeGreaterThan(0);
    // Every key the queue's scripts touch hashes to one slot (Redis Cluster).
    expect(queueKeys.filter((k) => !k.startsWith('{metering}:metering:'))).toEqual([]);
    const metrics = await (await fetch(worker.metricsUrl)).text();
    expect(metrics).toMatch(/aigateway_queue_jobs\{queue="metering",state="completed"\} [1-9]/);
    expect(metrics).toMatch(/aigateway_metering_backlog_events \d+/);
  });

  it("sets the key's last use (the newest event time of the batch) and the keys API shows it", async () => {
    const c1 = await signIn(api.baseUrl, shop, 'c1');
    const created = await call(api.baseUrl, 'POST', '/api/v1/keys', { host: shop.domain, token: c1.accessToken, json: { name: 'metered' } });
    expect(created.status).toBe(201);
    expect(created.body.lastUsedAt).toBeNull();
    const newest = Date.now() - 60_000;
    const events = [newest - 5000, newest, newest - 30_000].map((createdAt) => usageEvent({ tenantId: shop.id, customerId: shop.users.c1.id, apiKeyId: created.body.id, createdAt }));
    const multi = redis.multi();
    for (const e of events) multi.xadd(billingKeys.usageStream(shop.id), '*', 'e', JSON.stringify(e));
    await multi.exec();
    await eventually(async () => (await records(events[2].requestId)) === 1, 'the events metered');
    const shown = await call(api.baseUrl, 'GET', `/api/v1/keys/${created.body.id}`, { host: shop.domain, token: c1.accessToken });
    expect(shown.status).toBe(200);
    expect(shown.body.lastUsedAt).toBe(new Date(newest).toISOString());
    // An older event later never moves it back.
    const older = usageEvent({ tenantId: shop.id, customerId: shop.users.c1.id, apiKeyId: created.body.id, createdAt: newest - 3_600_000 });
    await settle(redis, older, { debit: false });
    await eventually(async () => (await records(older.requestId)) === 1, 'the older event metered');
    const again = await call(api.baseUrl, 'GET', `/api/v1/keys/${created.body.id}`, { host: shop.domain, token: c1.accessToken });
    expect(again.body.lastUsedAt).toBe(new Date(newest).toISOString());
  });

  it('moves poison events to the dead-letter stream and meters the events around them', async () => {
    const dead = billingKeys.deadLetters(shop.id);
    const deadBefore = await redis.xlen(dead);
    const good1 = usageEvent({ tenantId: shop.id, customerId: shop.users.c1.id });
    const rejected = usageEvent({ tenantId: shop.id, customerId: shop.users.c1.id, clientIp: 'not-an-ip' }); // PostgreSQL refuses it
    const good2 = usageEvent({ tenantId: shop.id, customerId: shop.users.c1.id });
    // One MULTI so that the four entries land in the same batch.
    const multi = redis.multi();
    for (const e of [good1, rejected]) multi.xadd(billingKeys.usageStream(shop.id), '*', 'e', JSON.stringify(e));
    multi.xadd(billingKeys.usageStream(shop.id), '*', 'e', '{"not":"an event"');
    multi.xadd(billingKeys.usageStream(shop.id), '*', 'e', JSON.stringify(good2));
    await multi.exec();
    await eventually(streamEmpty(shop.id), 'the stream to drain past the poison events');
    expect(await records(good1.requestId)).toBe(1);
    expect(await records(good2.requestId)).toBe(1);
    expect(await records(rejected.requestId)).toBe(0);
    const letters = await redis.xrange(dead, '-', '+');
    expect(letters.length - deadBefore).toBe(2);
    const reasons = letters.slice(deadBefore).map(([, fields]) => fields[fields.indexOf('reason') + 1]);
    expect(reasons.some((r) => r.startsWith('rejected:'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('undecodable:'))).toBe(true);
    const metrics = await (await fetch(worker.metricsUrl)).text();
    expect(metrics).toMatch(/aigateway_metering_events_total\{outcome="dead_letter"\} [2-9]/);
  });

  it('an event of an unknown field layout (no `e`) is dead-lettered too', async () => {
    const before = await redis.xlen(billingKeys.deadLetters(shop.id));
    await appendRaw(redis, shop.id, ['x', 'y']);
    await eventually(streamEmpty(shop.id), 'the stream to drain');
    expect(await redis.xlen(billingKeys.deadLetters(shop.id))).toBe(before + 1);
  });

  it('releases expired holds back to the balance and keeps open ones', async () => {
    const reconciliation = worker.app.get(ReconciliationService, { strict: false });
    const customer = shop.users.c3.id;
    const bal = billingKeys.balance(shop.id, customer);
    await redis.set(bal, '1000');
    const now = Date.now();
    const hold = async (requestId: string, amt: number, expiresAt: number) => {
      await redis.hset(billingKeys.hold(shop.id, requestId), { c: customer, k: 'key-1', amt: String(amt) });
      await redis.zadd(billingKeys.holds(shop.id), expiresAt, requestId);
    };
    await hold('expired-1', 300, now - 1000);
    await hold('expired-2', 200, now - 10);
    await hold('open-1', 400, now + 60_000);
    const result = await reconciliation.releaseExpiredHolds(now);
    // The worker's scheduled release may have taken one first; either way each expired hold went
    // back exactly once (1000 + 300 + 200) and the open one stayed.
    expect(result.released).toBeLessThanOrEqual(2);
    expect(await redis.get(bal)).toBe('1500');
    expect(await redis.exists(billingKeys.hold(shop.id, 'expired-1'), billingKeys.hold(shop.id, 'expired-2'))).toBe(0);
    expect(await redis.zrange(billingKeys.holds(shop.id), 0, -1)).toEqual(['open-1']);
    // Reconciliation counts the open hold: ledger - 400 is what Redis should hold.
    await redis.set(bal, (toUnits((await walletBalance(shop.id, customer)) ?? '0') - 400n).toString());
    expect((await reconciliation.reconcileTenant(shop.id)).drifting).toBe(0);
    await redis.del(billingKeys.hold(shop.id, 'open-1'), billingKeys.holds(shop.id), bal);
  });

  it('rolls usage up per day, customer, key and model, and purges raw rows past retention', async () => {
    const jobs = worker.app.get(LedgerJobsProcessor, { strict: false });
    const key = '0196f0a0-0000-7000-8000-000000000001';
    const events = [1, 2, 3].map((i) =>
      usageEvent({ tenantId: shop.id, customerId: shop.users.c2.id, apiKeyId: key, model: 'rollup-model', retailUnits: String(i * 1000), inputTokens: i, outputTokens: 10 * i }),
    );
    const old = usageEvent({ tenantId: shop.id, customerId: shop.users.c2.id, createdAt: Date.now() - 500 * 24 * 3600 * 1000, retailUnits: '0', wholesaleUnits: '0', upstreamUnits: '0' });
    for (const e of [...events, old]) await settle(redis, e, { debit: false });
    await eventually(streamEmpty(shop.id), 'the events metered');
    await jobs.rollup();
    const { rows } = await system.query(
      `SELECT requests::int, input_tokens::int, output_tokens::int, retail::text FROM usage_daily WHERE tenant_id = $1 AND api_key_id = $2 AND model = 'rollup-model'`,
      [shop.id, key],
    );
    expect(rows).toEqual([{ requests: 3, input_tokens: 6, output_tokens: 60, retail: '0.000006000' }]);
    expect(await records(old.requestId)).toBe(1);
    const purged = await jobs.purgeOldUsage();
    expect(purged.deletedRows).toBeGreaterThanOrEqual(1);
    expect(await records(old.requestId)).toBe(0);
    expect(await records(events[0].requestId)).toBe(1);
    expect(await jobs.ensurePartitions()).toBeGreaterThanOrEqual(0);
  });

  it('keeps the ledger balanced through a randomized run (seed 12) of events, credits and debits, and reconciles Redis to it', async () => {
    const random = seededRandom(12);
    // A tenant of its own: the poison events above are owed by shop's customers (dead letters count as unmetered).
    const shop = await resellerWithUsers(system, { owner: ['owner'], c1: ['user'], c2: ['user'], c3: ['user'] });
    await worker.app.get(MeteringProcessor, { strict: false }).refreshTenants();
    const balances = worker.app.get(BalanceService, { strict: false });
    const owner = await signIn(api.baseUrl, shop, 'owner');
    const customers = [shop.users.c1.id, shop.users.c2.id, shop.users.c3.id];
    for (const c of customers) await balances.ensureLoaded(shop.id, c);
    await balances.ensureLoaded(platform.id, platform.users.pc.id);
    let credits = 0;
    for (let i = 0; i < 3000; i++) {
      if (i % 50 === 25) {
        // A credit or a debit adjustment through the API, interleaved with the metering.
        const customer = customers[random(3)];
        const cents = random(2) === 0 ? 1 + random(5000) : -(1 + random(50));
        const res = await call(api.baseUrl, 'POST', `/api/v1/customers/${customer}/credits`, {
          host: shop.domain,
          token: owner.accessToken,
          json: { amount: (cents / 100).toFixed(2), note: `run ${i}`, reference: `seed12-${i}` },
        });
        expect([200, 422]).toContain(res.status);
        credits++;
        continue;
      }
      const onPlatform = random(10) === 0;
      const retail = BigInt(1 + random(2_000_000));
      const event = usageEvent({
        tenantId: onPlatform ? platform.id : shop.id,
        customerId: onPlatform ? platform.users.pc.id : customers[random(3)],
        retailUnits: retail.toString(),
        wholesaleUnits: (retail - BigInt(random(Number(retail)))).toString(),
        upstreamUnits: BigInt(random(Number(retail))).toString(),
        inputTokens: random(5000),
        outputTokens: random(2000),
      });
      await settle(redis, event);
      // Now and then the same event again, as a replay after a crash would.
      if (random(40) === 0) await settle(redis, event, { debit: false });
    }
    expect(credits).toBe(60);
    await eventually(async () => (await streamEmpty(shop.id)()) && (await streamEmpty(platform.id)()), 'every event metered', 60000);

    expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });
    expect(await usageLedgerMismatches(system, shop.id)).toEqual([]);

    // A drift the reconciliation must find and (on its second sighting) correct.
    await redis.incrby(billingKeys.balance(shop.id, shop.users.c2.id), 777);
    const reconciliation = worker.app.get(ReconciliationService, { strict: false });
    const first = await reconciliation.reconcileTenant(shop.id);
    expect(first.drifting).toBeGreaterThanOrEqual(1);
    expect(first.corrected).toBe(0);
    const second = await reconciliation.reconcileTenant(shop.id);
    expect(second.corrected).toBe(first.drifting);
    await reconciliation.reconcileTenant(platform.id);
    await reconciliation.reconcileTenant(platform.id);
    for (const [tenantId, customerId] of [...customers.map((c) => [shop.id, c]), [platform.id, platform.users.pc.id]]) {
      const ledger = await walletBalance(tenantId, customerId);
      const cached = await redis.get(billingKeys.balance(tenantId, customerId));
      expect(fromUnits(BigInt(cached!))).toBe(ledger);
    }
    expect((await reconciliation.reconcileTenant(shop.id)).drifting).toBe(0);
  }, scaled(180000));
});
