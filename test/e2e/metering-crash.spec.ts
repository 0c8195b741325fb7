import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { billingKeys, METERING_GROUP } from '../../libs/billing/src';
import { freePort, LocalRedis, startRedis } from '../../scripts/local-infra';
import { connectAs } from '../support/db';
import { platformWithUsers, resellerWithUsers } from '../support/identity';
import { eventually, ledgerInvariants, usageEvent, usageLedgerMismatches } from '../support/usage';
import { scaled, waitUntil } from '../support/timing';

const WORKER = join(__dirname, '../../dist/src/worker.js');

/**
 * The worker as a real process (dist/src/worker.js, `npm run build` first): SIGKILLed in the middle
 * of metering and started again, it loses no usage and doubles none. And a worker whose Redis went
 * away for good still shuts down within its bound.
 */
describe('metering across a crash (process)', () => {
  let system: Client;
  // A redis-server of this file's own: a long run under load must not share a logical database
  // whose FLUSHDB by another file would delete the metering job schedulers mid-test.
  let ownRedis: LocalRedis;
  let redis: Redis;
  let redisUrl: string;

  beforeAll(async () => {
    if (!existsSync(WORKER)) throw new Error(`${WORKER} is missing: run npm run build first`);
    system = await connectAs('system');
    ownRedis = await startRedis({ port: await freePort() });
    redisUrl = ownRedis.url;
    redis = new Redis(redisUrl);
    await platformWithUsers(system, {});
  });

  afterAll(async () => {
    redis?.disconnect();
    await ownRedis?.stop();
    await system?.end();
  });

  async function spawnWorker(): Promise<ChildProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [WORKER], {
      env: {
        ...process.env,
        REDIS_URL: redisUrl,
        WORKER_PORT: String(port),
        LOG_LEVEL: 'warn',
        METERING_CLAIM_IDLE_MS: '1000',
        METERING_BATCH_SIZE: '200',
        METERING_TENANT_REFRESH_MS: '500',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', () => undefined);
    return child;
  }

  it('SIGKILL mid-run, then a restart: every event metered exactly once', async () => {
    const shop = await resellerWithUsers(system, { a: ['user'], b: ['user'], c: ['user'] });
    const customers = Object.values(shop.users).map((u) => u.id);
    const total = 20000;
    let retail = 0n;
    for (let i = 0; i < total; i += 1000) {
      const pipeline = redis.pipeline();
      for (let j = i; j < i + 1000; j++) {
        const units = BigInt(1000 + (j % 5000));
        retail += units;
        const e = usageEvent({ tenantId: shop.id, customerId: customers[j % 3], retailUnits: units.toString() });
        pipeline.xadd(billingKeys.usageStream(shop.id), '*', 'e', JSON.stringify(e));
      }
      await pipeline.exec();
    }
    const metered = async () => Number((await system.query(`SELECT count(*) FROM usage_records WHERE tenant_id = $1`, [shop.id])).rows[0].count);

    const first = await spawnWorker();
    await eventually(async () => (await metered()) >= 2000, 'the first worker to meter some events', 60000);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const afterKill = await metered();
    expect(afterKill).toBeLessThan(total);
    // The killed consumer's batch is pending (read, not acknowledged).
    const pending = (await redis.xpending(billingKeys.usageStream(shop.id), METERING_GROUP)) as [number, ...unknown[]];
    expect(Number(pending[0])).toBeGreaterThanOrEqual(0);

    const second = await spawnWorker();
    try {
      await eventually(async () => (await redis.xlen(billingKeys.usageStream(shop.id))) === 0, 'the restarted worker to drain the stream', 120000);
    } finally {
      second.kill('SIGTERM');
      await new Promise((resolve) => second.once('exit', resolve));
    }
    expect(await metered()).toBe(total);
    // Usage is posted per batch (METERING_BATCH_SIZE 200): one transaction per batch at most, and
    // its legs the sums of the records that batch inserted, so nothing replayed was posted twice.
    const { rows } = await system.query(
      `SELECT count(*)::int AS n, coalesce(sum(amount), 0)::text AS amount FROM ledger_transactions WHERE tenant_id = $1 AND kind = 'usage'`,
      [shop.id],
    );
    expect(rows[0].n).toBeGreaterThanOrEqual(total / 200);
    expect(rows[0].n).toBeLessThan(total / 10);
    const wallets = await system.query(`SELECT coalesce(sum(balance), 0)::text AS sum FROM ledger_accounts WHERE tenant_id = $1 AND kind = 'customer_wallet'`, [shop.id]);
    const expected = `-${(retail / 1_000_000_000n).toString()}.${(retail % 1_000_000_000n).toString().padStart(9, '0')}`;
    expect(wallets.rows[0].sum).toBe(expected);
    expect(rows[0].amount).toBe(expected);
    expect(await usageLedgerMismatches(system, shop.id)).toEqual([]);
    expect(await redis.xlen(billingKeys.deadLetters(shop.id))).toBe(0);
    expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });
  }, scaled(240000));

  it('a worker whose Redis is gone for good still exits on SIGTERM within SHUTDOWN_GRACE_MS', async () => {
    let own: LocalRedis | undefined = await startRedis({ port: await freePort() });
    const port = await freePort();
    const child = spawn(process.execPath, [WORKER], {
      env: { ...process.env, REDIS_URL: own.url, WORKER_PORT: String(port), LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '4000' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', () => undefined);
    try {
      const readiness = () => fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0);
      await waitUntil(async () => (await readiness()) === 200, { what: 'the worker to start and connect', timeoutMs: 20_000, intervalMs: 100 });
      await own.stop();
      own = undefined;
      await waitUntil(async () => ![0, 200].includes(await readiness()), { what: 'the worker to see Redis gone', timeoutMs: 10_000, intervalMs: 100 });
      const started = Date.now();
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(Date.now() - started).toBeLessThan(4000 + scaled(3000)); // the grace, and time to exit
      expect([0, 1]).toContain(code);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await own?.stop();
    }
  }, scaled(30000));
});
