import Redis from 'ioredis';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Client } from 'pg';
import { costUnits, TokenPrice } from '@app/money';
import type { SettleRequest } from '../../libs/billing/src';
import { freePort, LocalRedis, startRedis } from '../../scripts/local-infra';
import { SettlementOutbox } from '../../src/modules/inference/settlement-outbox';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FAKE_TEXT, FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { TestTenant } from '../support/identity';
import { usageEvent } from '../support/usage';
import { eventually, fakeChannel, InferenceWorld, sleep } from '../support/inference';
import { GatewayClient, gatewayClient } from '../support/openai-client';

/**
 * Redis stopped in the middle of the run (a private redis-server with AOF, restarted on the same
 * port with its data): new requests are refused with 503 in OpenAI's shape (no money is spent
 * unaccounted); a request in flight when Redis went away is spooled to the local journal, and its
 * usage event reaches the stream exactly once when Redis is back (the outbox replays every second).
 */
const PRICE: TokenPrice = { inputPerMillion: '1.25', outputPerMillion: '10', cacheReadPerMillion: '0.125' };
const FULL_USAGE = { input: 7, output: 7, cacheRead: 2 };
const MODEL = uniqueSlug('inf-redis');
const SLOW_MODEL = uniqueSlug('inf-redis-slow');

