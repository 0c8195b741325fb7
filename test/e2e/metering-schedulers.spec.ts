import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { Client } from 'pg';
import { billingKeys } from '../../libs/billing/src';
import { QueueName } from '../../libs/queue/src';
import { MeteringProcessor } from '../../src/modules/metering/metering.processor';
import { freePort, LocalRedis, startRedis } from '../../scripts/local-infra';
import { RunningApp, startTestWorker } from '../support/app';
import { connectAs } from '../support/db';
import { platformWithUsers, resellerWithUsers, TestTenant } from '../support/identity';
import { eventually, settle, usageEvent } from '../support/usage';

/**
 * Metering's job schedulers live in Redis: a FLUSHDB (or a Redis restart without persistence, or
 * a failover) deletes them, with the tenants' streams and consumer groups. The worker asserts them
 * again by itself, so metering goes on without a restart.
 */
describe('metering after Redis lost its data (e2e)', () => {
  // A redis-server of this file's own: the test flushes it.
  let ownRedis: LocalRedis;
  let redis: Redis;
  let system: Client;
  let worker: RunningApp;
  let shop: TestTenant;

  beforeAll(async () => {
    ownRedis = await startRedis({ port: await freePort() });
    redis = new Redis(ownRedis.url);
    system = await connectAs('system');
    await platformWithUsers(system, {});
    shop = await resellerWithUsers(system, { a: ['user'] });
    worker = await startTestWorker({ REDIS_URL: ownRedis.url, METERING_TENANT_REFRESH_MS: '200', METERING_CLAIM_IDLE_MS: '1000' });
    await worker.app.get(MeteringProcessor, { strict: false }).refreshTenants();
  });

  afterAll(async () => {
    await worker?.close();
    redis?.disconnect();
    await ownRedis?.stop();
    await system?.end();
  });

  const metered = async (requestIds: string[]) =>
    Number((await system.query(`SELECT count(*) FROM usage_records WHERE request_id = ANY($1::uuid[])`, [requestIds])).rows[0].count);

  it('meters events added after a FLUSHDB deleted the job schedulers, without a restart', async () => {
    const queue = worker.app.get<Queue>(getQueueToken(QueueName.Metering));
    const before = usageEvent({ tenantId: shop.id, customerId: shop.users.a.id });
    await settle(redis, before, { debit: false });
    await eventually(async () => (await metered([before.requestId])) === 1, 'the event before the flush');

    expect(await redis.zcard(queue.keys.repeat)).toBe(worker.config.METERING_SHARDS);
    // The flush and the look at what it left are one transaction: the worker re-creates the
    // schedulers within milliseconds, so a read after the flush could already see them back.
    const flushed = await redis.multi().flushdb().zcard(queue.keys.repeat).exists(billingKeys.usageStream(shop.id)).exec();
    expect(flushed?.map(([error, value]) => error ?? value)).toEqual(['OK', 0, 0]);

    const after = Array.from({ length: 5 }, () => usageEvent({ tenantId: shop.id, customerId: shop.users.a.id }));
    for (const event of after) await settle(redis, event, { debit: false });
    await eventually(async () => (await metered(after.map((e) => e.requestId))) === after.length, 'the events after the flush');
    await eventually(async () => (await redis.xlen(billingKeys.usageStream(shop.id))) === 0, 'the stream emptied after XACK');
    expect((await queue.getJobSchedulers()).map((s) => s.key).sort()).toEqual(
      Array.from({ length: worker.config.METERING_SHARDS }, (_, i) => `metering-drain:${i}`).sort(),
    );
  });
});
