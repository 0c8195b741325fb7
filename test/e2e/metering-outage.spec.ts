import Redis from 'ioredis';
import { Client } from 'pg';
import { billingKeys, METERING_GROUP } from '../../libs/billing/src';
import { runCli } from '../../src/cli';
import { MeteringProcessor } from '../../src/modules/metering/metering.processor';
import { RunningApp, startTestWorker, testConfig } from '../support/app';
import { isolatedDatabase } from '../support/db';
import { platformWithUsers, resellerWithUsers, TestTenant } from '../support/identity';
import { isolatedRedisUrl } from '../support/redis';
import { eventually, ledgerInvariants, settle, usageEvent } from '../support/usage';

/**
 * Metering when PostgreSQL refuses writes, and when single events or single tenants fail, against
 * a database of this file's own (it is made read-only for real) and the real worker:
 * - an outage is not a poison message: nothing is dead-lettered, however often the events were
 *   delivered, and every event reaches the ledger once PostgreSQL takes writes again;
 * - an event that fails on its own is dead-lettered alone, its batch-mates are written;
 * - a tenant whose writes keep failing stalls no other tenant;
 * - `cli metering replay-dead-letters` meters dead letters, and running it twice changes nothing.
 */
describe('metering through database outages and failing tenants (e2e)', () => {
  const MAX_DELIVERIES = 2;
  let database: Awaited<ReturnType<typeof isolatedDatabase>>;
  let dbName: string;
  let superuser: Client;
  let owner: Client;
  let system: Client;
  let redis: Redis;
  let redisUrl: string;
  let worker: RunningApp;
  let shop: TestTenant;
  let other: TestTenant;

  beforeAll(async () => {
    database = await isolatedDatabase();
    dbName = new URL(database.DATABASE_URL).pathname.slice(1);
    superuser = new Client({ connectionString: process.env.TEST_DATABASE_SUPERUSER_URL });
    await superuser.connect();
    owner = new Client({ connectionString: database.DATABASE_ADMIN_URL });
    await owner.connect();
    system = await connectSystem();
    redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    await redis.flushdb();
    await platformWithUsers(system, {});
    shop = await resellerWithUsers(system, { a: ['user'], b: ['user'] });
    other = await resellerWithUsers(system, { c: ['user'] });
    worker = await startTestWorker({
      ...database,
      REDIS_URL: redisUrl,
      METERING_MAX_DELIVERIES: String(MAX_DELIVERIES),
      METERING_CLAIM_IDLE_MS: '1000',
      METERING_TENANT_REFRESH_MS: '200',
      METERING_BATCH_SIZE: '100',
      METERING_LINGER_MS: '50',
    });
    await worker.app.get(MeteringProcessor, { strict: false }).refreshTenants();
  });

  afterAll(async () => {
    await superuser?.query(`ALTER DATABASE ${dbName} RESET default_transaction_read_only`).catch(() => undefined);
    await worker?.close();
    redis?.disconnect();
    await system?.end();
    await owner?.end();
    await superuser?.end();
  });

  async function connectSystem(): Promise<Client> {
    const client = new Client({ connectionString: database.DATABASE_SYSTEM_URL });
    client.on('error', () => undefined); // ended by refuseWrites
    await client.connect();
    return client;
  }
  const count = async (sql: string, params: unknown[]) => Number((await system.query(sql, params)).rows[0].n);
  const records = (tenantId: string) => count(`SELECT count(*)::int AS n FROM usage_records WHERE tenant_id = $1`, [tenantId]);
  const deadLetters = (tenantId: string) => redis.xlen(billingKeys.deadLetters(tenantId));
  const streamEmpty = (tenantId: string) => async () => (await redis.xlen(billingKeys.usageStream(tenantId))) === 0;
  /** The largest delivery count among the tenant's pending entries (0 when none is pending). */
  const maxDeliveries = async (tenantId: string) => {
    const pending = (await redis.xpending(billingKeys.usageStream(tenantId), METERING_GROUP, '-', '+', 1000)) as Array<[string, string, number, number]>;
    return pending.reduce((max, [, , , n]) => Math.max(max, Number(n)), 0);
  };
  /** Makes every new session read-only and ends the app's and system role's sessions (a failover to a replica, as PostgreSQL sees it). */
  const refuseWrites = async (on: boolean) => {
    await superuser.query(on ? `ALTER DATABASE ${dbName} SET default_transaction_read_only = on` : `ALTER DATABASE ${dbName} RESET default_transaction_read_only`);
    await superuser.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND usename IN ('aigateway_app', 'aigateway_system') AND pid <> pg_backend_pid()`,
      [dbName],
    );
  };

  it('keeps every event through a read-only PostgreSQL (no dead letter, however many deliveries) and meters all of them after recovery', async () => {
    await refuseWrites(true);
    try {
      // The test's own system connection was ended with the others.
      system = await connectSystem();
      const events = Array.from({ length: 1000 }, (_, i) =>
        usageEvent({ tenantId: shop.id, customerId: i % 2 ? shop.users.a.id : shop.users.b.id, retailUnits: '13500' }),
      );
      for (const e of events) await settle(redis, e, { debit: false });
      // Delivered more often than METERING_MAX_DELIVERIES while PostgreSQL refused every write
      // (or, as before the fix, dead-lettered on the way).
      await eventually(
        async () => (await maxDeliveries(shop.id)) > MAX_DELIVERIES + 1 || (await deadLetters(shop.id)) > 0,
        'the events to be delivered past the limit during the outage',
        60000,
      );
      expect(await deadLetters(shop.id)).toBe(0);
      expect(await records(shop.id)).toBe(0);
      expect(await redis.xlen(billingKeys.usageStream(shop.id))).toBe(1000);
      // The backlog metric keeps reporting while the tenant backs off.
      await eventually(async () => /aigateway_metering_backlog_events 1000\b/.test(await (await fetch(worker.metricsUrl)).text()), 'the backlog metric during the outage');
    } finally {
      await refuseWrites(false);
      system = await connectSystem();
    }
    await eventually(async () => (await records(shop.id)) === 1000, 'all 1000 events metered after recovery', 90000);
    await eventually(streamEmpty(shop.id), 'the stream drained');
    expect(await deadLetters(shop.id)).toBe(0);
    const wallets = await system.query(
      `SELECT sum(balance)::text AS total FROM ledger_accounts WHERE tenant_id = $1 AND kind = 'customer_wallet'`,
      [shop.id],
    );
    expect(wallets.rows[0].total).toBe('-0.013500000'); // 1000 x 0.0000135
    expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });
  }, 200000);

  it('dead-letters an event that fails on its own and writes its batch-mates', async () => {
    const before = await records(other.id);
    const good1 = usageEvent({ tenantId: other.id, customerId: other.users.c.id });
    const poison = usageEvent({ tenantId: other.id, customerId: other.users.c.id, clientIp: 'not-an-ip' });
    const good2 = usageEvent({ tenantId: other.id, customerId: other.users.c.id });
    const multi = redis.multi();
    for (const e of [good1, poison, good2]) multi.xadd(billingKeys.usageStream(other.id), '*', 'e', JSON.stringify(e));
    await multi.exec();
    await eventually(streamEmpty(other.id), 'the batch handled');
    expect(await records(other.id)).toBe(before + 2);
    const letters = await redis.xrange(billingKeys.deadLetters(other.id), '-', '+');
    expect(letters).toHaveLength(1);
    expect(letters[0][1][1]).toContain(poison.requestId);
    expect(letters[0][1][letters[0][1].indexOf('reason') + 1]).toMatch(/^rejected:/);
  });

  it("does not stall other tenants while one tenant's writes keep failing, and dead-letters none of its events", async () => {
    // Every usage record of `shop` waits out a lock timeout (its rows locked by something else): an
    // outage of that tenant alone.
    await owner.query(`
      CREATE FUNCTION test_refuse_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.tenant_id = '${shop.id}' THEN RAISE EXCEPTION 'could not obtain lock (test)' USING ERRCODE = '55P03'; END IF;
        RETURN NEW;
      END $$`);
    await owner.query(`CREATE TRIGGER test_refuse_tenant BEFORE INSERT ON usage_records FOR EACH ROW EXECUTE FUNCTION test_refuse_tenant()`);
    const shopBefore = await records(shop.id);
    try {
      const stuck = Array.from({ length: 5 }, () => usageEvent({ tenantId: shop.id, customerId: shop.users.a.id }));
      for (const e of stuck) await settle(redis, e, { debit: false });
      await eventually(async () => (await maxDeliveries(shop.id)) >= 1, "shop's events read");
      // Meanwhile, every few events of the other tenant are metered.
      const before = await records(other.id);
      for (let round = 0; round < 3; round++) {
        const events = Array.from({ length: 20 }, () => usageEvent({ tenantId: other.id, customerId: other.users.c.id }));
        for (const e of events) await settle(redis, e, { debit: false });
        await eventually(async () => (await records(other.id)) === before + 20 * (round + 1), `round ${round} of the other tenant metered`);
      }
      expect(await records(shop.id)).toBe(shopBefore);
      expect(await deadLetters(shop.id)).toBe(0);
    } finally {
      await owner.query(`DROP TRIGGER test_refuse_tenant ON usage_records`);
      await owner.query(`DROP FUNCTION test_refuse_tenant()`);
    }
    // Once the cause is gone, shop's events are metered.
    await eventually(async () => (await records(shop.id)) === shopBefore + 5, "shop's events metered once accepted", 60000);
    expect(await deadLetters(shop.id)).toBe(0);
  }, 120000);

  it('replays dead letters through the metering writer with `cli metering replay-dead-letters`; a second run changes nothing', async () => {
    // Events dead-lettered by an earlier incident (valid events), and the poison one from above.
    const customer = other.users.c.id;
    const lost = Array.from({ length: 10 }, () => usageEvent({ tenantId: other.id, customerId: customer, retailUnits: '1000000' }));
    for (const e of lost) {
      await redis.xadd(billingKeys.deadLetters(other.id), '*', 'e', JSON.stringify(e), 'source_id', '1-1', 'reason', 'failing: earlier incident', 'at', '0');
    }
    const wallet = async () =>
      (await system.query(`SELECT balance::text FROM ledger_accounts WHERE tenant_id = $1 AND customer_id = $2`, [other.id, customer])).rows[0].balance as string;
    const balanceBefore = await wallet();
    const config = testConfig({ ...database, REDIS_URL: redisUrl });
    const lines: string[] = [];
    expect(await runCli(['metering', 'replay-dead-letters'], config, (l) => lines.push(l))).toBe(2);
    expect(lines.join('\n')).toContain('dead letters: 11 found, 10 metered now, 0 already in the ledger, 1 left');
    const afterFirst = await wallet();
    expect(Number(afterFirst)).toBeCloseTo(Number(balanceBefore) - 0.01, 9);
    for (const e of lost) expect(await count(`SELECT count(*)::int AS n FROM usage_records WHERE request_id = $1`, [e.requestId])).toBe(1);
    expect(await deadLetters(other.id)).toBe(1); // the poison event stays

    lines.length = 0;
    expect(await runCli(['metering', 'replay-dead-letters'], config, (l) => lines.push(l))).toBe(2);
    expect(lines.join('\n')).toContain('dead letters: 1 found, 0 metered now, 0 already in the ledger, 1 left');
    expect(await wallet()).toBe(afterFirst);
    expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });
  });
});
