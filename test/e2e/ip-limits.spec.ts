import Redis from 'ioredis';
import { Client } from 'pg';
import { TokenPrice } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, signIn, TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld, sleep } from '../support/inference';
import { expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';

/**
 * Requests per minute per client address on /v1 (issue 26): a tenant's setting (the platform's)
 * over INFERENCE_IP_RPM, checked before the hold, so a refused request holds and charges nothing.
 * The api trusts a proxy here, so X-Forwarded-For gives the client address.
 */
const PRICE: TokenPrice = { inputPerMillion: '1', outputPerMillion: '2' };

describe('per-address limits on /v1 (e2e)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let fake: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let quiet: TestTenant;
  let platform: TestTenant;
  const tokens = new Map<string, string>();
  const model = uniqueSlug('m-iplim');

  const admin = (t: TestTenant, who: string, method: string, path: string, json?: unknown) =>
    call(api.baseUrl, method, path, { host: t.domain, token: tokens.get(`${t.slug}:${who}`)!, json });
  const complete = (t: TestTenant, secret: string, ip: string) =>
    call(api.baseUrl, 'POST', '/v1/chat/completions', {
      host: t.domain,
      headers: { authorization: `Bearer ${secret}`, 'x-forwarded-for': ip },
      json: { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 },
    });
  const keyOf = async (t: TestTenant, customer: string) => {
    await world.credit(t, customer, '100');
    const secret = await world.key(t, customer);
    await api.app.get(BalanceService).ensureLoaded(t.id, t.users[customer].id);
    return secret;
  };
  /** Starts a test early in a minute, so its requests share one (the counters are per minute). */
  const atMinuteStart = async () => {
    const into = Date.now() % 60_000;
    if (into > 30_000) await new Promise((r) => setTimeout(r, 60_000 - into + 50));
  };
  const expectIpRefusal = (res: HttpResult, limit: number) => {
    expect(res.status).toBe(429);
    expect(res.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(res.body.error.message).toMatch(new RegExp(`${limit} requests per minute from this client address`));
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(res.headers['x-ratelimit-limit-requests']).toBe(String(limit));
    expect(res.headers['x-ratelimit-remaining-requests']).toBe('0');
  };

  beforeAll(async () => {
    system = await connectAs('system');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    fake = await startFakeOpenAI();
    api = await startTestApi({ REDIS_URL: redisUrl, TRUST_PROXY: 'true', INFERENCE_IP_RPM: '5', CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600' });
    world = await new InferenceWorld(api, system, redis).init();
    await world.price(world.platform, model, PRICE);
    await world.channel(fakeChannel(fake.url, model, { retryBudget: 0 }));
    shop = await world.reseller(['alice', 'bob']);
    quiet = await world.reseller(['zed']);
    platform = await platformWithUsers(system, { owner: ['owner'] });
    for (const t of [shop, quiet, platform]) for (const who of Object.keys(t.users)) tokens.set(`${t.slug}:${who}`, (await signIn(api.baseUrl, t, who)).accessToken);
  });

  afterAll(async () => {
    await api?.close();
    await fake?.close();
    redis?.disconnect();
    await system?.end();
  });

  it('is a tenant setting the platform edits, over the environment default; the reseller may not', async () => {
    expect((await admin(shop, 'owner', 'GET', `/api/v1/tenants/${shop.id}/limits`)).body.ipRpm).toEqual({ stored: null, effective: 5 });
    expectProblem(await admin(shop, 'owner', 'PUT', `/api/v1/tenants/${shop.id}/limits`, { ipRpm: 0 }), 403, 'forbidden');
    const set = await admin(platform, 'owner', 'PUT', `/api/v1/tenants/${shop.id}/limits`, { ipRpm: 3 });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ ipRpm: { stored: 3, effective: 3 }, rpm: { stored: null } });
    expectProblem(await admin(platform, 'owner', 'PUT', `/api/v1/tenants/${shop.id}/limits`, { ipRpm: -1 }), 400, 'validation_failed');
  });

  it('admits at most the limit from one address under a race, refuses the rest with 429 and Retry-After, and leaves another address alone', async () => {
    const alice = await keyOf(shop, 'alice');
    const bob = await keyOf(shop, 'bob');
    await atMinuteStart();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => complete(shop, i % 2 === 0 ? alice : bob, '203.0.113.10')));
    const admitted = results.filter((r) => r.status === 200);
    expect(admitted).toHaveLength(3);
    for (const r of results.filter((x) => x.status !== 200)) expectIpRefusal(r, 3);
    // Another client address of the same tenant and key still gets its own three.
    for (let i = 0; i < 3; i++) expect((await complete(shop, alice, '198.51.100.20')).status).toBe(200);
    expectIpRefusal(await complete(shop, alice, '198.51.100.20'), 3);
    // Another tenant: the environment's default (5) for the same address, its own counter.
    const zed = await keyOf(quiet, 'zed');
    const other = await Promise.all(Array.from({ length: 6 }, () => complete(quiet, zed, '203.0.113.10')));
    expect(other.filter((r) => r.status === 200)).toHaveLength(5);
    expectIpRefusal(other.find((r) => r.status === 429)!, 5);
  });

  it('counts /v1/messages/count_tokens too (free, but not unlimited from one address)', async () => {
    const tenant = await world.reseller(['cat']);
    const secret = await keyOf(tenant, 'cat');
    expect((await admin(platform, 'owner', 'PUT', `/api/v1/tenants/${tenant.id}/limits`, { ipRpm: 2 })).status).toBe(200);
    await atMinuteStart();
    const count = (ip: string) =>
      call(api.baseUrl, 'POST', '/v1/messages/count_tokens', {
        host: tenant.domain,
        headers: { 'x-api-key': secret, 'anthropic-version': '2023-06-01', 'x-forwarded-for': ip },
        json: { model, messages: [{ role: 'user', content: 'hello there' }] },
      });
    const results = await Promise.all(Array.from({ length: 4 }, () => count('203.0.113.77')));
    expect(results.filter((r) => r.status === 200)).toHaveLength(2);
    for (const r of results.filter((x) => x.status === 200)) expect(r.body.input_tokens).toBeGreaterThan(0);
    const refused = results.find((r) => r.status === 429)!;
    expect(refused.body).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(refused.body.error.message).toMatch(/2 requests per minute from this client address/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // The same address's chat completions share that count; another address has its own.
    expect((await complete(tenant, secret, '203.0.113.77')).status).toBe(429);
    expect((await count('198.51.100.77')).status).toBe(200);
  });

  it('charges nothing for a refused request: balance, holds and usage events unchanged', async () => {
    const secret = await keyOf(quiet, 'zed');
    await atMinuteStart();
    const ip = '192.0.2.33';
    for (let i = 0; i < 5; i++) expect((await complete(quiet, secret, ip)).status).toBe(200);
    await eventually(async () => (await world.openHolds(quiet)) === 0, 'the admitted requests settle');
    const balance = await world.balance(quiet, 'zed');
    const events = (await world.events(quiet)).length;
    const holds = await world.openHolds(quiet);
    // The gateway's calls only: another spec's worker may health-check this channel meanwhile (a 'ping').
    const proxied = () => fake.requests.filter((r) => r.body?.messages?.[0]?.content !== 'ping').length;
    const upstreamCalls = proxied();
    expectIpRefusal(await complete(quiet, secret, ip), 5);
    await sleep(300);
    expect(await world.balance(quiet, 'zed')).toBe(balance);
    expect((await world.events(quiet)).length).toBe(events);
    expect(await world.openHolds(quiet)).toBe(holds);
    expect(proxied()).toBe(upstreamCalls);
  });
});
