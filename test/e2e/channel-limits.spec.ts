import Redis from 'ioredis';
import { Client } from 'pg';
import { fromUnits, TokenPrice, trimDecimal } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { ChannelHealthProcessor } from '../../src/modules/channels/channel-health.processor';
import { ChannelsRuntime } from '../../src/modules/channels/runtime/channels-runtime';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { isolatedDatabase, uniqueSlug } from '../support/db';
import { FakeUpstream, startFakeOpenAI, startFakeServer } from '../support/fakes/openai';
import { call, HttpResult } from '../support/http';
import { signIn, TestTenant, Tokens } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld, sleep } from '../support/inference';
import { expectInvalidFields, expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';
import { startWebhookReceiver, WebhookReceiver } from '../support/webhook-receiver';

/**
 * A channel's own limits and its upstream account (issue 24), through the real proxy, Redis, the
 * worker and webhook delivery: requests per minute under a race (never more than the limit reach
 * the upstream; the rest fail over or are refused, and a refused request charges nothing), the
 * daily spend cap in upstream cost, an upstream out of quota (skipped, one
 * `provider.quota_exhausted` event per exhaustion, failover, enable again), the balance a
 * DeepSeek-style upstream reports, and the list's search.
 *
 * Its own database (the worker's health checks cover every channel) and its own Redis.
 */
const PRICE: TokenPrice = { inputPerMillion: '1', outputPerMillion: '2', cacheReadPerMillion: '0.5', cacheWritePerMillion: '1' };
const QUOTA_ERROR = { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } };

