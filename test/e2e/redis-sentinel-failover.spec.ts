import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { costUnits, TokenPrice, toUnits } from '@app/money';
import { redisOptions } from '@app/redis';
import { MeteringProcessor } from '../../src/modules/metering/metering.processor';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { call } from '../support/http';
import { TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld, sleep } from '../support/inference';
import { LocalSentinels, sentinelMaster, startSentinels } from '../support/redis-topologies';
import { scaled } from '../support/timing';
import { usageLedgerMismatches } from '../support/usage';

/**
 * A Sentinel failover under traffic, with real servers on loopback: a master, its replica and three
 * Sentinels (quorum 2). The master is killed (SIGKILL) while /v1 requests flow. Requests during the
 * switch may be refused (503, never charged); once the Sentinels promote the replica, requests
 * succeed again through the same processes; every request answered 200 has exactly one usage
 * record (a settle that met the dead master went to the local spool and was replayed), and the
 * ledger took exactly the answered requests' cost from the wallet.
 */
const PRICE: TokenPrice = { inputPerMillion: '1.25', outputPerMillion: '10', cacheReadPerMillion: '0.125' };
const FULL_USAGE = { input: 7, output: 7, cacheRead: 2 };
const MODEL = uniqueSlug('sentinel');

describe('Redis Sentinel failover under traffic (e2e)', () => {
  let sentinels: LocalSentinels;
  let redis: Redis;
  let system: Client;
  let api: RunningApp;
  let worker: RunningApp;
  let fake: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let key: string;
  let spoolDir: string;

  const chat = (requestId: string) =>
    call(api.baseUrl, 'POST', '/v1/chat/completions', {
      host: shop.domain,
      token: key,
      headers: { 'x-request-id': requestId },
      json: { model: MODEL, messages: [{ role: 'user', content: 'hello sentinel' }] },
    }).then(
      (res) => res.status,
      () => 0,
    );

  beforeAll(async () => {
    sentinels = await startSentinels();
    const env = {
      // The host of REDIS_URL is not used behind Sentinels.
      REDIS_URL: 'redis://127.0.0.1:1',
      REDIS_SENTINELS: sentinels.list,
      REDIS_SENTINEL_NAME: sentinels.name,
      CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true',
      CHANNEL_REFRESH_SECONDS: '3600',
      METERING_TENANT_REFRESH_MS: '200',
    };
    redis = new Redis({ ...redisOptions(env), enableOfflineQueue: true, maxRetriesPerRequest: null });
    redis.on('error', () => undefined);
    system = await connectAs('system');
    spoolDir = mkdtempSync(join(tmpdir(), 'aigw-sentinel-spool-'));
    fake = await startFakeOpenAI();
    api = await startTestApi({ ...env, INFERENCE_SPOOL_DIR: spoolDir });
    worker = await startTestWorker(env);
    world = await new InferenceWorld(api, system, redis).init();
    shop = await world.reseller(['alice']);
    await world.price(world.platform, MODEL, PRICE);
    await world.channel(fakeChannel(fake.url, MODEL));
    await world.credit(shop, 'alice', '5');
    key = await world.key(shop, 'alice');
    await worker.app.get(MeteringProcessor, { strict: false }).refreshTenants();
  }, scaled(120_000));

  afterAll(async () => {
    await api?.close();
    await worker?.close();
    await fake?.close();
    redis?.disconnect();
    await system?.end();
    await sentinels?.stop();
    if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
  });

  it('fails over when the master is killed mid-traffic: no answered request lost, none charged twice', async () => {
    const sent: Array<{ id: string; status: number; afterPromotion: boolean }> = [];
    let promoted = false;
    let stop = false;
    // Two clients sending back to back until told to stop.
    const flow = async () => {
      while (!stop) {
        const id = randomUUID();
        const afterPromotion = promoted;
        const status = await chat(id);
        sent.push({ id, status, afterPromotion });
        // A refusal is immediate: pause a little rather than spin while Redis is switching.
        if (status !== 200) await sleep(50);
      }
    };
    const flowing = [flow(), flow()];
    await eventually(() => sent.filter((r) => r.status === 200).length >= 10, 'requests answered before the kill', 30_000);

    await sentinels.processes.kill(sentinels.master);
    await eventually(async () => (await sentinelMaster(sentinels).catch(() => 0)) === sentinels.replica, 'the Sentinels to promote the replica', 60_000);
    promoted = true;
    await eventually(() => sent.filter((r) => r.afterPromotion && r.status === 200).length >= 10, 'requests answered after the failover', 60_000);
    stop = true;
    await Promise.all(flowing);

    const answered = sent.filter((r) => r.status === 200).map((r) => r.id);
    const refused = sent.filter((r) => r.status !== 200);
    // A request is answered or refused with 503 (Redis unavailable during the switch), nothing else.
    expect(refused.filter((r) => r.status !== 503)).toEqual([]);

    // Every answered request reaches the usage records exactly once; no refused one does.
    const recordsOf = async (ids: string[]) =>
      (await system.query(`SELECT http_request_id, count(*)::int AS n FROM usage_records WHERE tenant_id = $1 AND http_request_id = ANY($2) GROUP BY 1`, [shop.id, ids])).rows as Array<{
        http_request_id: string;
        n: number;
      }>;
    await eventually(async () => (await recordsOf(answered)).length === answered.length, `usage records of all ${answered.length} answered requests`, 60_000);
    expect((await recordsOf(answered)).filter((r) => r.n !== 1)).toEqual([]);
    expect(await recordsOf(refused.map((r) => r.id))).toEqual([]);

    // The ledger took exactly the answered requests' cost from the wallet (nothing twice).
    await eventually(async () => (await usageLedgerMismatches(system, shop.id)).length === 0, 'the ledger to match the usage records', 30_000);
    const { rows } = await system.query(`SELECT balance::text FROM ledger_accounts WHERE tenant_id = $1 AND customer_id = $2 AND kind = 'customer_wallet'`, [shop.id, shop.users.alice.id]);
    expect(toUnits(rows[0].balance)).toBe(toUnits('5') - BigInt(answered.length) * costUnits(FULL_USAGE, PRICE));
  }, scaled(180_000));
});