describe('inference with Redis stopped mid-test (e2e, openai SDK)', () => {
  let system: Client;
  let redis: Redis;
  let server: LocalRedis;
  let port: number;
  let dataDir: string;
  let spoolDir: string;
  let api: RunningApp;
  let fake: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let key: string;
  const clients: GatewayClient[] = [];
  const sdk = (maxRetries = 0) => {
    const c = gatewayClient(api.baseUrl, shop.domain, key, { maxRetries });
    clients.push(c);
    return c.client;
  };
  const spooled = (): SettleRequest[] =>
    readdirSync(spoolDir)
      .filter((f) => f.endsWith('.jsonl'))
      .flatMap((f) => readFileSync(join(spoolDir, f), 'utf8').split('\n').filter(Boolean))
      .map((line) => JSON.parse(line) as SettleRequest);

  beforeAll(async () => {
    system = await connectAs('system');
    dataDir = mkdtempSync(join(tmpdir(), 'aigw-redis-'));
    spoolDir = mkdtempSync(join(tmpdir(), 'aigw-spool-'));
    port = await freePort();
    server = await startRedis({ port, dataDir });
    redis = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    redis.on('error', () => undefined);
    fake = await startFakeOpenAI();
    api = await startTestApi({ REDIS_URL: server.url, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600', INFERENCE_SPOOL_DIR: spoolDir });
    world = await new InferenceWorld(api, system, redis).init();
    shop = await world.reseller(['alice']);
    await world.price(world.platform, MODEL, PRICE);
    await world.channel(fakeChannel(fake.url, MODEL));
    await world.price(world.platform, SLOW_MODEL, PRICE);
    await world.channel(fakeChannel(fake.url, SLOW_MODEL, { retryBudget: 0, firstByteTimeoutMs: 500 }));
    await world.credit(shop, 'alice', '5');
    key = await world.key(shop, 'alice');
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await api?.close();
    await fake?.close();
    redis?.disconnect();
    await server?.stop();
    await system?.end();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(spoolDir, { recursive: true, force: true });
  });

  it('refuses new requests with 503 while Redis is down, spools the one in flight and delivers its event exactly once when Redis is back', async () => {
    const cost = costUnits(FULL_USAGE, PRICE);
    // Warm up: the key in memory, the wallet in Redis.
    await sdk().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'warm up' }] });
    await eventually(async () => (await world.events(shop)).length === 1, 'the warm-up event');
    const before = (await world.balance(shop, 'alice'))!;

    // In flight: the upstream stalls after its first chunk; Redis stops meanwhile.
    fake.next({ kind: 'stall-after', ms: 1500 });
    const stream = await sdk().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'in flight' }], stream: true, stream_options: { include_usage: true } });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    await server.stop();

    // New requests: 503 in OpenAI's shape, streamed or not, and the SDK's InternalServerError.
    for (const streamed of [false, true]) {
      const error = await sdk()
        .chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'while down' }], stream: streamed })
        .then(() => null)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect(error).toMatchObject({ status: 503, type: 'server_error' });
      expect((error as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ message: expect.any(String), type: 'server_error', code: expect.any(String) });
      expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get('content-type')).toMatch(/application\/json/);
    }
    const upstreamWhileDown = fake.requests.length;

    // The in-flight stream completes for the client, usage and all.
    let text = (first.value as OpenAI.Chat.Completions.ChatCompletionChunk).choices[0]?.delta?.content ?? '';
    let usage: unknown = null;
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
      const chunk = r.value as OpenAI.Chat.Completions.ChatCompletionChunk;
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(FAKE_TEXT);
    expect(usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 7 });
    // Its settlement went to the local spool, durably, before Redis came back.
    await eventually(async () => spooled().length === 1, 'the settlement in the spool', 5000);
    const [pending] = spooled();
    expect(pending.event).toMatchObject({ customerId: shop.users.alice.id, status: 'ok', retailUnits: cost.toString(), stream: true });
    expect(api.app.get(SettlementOutbox).pending).toBe(1);
    // The refused requests never reached the upstream.
    expect(fake.requests.length).toBe(upstreamWhileDown);

    // Redis back, same port, same data (AOF): the outbox replays within a second or two.
    await sleep(1200); // a replay or two fails first
    expect(spooled()).toHaveLength(1);
    server = await startRedis({ port, dataDir });
    await eventually(async () => (await world.events(shop).catch(() => [])).length === 2, 'the spooled event in the stream', 15_000);
    await eventually(async () => spooled().length === 0, 'the spool to empty', 5000);
    await sleep(2500); // more replay ticks: nothing is delivered twice
    const events = await world.events(shop);
    expect(events).toHaveLength(2);
    expect(events.filter((e) => e.requestId === pending.event.requestId)).toHaveLength(1);
    expect(events[1]).toEqual(pending.event);
    // The hold taken before Redis stopped is released, and the real cost charged, once.
    expect((await world.balance(shop, 'alice'))!).toBe(before - cost);
    expect(await world.openHolds(shop)).toBe(0);

    // And the gateway serves again.
    const again = await sdk().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'after' }] });
    expect(again.choices[0].message.content).toBe(FAKE_TEXT);
    await eventually(async () => (await world.events(shop)).length === 3, 'the event of the request after recovery');
    expect((await world.balance(shop, 'alice'))!).toBe(before - 2n * cost);
  });

  it('replays the spool a dead process left behind (same host, or another host\'s stale file), each event once', async () => {
    const before = (await world.balance(shop, 'alice'))!;
    const eventsBefore = (await world.events(shop)).length;
    // A process that ran and exited: its pid is free.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const mine = usageEvent({ tenantId: shop.id, customerId: shop.users.alice.id, retailUnits: '1234', status: 'ok' });
    const theirs = usageEvent({ tenantId: shop.id, customerId: shop.users.alice.id, retailUnits: '4321', status: 'ok' });
    const sameHost = join(spoolDir, `settle-${hostname()}-${dead}.jsonl`);
    const otherHost = join(spoolDir, 'settle-api-7f9c-old-pod-1.jsonl');
    writeFileSync(sameHost, `${JSON.stringify({ event: mine, actualTokens: 150 })}\n`);
    writeFileSync(otherHost, `${JSON.stringify({ event: theirs, actualTokens: 150 })}\n`);
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(otherHost, old, old);
    // A live process on another host (its file changed just now) keeps its own spool.
    const liveOther = join(spoolDir, 'settle-api-live-pod-2.jsonl');
    const live = usageEvent({ tenantId: shop.id, customerId: shop.users.alice.id, retailUnits: '999', status: 'ok' });
    writeFileSync(liveOther, `${JSON.stringify({ event: live, actualTokens: 150 })}\n`);

    await eventually(async () => (await world.events(shop)).length === eventsBefore + 2, 'the orphaned settlements in the stream', 10_000);
    await sleep(2500); // further replay ticks deliver nothing twice
    const events = (await world.events(shop)).slice(eventsBefore);
    expect(events.map((e) => e.requestId).sort()).toEqual([mine.requestId, theirs.requestId].sort());
    expect((await world.balance(shop, 'alice'))!).toBe(before - 1234n - 4321n);
    expect(existsSync(sameHost)).toBe(false);
    expect(existsSync(otherHost)).toBe(false);
    expect(events.map((e) => e.requestId)).not.toContain(live.requestId);
    expect(existsSync(liveOther)).toBe(true);
    rmSync(liveOther);
  });

  it('a request that held money, then failed upstream while Redis was down, gets its hold back when the spool is replayed', async () => {
    const before = (await world.balance(shop, 'alice'))!;
    const eventsBefore = (await world.events(shop)).length;
    fake.next({ kind: 'stall-before', ms: 1500 });
    const upstreamBefore = fake.requests.length;
    const pending = sdk()
      .chat.completions.create({ model: SLOW_MODEL, messages: [{ role: 'user', content: 'slow' }], max_tokens: 100 })
      .then(() => null)
      .catch((e: unknown) => e);
    // The hold is taken before the upstream is called.
    await eventually(() => fake.requests.length > upstreamBefore, 'the upstream call');
    expect((await world.balance(shop, 'alice'))!).toBeLessThan(before);
    await server.stop();
    const error = await pending;
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBeGreaterThanOrEqual(500);
    await eventually(async () => spooled().length === 1, 'the failed settlement in the spool', 5000);
    expect(spooled()[0].event).toMatchObject({ status: 'timeout', retailUnits: '0' });

    server = await startRedis({ port, dataDir });
    await eventually(async () => (await world.events(shop).catch(() => [])).length === eventsBefore + 1, 'the spooled event', 15_000);
    await eventually(async () => spooled().length === 0, 'the spool to empty', 5000);
    expect((await world.balance(shop, 'alice'))!).toBe(before);
    expect(await world.openHolds(shop)).toBe(0);
  });
});
