import Redis from 'ioredis';
import { Client } from 'pg';
import { billingKeys } from '../../libs/billing/src';
import { fromUnits } from '../../libs/money/src';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { MeteringProcessor } from '../../src/modules/metering/metering.processor';
import { ReconciliationReport, ReconciliationService } from '../../src/modules/metering/reconciliation.service';
import { RunningApp, startTestWorker } from '../support/app';
import { connectAs } from '../support/db';
import { platformWithUsers, resellerWithUsers } from '../support/identity';
import { isolatedRedisUrl } from '../support/redis';
import { eventually, settle, usageEvent } from '../support/usage';

/**
 * Reconciliation on a healthy, busy platform: while events are charged and metering batches commit
 * all the time, every run finds the Redis balances equal to the ledger (no false drift, so nothing
 * is "corrected"); a real drift is still found, and corrected on its second sighting; dead letters
 * (charged in Redis, missing from the ledger) count as drift and are not corrected away.
 */
describe('reconciliation under concurrent metering (e2e)', () => {
  let system: Client;
  let redis: Redis;
  let worker: RunningApp;

  beforeAll(async () => {
    system = await connectAs('system');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    await redis.flushdb();
    await platformWithUsers(system, {});
    // Small batches committing often: many commits fall between a run's reads.
    worker = await startTestWorker({ REDIS_URL: redisUrl, METERING_BATCH_SIZE: '20', METERING_LINGER_MS: '20', METERING_TENANT_REFRESH_MS: '200' });
  });

  afterAll(async () => {
    await worker?.close();
    redis?.disconnect();
    await system?.end();
  });

  it('finds no drift in any run while batches commit concurrently, and still finds a real one', async () => {
    const shop = await resellerWithUsers(system, { a: ['user'], b: ['user'] });
    await worker.app.get(MeteringProcessor, { strict: false }).refreshTenants();
    const customers = [shop.users.a.id, shop.users.b.id];
    const balances = worker.app.get(BalanceService, { strict: false });
    for (const c of customers) await balances.ensureLoaded(shop.id, c);
    const reconciliation = worker.app.get(ReconciliationService, { strict: false });

    // 1,500 events charged in Redis at a steady pace, metered concurrently in small batches, while
    // reconciliation runs back to back (at least 300 runs, until every event is in the ledger).
    const total = 1500;
    let charged = 0;
    const charge = (async () => {
      while (charged < total) {
        const tick = [];
        for (let i = 0; i < 10; i++, charged++) {
          tick.push(settle(redis, usageEvent({ tenantId: shop.id, customerId: customers[charged % 2], retailUnits: String(7000 + (charged % 13)) })));
        }
        await Promise.all(tick);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const reports: ReconciliationReport[] = [];
    const metered = async () => Number((await system.query(`SELECT count(*)::int AS n FROM usage_records WHERE tenant_id = $1`, [shop.id])).rows[0].n);
    try {
      while (reports.length < 300 || (await metered()) < total) reports.push(await reconciliation.reconcileTenant(shop.id));
    } finally {
      await charge;
    }
    const drifting = reports.filter((r) => r.drifting > 0);
    expect({ runs: reports.length, drifting: drifting.length, corrected: reports.reduce((n, r) => n + r.corrected, 0) }).toEqual({
      runs: reports.length,
      drifting: 0,
      corrected: 0,
    });
    expect(reports.every((r) => r.wallets === 2)).toBe(true);

    // Everything metered: Redis equals the ledger (nothing was "corrected" into a wrong balance).
    await eventually(async () => (await redis.xlen(billingKeys.usageStream(shop.id))) === 0, 'every event metered', 60000);
    for (const c of customers) {
      const { rows } = await system.query(`SELECT balance::text FROM ledger_accounts WHERE tenant_id = $1 AND customer_id = $2`, [shop.id, c]);
      expect(fromUnits(BigInt((await redis.get(billingKeys.balance(shop.id, c)))!))).toBe(rows[0].balance);
    }

    // A real drift is found at once, and corrected on its second sighting.
    await redis.incrby(billingKeys.balance(shop.id, customers[0]), 777);
    const first = await reconciliation.reconcileTenant(shop.id);
    expect({ drifting: first.drifting, driftUnits: first.driftUnits, corrected: first.corrected }).toEqual({ drifting: 1, driftUnits: 777n, corrected: 0 });
    const second = await reconciliation.reconcileTenant(shop.id);
    expect(second.corrected).toBe(1);
    expect((await reconciliation.reconcileTenant(shop.id)).drifting).toBe(0);
  }, 180000);

  it('counts dead letters (charged in Redis, missing from the ledger) as drift and does not correct them away', async () => {
    const shop = await resellerWithUsers(system, { a: ['user'] });
    await worker.app.get(MeteringProcessor, { strict: false }).refreshTenants();
    const customer = shop.users.a.id;
    await worker.app.get(BalanceService, { strict: false }).ensureLoaded(shop.id, customer);
    const reconciliation = worker.app.get(ReconciliationService, { strict: false });
    // Charged in Redis, then dead-lettered (as a failed metering would have).
    const lost = usageEvent({ tenantId: shop.id, customerId: customer, retailUnits: '13500' });
    await redis
      .multi()
      .decrby(billingKeys.balance(shop.id, customer), 13500)
      .xadd(billingKeys.deadLetters(shop.id), '*', 'e', JSON.stringify(lost), 'source_id', '1-1', 'reason', 'failing: test', 'at', '0')
      .exec();
    for (let run = 0; run < 3; run++) {
      const report = await reconciliation.reconcileTenant(shop.id);
      expect({ drifting: report.drifting, driftUnits: report.driftUnits, deadLetterUnits: report.deadLetterUnits, corrected: report.corrected }).toEqual({
        drifting: 1,
        driftUnits: 13500n,
        deadLetterUnits: 13500n,
        corrected: 0,
      });
    }
  });
});