describe('channel limits and upstream quota (e2e)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let worker: RunningApp;
  let world: InferenceWorld;
  let shop: TestTenant;
  let owner: Tokens;
  let key: string;
  let receiver: WebhookReceiver;
  const fakes: FakeUpstream[] = [];

  const admin = (method: string, path: string, json?: unknown) => call(api.baseUrl, method, path, { host: world.platform.domain, token: owner.accessToken, json });
  const chat = (model: string, extra: Record<string, unknown> = {}) =>
    call(api.baseUrl, 'POST', '/v1/chat/completions', { host: shop.domain, token: key, json: { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 16, ...extra } });
  const chats = (fake: FakeUpstream) => fake.requests.filter((r) => r.path.endsWith('/chat/completions')).length;
  const fake = async () => {
    const f = await startFakeOpenAI();
    fakes.push(f);
    return f;
  };
  const model = async () => {
    const m = uniqueSlug('m-lim');
    await world.price(world.platform, m, PRICE);
    return m;
  };
  const routed = (id: string, check: (c: { status: string; version: string }) => boolean) =>
    eventually(() => {
      const c = api.app.get(ChannelsRuntime).router.channel(id);
      return Boolean(c && check(c));
    }, `channel ${id} in the routing table`);

  beforeAll(async () => {
    const database = await isolatedDatabase();
    const redisUrl = await isolatedRedisUrl();
    const overrides = {
      ...database,
      REDIS_URL: redisUrl,
      CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true',
      CHANNEL_REFRESH_SECONDS: '3600',
      CHANNEL_HEALTH_INTERVAL_SECONDS: '3600',
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      WEBHOOK_RELAY_INTERVAL_MS: '100',
      WEBHOOK_RETRY_BASE_MS: '100',
    };
    system = new Client({ connectionString: database.DATABASE_SYSTEM_URL });
    await system.connect();
    redis = new Redis(redisUrl);
    receiver = await startWebhookReceiver();
    [api, worker] = await Promise.all([startTestApi(overrides), startTestWorker(overrides)]);
    world = await new InferenceWorld(api, system, redis).init();
    owner = await signIn(api.baseUrl, world.platform, 'owner');
    shop = await world.reseller(['alice']);
    await world.credit(shop, 'alice', '100');
    key = await world.key(shop, 'alice');
    await api.app.get(BalanceService).ensureLoaded(shop.id, shop.users.alice.id);
    const hook = await admin('POST', '/api/v1/webhooks', { url: receiver.url('/platform'), events: ['provider.quota_exhausted'] });
    expect(hook.status).toBe(201);
  });

  afterAll(async () => {
    await Promise.all([api?.close(), worker?.close()]);
    await Promise.all(fakes.map((f) => f.close()));
    await receiver?.close();
    redis?.disconnect();
    await system?.end();
  });

  it('stores limits per channel, shows them, and refuses bad ones', async () => {
    const upstream = await fake();
    const m = await model();
    const created = await admin('POST', '/api/v1/channels', fakeChannel(upstream.url, m, { rpmLimit: 600, tpmLimit: 400000, dailySpendCap: '25.5' }));
    expect(created.status).toBe(201);
    expect(created.body.limits).toMatchObject({ rpm: 600, tpm: 400000, dailySpendCap: '25.5' });
    const patched = await admin('PATCH', `/api/v1/channels/${created.body.id}`, { rpmLimit: null, dailySpendCap: '3' });
    expect(patched.body.limits).toMatchObject({ rpm: null, tpm: 400000, dailySpendCap: '3' });
    const read = await admin('GET', `/api/v1/channels/${created.body.id}`);
    expect(read.body.limits).toMatchObject({ rpm: null, tpm: 400000, dailySpendCap: '3', spentToday: '0' });
    expect(read.body.breaker).toBe('closed');
    expectInvalidFields(await admin('PATCH', `/api/v1/channels/${created.body.id}`, { rpmLimit: 0 }), ['rpmLimit']);
    expectInvalidFields(await admin('PATCH', `/api/v1/channels/${created.body.id}`, { dailySpendCap: '-1' }), ['dailySpendCap']);
    expectInvalidFields(await admin('PATCH', `/api/v1/channels/${created.body.id}`, { dailySpendCap: 2.5 }), ['dailySpendCap']);
  });

  it('50 concurrent requests against a channel with rpm 10: exactly 10 reach it, the rest fail over to the next channel', async () => {
    const [limited, spare] = [await fake(), await fake()];
    const m = await model();
    await world.channel(fakeChannel(limited.url, m, { priority: 5, rpmLimit: 10 }));
    await world.channel(fakeChannel(spare.url, m, { priority: 1 }));
    const results = await Promise.all(Array.from({ length: 50 }, () => chat(m)));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(chats(limited)).toBe(10);
    expect(chats(spare)).toBe(40);
  });

  it('with no channel left, the client gets 429 in the OpenAI shape and is charged nothing', async () => {
    const only = await fake();
    const m = await model();
    const id = await world.channel(fakeChannel(only.url, m, { rpmLimit: 10 }));
    const before = (await world.balance(shop, 'alice'))!;
    const eventsBefore = (await world.events(shop)).length;
    const results: HttpResult[] = await Promise.all(Array.from({ length: 50 }, () => chat(m)));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    expect(ok).toHaveLength(10);
    expect(chats(only)).toBe(10);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body).toEqual({ error: { message: expect.stringMatching(/rate limit/), type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } });
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
    await eventually(async () => (await world.events(shop)).length === eventsBefore + 50, 'every request settled');
    const events = (await world.events(shop)).slice(eventsBefore);
    const charged = events.filter((e) => e.status === 'ok');
    expect(charged).toHaveLength(10);
    for (const e of events.filter((e) => e.status !== 'ok')) {
      expect(e).toMatchObject({ retailUnits: '0', wholesaleUnits: '0', upstreamUnits: '0', errorCode: 'rate_limit_exceeded' });
    }
    const spent = charged.reduce((sum, e) => sum + BigInt(e.retailUnits), 0n);
    expect(spent).toBeGreaterThan(0n);
    expect(before - (await world.balance(shop, 'alice'))!).toBe(spent);
    expect(await world.openHolds(shop)).toBe(0);
    const view = await admin('GET', `/api/v1/channels/${id}`);
    expect(view.body.limits.requestsLastMinute).toBe(10);
  });

  it('a daily spend cap in upstream cost: a channel past it is skipped, the day’s spend is what the calls really cost', async () => {
    const capped = await fake();
    const m = await model();
    // Upstream cost 1000 per million tokens (a million nano-units per token): FAKE_USAGE costs 0.014 and a
    // request's estimate (its prompt and max_tokens 16) about twice that.
    const costs = [{ model: 'fake-model', inputPerMillion: '1000', outputPerMillion: '1000', cachedInputPerMillion: '1000' }];
    const id = await world.channel(fakeChannel(capped.url, m, { costs, dailySpendCap: '0.1' }));
    let refusedAt = -1;
    for (let i = 0; i < 20 && refusedAt < 0; i += 1) {
      const res = await chat(m);
      if (res.status !== 200) {
        refusedAt = i;
        expect(res.status).toBe(503);
        expect(res.body.error).toMatchObject({ type: 'api_error', code: 'no_available_channel' });
        expect(res.body.error.message).toMatch(/daily spend cap/);
      }
    }
    expect(refusedAt).toBeGreaterThan(0);
    expect(chats(capped)).toBe(refusedAt);
    const okEvents = (await world.events(shop)).filter((e) => e.channelId === id && e.status === 'ok');
    expect(okEvents).toHaveLength(refusedAt);
    const upstreamSpent = okEvents.reduce((sum, e) => sum + BigInt(e.upstreamUnits), 0n);
    await eventually(async () => (await admin('GET', `/api/v1/channels/${id}`)).body.limits.spentToday === trimDecimal(fromUnits(upstreamSpent)), 'the spend reconciled to the real cost');
    expect(upstreamSpent).toBeLessThanOrEqual(100_000_000n);
    // Raising the cap lets the channel serve again.
    await admin('PATCH', `/api/v1/channels/${id}`, { dailySpendCap: '1' });
    await routed(id, (c) => (c as unknown as { limits: { dailySpendCapUnits: bigint } }).limits.dailySpendCapUnits === 1_000_000_000n);
    expect((await chat(m)).status).toBe(200);
  });

  it('an upstream out of quota: skipped with failover, marked quota-exhausted with one webhook event, enabled again', async () => {
    const [broke, spare] = [await fake(), await fake()];
    broke.fallback = { kind: 'status', status: 429, body: QUOTA_ERROR };
    const m = await model();
    const id = await world.channel(fakeChannel(broke.url, m, { priority: 5 }));
    await world.channel(fakeChannel(spare.url, m, { priority: 1 }));
    const results = await Promise.all(Array.from({ length: 8 }, () => chat(m)));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    await eventually(async () => (await admin('GET', `/api/v1/channels/${id}`)).body.status === 'quota_exhausted', 'the channel marked quota-exhausted');
    const view = await admin('GET', `/api/v1/channels/${id}`);
    expect(view.body.statusReason).toMatch(/quota exhausted: the upstream answered 429/);
    const hitsBefore = chats(broke);
    expect(hitsBefore).toBeGreaterThanOrEqual(1);
    await routed(id, (c) => c.status === 'quota_exhausted');
    for (let i = 0; i < 5; i += 1) expect((await chat(m)).status).toBe(200);
    expect(chats(broke)).toBe(hitsBefore);

    // Another api instance that saw the refusal before the change reached it queues its own job later: it changes nothing.
    expect(await worker.app.get(ChannelHealthProcessor).quotaExhausted({ channelId: id, upstreamStatus: 429, reason: 'seen late by another instance' })).toBe(false);
    const delivered = () => receiver.received.filter((r) => r.path === '/platform' && JSON.parse(r.body).data?.channel?.id === id);
    await eventually(() => delivered().length >= 1, 'the webhook delivered', 15_000);
    await sleep(500);
    expect(delivered()).toHaveLength(1);
    const event = JSON.parse(delivered()[0].body);
    expect(event).toMatchObject({ type: 'provider.quota_exhausted', data: { channel: { id, provider: 'openai' }, upstreamStatus: 429 } });
    const { rows } = await system.query(`SELECT count(*)::int AS n FROM webhook_events WHERE type = 'provider.quota_exhausted' AND data->'channel'->>'id' = $1`, [id]);
    expect(rows[0].n).toBe(1);
    const audit = await system.query(`SELECT 1 FROM audit_log WHERE action = 'channel.quota_exhausted' AND subject_id = $1`, [id]);
    expect(audit.rowCount).toBe(1);

    // Enabled again (the account was topped up): routed first again; a new exhaustion is a new event.
    broke.fallback = { kind: 'ok' };
    expect((await admin('POST', `/api/v1/channels/${id}/enable`)).body).toMatchObject({ status: 'enabled', statusReason: null });
    await routed(id, (c) => c.status === 'enabled');
    expect((await chat(m)).status).toBe(200);
    expect(chats(broke)).toBe(hitsBefore + 1);
    broke.fallback = { kind: 'status', status: 429, body: QUOTA_ERROR };
    expect((await chat(m)).status).toBe(200);
    await eventually(() => delivered().length === 2, 'the second exhaustion delivered', 15_000);
  });

  it('a plain 429 (rate limit) is not an exhausted quota', async () => {
    const busy = await fake();
    busy.fallback = { kind: 'status', status: 429, body: { error: { message: 'Rate limit reached for requests', type: 'requests', param: null, code: 'rate_limit_exceeded' } } };
    const m = await model();
    const id = await world.channel(fakeChannel(busy.url, m, { retryBudget: 0 }));
    expect((await chat(m)).status).toBe(429);
    await sleep(300);
    expect((await admin('GET', `/api/v1/channels/${id}`)).body.status).toBe('enabled');
  });

  it("shows a DeepSeek channel's balance, and an empty balance marks the channel quota-exhausted", async () => {
    let balance = '110.50';
    const deepseek = await startFakeServer({
      keyOf: (req) => /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1],
      errorBody: (status, message) => ({ error: { message, type: 'invalid_request_error', param: null, code: null } }),
      handle: (ctx) =>
        ctx.url.pathname === '/user/balance'
          ? ctx.json(200, { is_available: balance !== '0.00', balance_infos: [{ currency: 'CNY', total_balance: balance, granted_balance: '0.00', topped_up_balance: balance }] })
          : ctx.json(404, { error: { message: 'not here' } }),
    });
    fakes.push(deepseek);
    const m = await model();
    const id = await world.channel(fakeChannel(deepseek.url, m, { settings: { preset: 'deepseek' } }));
    const read = await admin('POST', `/api/v1/channels/${id}/balance`);
    expect(read.status).toBe(200);
    expect(read.body.balance).toMatchObject({ amount: '110.5', currency: 'CNY', error: null });
    expect(deepseek.requests.map((r) => r.path)).toContain('/user/balance');
    expect((await admin('GET', '/api/v1/channels/presets')).body.find((p: { id: string }) => p.id === 'deepseek').reportsBalance).toBe(true);

    balance = '0.00';
    expect((await admin('POST', `/api/v1/channels/${id}/balance`)).body.balance.amount).toBe('0');
    await eventually(async () => (await admin('GET', `/api/v1/channels/${id}`)).body.status === 'quota_exhausted', 'the empty channel marked');
    expect((await admin('GET', `/api/v1/channels/${id}`)).body.statusReason).toMatch(/balance of 0.00 CNY/);
    await eventually(() => receiver.received.some((r) => JSON.parse(r.body).data?.channel?.id === id), 'its webhook delivered', 15_000);

    const plain = await world.channel(fakeChannel(deepseek.url, await model()));
    expectProblem(await admin('POST', `/api/v1/channels/${plain}/balance`), 400, 'channel_no_balance');
  });

  it('searches the list by name, model, type and status, paginated like every list', async () => {
    const upstream = await fake();
    const tag = uniqueSlug('srch');
    const m = await model();
    await world.channel(fakeChannel(upstream.url, m, { name: `${tag}-alpha` }));
    const beta = await world.channel(fakeChannel(upstream.url, `${tag}-special-model`, { name: `${tag}-beta` }));
    await world.disableChannel(beta);
    const byName = await admin('GET', `/api/v1/channels?q=${tag}&pageSize=1`);
    expect(byName.body).toMatchObject({ page: 1, pageSize: 1, total: 2 });
    expect(byName.body.items).toHaveLength(1);
    const byModel = await admin('GET', `/api/v1/channels?model=${tag}-special`);
    expect(byModel.body.items.map((c: { id: string }) => c.id)).toEqual([beta]);
    expect((await admin('GET', `/api/v1/channels?q=${tag}&status=disabled`)).body.items.map((c: { id: string }) => c.id)).toEqual([beta]);
    expect((await admin('GET', `/api/v1/channels?q=${tag}&provider=anthropic`)).body.total).toBe(0);
    expect((await admin('GET', `/api/v1/channels?q=${encodeURIComponent('%')}`)).body.total).toBe(0);
  });
});
