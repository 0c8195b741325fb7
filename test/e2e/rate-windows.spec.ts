import Redis from 'ioredis';
import { Client } from 'pg';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { BillingEngine, billingKeys, rateWindowCounter } from '../../libs/billing/src';
import { TokenPrice } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { dayEndMs } from '../../src/modules/limits/budget-periods';
import { LimitsRuntime } from '../../src/modules/limits/limits-runtime';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, signIn, TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';
import { expectInvalidFields, expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';
import { scaled } from '../support/timing';
import { usageEvent } from '../support/usage';

/**
 * Hourly and daily windows besides the minute (issue 26): requests and tokens per clock hour and
 * per day (the tenant's time-zone day) for keys, customers and tenants, stored in the database,
 * checked and counted in the same Lua step as the hold (all or nothing), corrected at settlement
 * like the minute's token counters, and exact under a race through two api instances.
 */
const PRICE: TokenPrice = { inputPerMillion: '1', outputPerMillion: '2' };
const HOUR = 3_600_000;
// A test may first wait out the end of an hour or a day (at most 90 s), then run as usual.
jest.setTimeout(scaled(30_000) + 95_000);

/**
 * Waits out the last seconds of a clock hour, so a test's requests all fall in one hour and a
 * refusal's Retry-After is longer than a minute's (checked to tell the window from the minute).
 */
async function awayFromHourEnd(margin = 90_000): Promise<void> {
  const left = HOUR - (Date.now() % HOUR);
  if (left < margin) await delay(left + 50);
}

/** The same for a tenant's day (its time zone's midnight). */
async function awayFromDayEnd(system: Client, tenantId: string): Promise<void> {
  const tz = (await system.query(`SELECT time_zone FROM tenants WHERE id = $1`, [tenantId])).rows[0].time_zone as string;
  const left = dayEndMs(Date.now(), tz) - Date.now();
  if (left < 90_000) await delay(left + 50);
}

describe('hourly and daily rate windows (e2e)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let api2: RunningApp;
  let fake: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let other: TestTenant;
  let platform: TestTenant;
  const tokens = new Map<string, string>();
  const model = uniqueSlug('m-windows');

  const admin = (t: TestTenant, who: string, method: string, path: string, json?: unknown) => call(api.baseUrl, method, path, { host: t.domain, token: tokens.get(`${t.slug}:${who}`)!, json });
  const complete = (tenant: TestTenant, secret: string, extra: Record<string, unknown> = {}, base = api.baseUrl) =>
    call(base, 'POST', '/v1/chat/completions', { host: tenant.domain, headers: { authorization: `Bearer ${secret}` }, json: { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 20, ...extra } });
  const customerKey = async (tenant: TestTenant, customer: string, extra: Record<string, unknown> = {}) => {
    await world.credit(tenant, customer, '100');
    const secret = await world.key(tenant, customer, extra);
    await api.app.get(BalanceService).ensureLoaded(tenant.id, tenant.users[customer].id);
    return secret;
  };
  /** The 429 of a window: its message, Retry-After and x-ratelimit headers. */
  const expectWindowRefusal = (res: HttpResult, message: string, kind: 'requests' | 'tokens', limit: number, resetAtMs: number) => {
    expect(res.status).toBe(429);
    expect(res.body.error).toMatchObject({ code: 'rate_limit_exceeded', message });
    const retry = Number(res.headers['retry-after']);
    const expected = Math.ceil((resetAtMs - Date.now()) / 1000);
    expect(retry).toBeGreaterThan(60); // not the minute's
    expect(Math.abs(retry - expected)).toBeLessThanOrEqual(5);
    expect(res.headers[`x-ratelimit-limit-${kind}`]).toBe(String(limit));
    expect(res.headers[`x-ratelimit-remaining-${kind}`]).toBe('0');
    expect(res.headers[`x-ratelimit-reset-${kind}`]).toBe(`${retry}s`);
  };

  beforeAll(async () => {
    system = await connectAs('system');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    fake = await startFakeOpenAI();
    const env = { REDIS_URL: redisUrl, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600' };
    api = await startTestApi(env);
    api2 = await startTestApi(env);
    world = await new InferenceWorld(api, system, redis).init();
    await world.price(world.platform, model, PRICE);
    await world.channel(fakeChannel(fake.url, model, { retryBudget: 0 }));
    shop = await world.reseller(['alice', 'bob', 'carol', 'dan']);
    other = await world.reseller(['zed']);
    platform = await platformWithUsers(system, { owner: ['owner'], operator: ['operator'], finance: ['finance'] });
    for (const t of [shop, other, platform]) for (const who of Object.keys(t.users)) tokens.set(`${t.slug}:${who}`, (await signIn(api.baseUrl, t, who)).accessToken);
  });

  afterAll(async () => {
    await api2?.close();
    await api?.close();
    await fake?.close();
    redis?.disconnect();
    await system?.end();
  });

  it('stores the windows of customers (the owner), tenants (the platform) and keys, positive integers or null', async () => {
    const alice = shop.users.alice.id;
    const windows = { rph: 100, rpd: 1000, tph: 50_000, tpd: 400_000 };
    expectProblem(await admin(shop, 'finance', 'PUT', `/api/v1/customers/${alice}/limits`, windows), 403, 'forbidden');
    expectProblem(await admin(shop, 'alice', 'PUT', `/api/v1/customers/${alice}/limits`, { rph: 1_000_000 }), 403, 'forbidden');
    expectProblem(await admin(other, 'owner', 'PUT', `/api/v1/customers/${alice}/limits`, windows), 404, 'not_found');
    expectInvalidFields(await admin(shop, 'owner', 'PUT', `/api/v1/customers/${alice}/limits`, { rph: 0, tpd: -5, rpd: 1.5 }), ['rph', 'tpd', 'rpd']);
    // Below the minute's limit is allowed (the minute then never binds): nothing to refuse.
    const set = await admin(shop, 'owner', 'PUT', `/api/v1/customers/${alice}/limits`, { rpm: 500, ...windows });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ rpm: { stored: 500 }, rph: { stored: 100, effective: 100 }, rpd: { stored: 1000 }, tph: { stored: 50_000 }, tpd: { stored: 400_000, effective: 400_000 } });
    const cleared = await admin(shop, 'owner', 'PUT', `/api/v1/customers/${alice}/limits`, { rph: null });
    expect(cleared.body).toMatchObject({ rph: { stored: null, effective: 0 }, rpd: { stored: 1000 }, rpm: { stored: 500 } });
    expect((await admin(shop, 'finance', 'GET', `/api/v1/customers/${alice}/limits`)).body.tph.stored).toBe(50_000);

    // A reseller may not set its own tenant's windows; the platform's owner and operator may; its finance may not.
    expectProblem(await admin(shop, 'owner', 'PUT', `/api/v1/tenants/${shop.id}/limits`, { rph: 1_000_000 }), 403, 'forbidden');
    expectProblem(await admin(platform, 'finance', 'PUT', `/api/v1/tenants/${shop.id}/limits`, { rph: 10 }), 403, 'forbidden');
    const tenant = await admin(platform, 'operator', 'PUT', `/api/v1/tenants/${shop.id}/limits`, { tpd: 9_000_000_000 });
    expect(tenant.status).toBe(200);
    expect(tenant.body).toMatchObject({ tpd: { stored: 9_000_000_000 }, rph: { stored: null, effective: 0 } });
    expect((await admin(shop, 'owner', 'GET', `/api/v1/tenants/${shop.id}/limits`)).body.tpd.stored).toBe(9_000_000_000);
    expect((await admin(platform, 'owner', 'PUT', `/api/v1/tenants/${shop.id}/limits`, { tpd: null })).status).toBe(200);

    // Keys: on create and update, by the key's customer as the per-minute limits are.
    const created = await call(api.baseUrl, 'POST', '/api/v1/keys', { host: shop.domain, token: tokens.get(`${shop.slug}:alice`)!, json: { name: 'windows', rphLimit: 7, tpdLimit: 2_000_000_000_000 } });
    expectInvalidFields(created, ['tpdLimit']);
    const key = await call(api.baseUrl, 'POST', '/api/v1/keys', { host: shop.domain, token: tokens.get(`${shop.slug}:alice`)!, json: { name: 'windows', rphLimit: 7, tpdLimit: 900_000 } });
    expect(key.status).toBe(201);
    expect(key.body).toMatchObject({ rphLimit: 7, rpdLimit: null, tphLimit: null, tpdLimit: 900_000 });
    const updated = await admin(shop, 'alice', 'PATCH', `/api/v1/keys/${key.body.id}`, { rphLimit: null, rpdLimit: 20 });
    expect(updated.body).toMatchObject({ rphLimit: null, rpdLimit: 20, tpdLimit: 900_000 });
    // Reset for the other tests.
    await admin(shop, 'owner', 'PUT', `/api/v1/customers/${alice}/limits`, { rpm: null, rph: null, rpd: null, tph: null, tpd: null });
  });

  it("refuses a key's (n+1)th request of the hour with the window's 429, and holds, counts and charges nothing for it", async () => {
    await awayFromHourEnd();
    const secret = await customerKey(shop, 'bob', { rphLimit: 3 });
    for (let i = 0; i < 3; i++) {
      const ok = await complete(shop, secret);
      expect(ok.status).toBe(200);
      // A successful answer keeps the minute's headers (none here: no per-minute limit applies).
      expect(ok.headers['x-ratelimit-limit-requests']).toBeUndefined();
    }
    const hour = Math.floor(Date.now() / HOUR);
    const keyId = (await system.query(`SELECT id FROM api_keys WHERE customer_id = $1`, [shop.users.bob.id])).rows[0].id as string;
    const counter = `${billingKeys.tag(shop.id)}:${rateWindowCounter('key', keyId, 'requests', 'hour', hour)}`;
    await eventually(async () => (await world.openHolds(shop)) === 0, 'the three settled');
    const balance = await world.balance(shop, 'bob');
    const events = (await world.events(shop)).length;

    const refused = await complete(shop, secret);
    expectWindowRefusal(refused, 'Rate limit reached: 3 requests per hour for this API key.', 'requests', 3, (hour + 1) * HOUR);
    expect(await redis.get(counter)).toBe('3');
    const ttl = await redis.ttl(counter);
    expect(ttl).toBeGreaterThan(3600);
    expect(ttl).toBeLessThanOrEqual(7200);
    expect(await world.openHolds(shop)).toBe(0);
    expect(await world.balance(shop, 'bob')).toBe(balance);
    await delay(200);
    expect((await world.events(shop)).length).toBe(events);
  });

  it("corrects a customer's daily token window at settlement: an estimate above the use leaves room for the next request", async () => {
    const carol = shop.users.carol.id;
    await awayFromDayEnd(system, shop.id);
    // One request holds about 10 + 1000 tokens and uses 16 (the fake's usage): a second fits only after the correction.
    expect((await admin(shop, 'owner', 'PUT', `/api/v1/customers/${carol}/limits`, { tpd: 1500 })).status).toBe(200);
    const secret = await customerKey(shop, 'carol');
    const first = await complete(shop, secret, { max_tokens: 1000 });
    expect(first.status).toBe(200);
    const counter = (await redis.keys(`${billingKeys.tag(shop.id)}:rl:c:${carol}:tok:d:*`))[0];
    expect(counter).toBeDefined();
    await eventually(async () => Number(await redis.get(counter)) < 100, 'the settlement correction');
    const second = await complete(shop, secret, { max_tokens: 1000 });
    expect(second.status).toBe(200);
    await eventually(async () => (await world.openHolds(shop)) === 0, 'both settled');
    const used = (await world.events(shop)).filter((e) => e.customerId === carol).reduce((sum, e) => sum + (e.quantity ?? 0), 0);
    expect(Number(await redis.get(counter))).toBe(used);
    const ttl = await redis.ttl(counter);
    expect(ttl).toBeGreaterThan(86_400);
    expect(ttl).toBeLessThanOrEqual(172_800);
    // Two more estimates do not fit in what is left of the day: the third of this size is refused, naming the window.
    const third = await complete(shop, secret, { max_tokens: 1490 });
    const tz = (await system.query(`SELECT time_zone FROM tenants WHERE id = $1`, [shop.id])).rows[0].time_zone as string;
    expectWindowRefusal(third, 'Rate limit reached: 1500 tokens per day for this account.', 'tokens', 1500, dayEndMs(Date.now(), tz));
    expect(Number(await redis.get(counter))).toBe(used);
  });

  it('counts a request at the hour boundary in the hour it started, and settles it there', async () => {
    const dan = shop.users.dan.id;
    expect((await admin(shop, 'owner', 'PUT', `/api/v1/customers/${dan}/limits`, { rph: 1, tph: 5000 })).status).toBe(200);
    const runtime = api.app.get(LimitsRuntime);
    const boundary = (Math.floor(Date.now() / HOUR) + 1) * HOUR;
    const before = await runtime.forRequest(shop.id, dan, 'k', boundary - 1);
    const after = await runtime.forRequest(shop.id, dan, 'k', boundary);
    expect(before.windows.map((w) => w.name)).toEqual([rateWindowCounter('customer', dan, 'requests', 'hour', boundary / HOUR - 1), rateWindowCounter('customer', dan, 'tokens', 'hour', boundary / HOUR - 1)]);
    expect(after.windows.map((w) => w.name)).toEqual([rateWindowCounter('customer', dan, 'requests', 'hour', boundary / HOUR), rateWindowCounter('customer', dan, 'tokens', 'hour', boundary / HOUR)]);
    expect(before.windows[0].resetAtMs).toBe(boundary);

    await world.credit(shop, 'dan', '10');
    await api.app.get(BalanceService).ensureLoaded(shop.id, dan);
    const engine = new BillingEngine(redis);
    const tag = billingKeys.tag(shop.id);
    const keyId = randomUUID();
    const [r1, r2, r3] = [randomUUID(), randomUUID(), randomUUID()];
    const hold = (requestId: string, atMs: number, windows = before.windows) =>
      engine.hold({ requestId, tenantId: shop.id, customerId: dan, keyId, holdUnits: 5n, tokenEstimate: 1000, limits: {}, keySpendLimitUnits: null, windows, nowMs: atMs });
    // Admitted one millisecond before the hour ends: it counts in that hour...
    expect((await hold(r1, boundary - 1)).ok).toBe(true);
    expect(await redis.get(`${tag}:${before.windows[0].name}`)).toBe('1');
    expect(await redis.hget(billingKeys.hold(shop.id, r1), 'rw')).toBe(before.windows[1].name);
    // ...so a second request of that hour is refused, with the seconds to its end...
    expect(await hold(r2, boundary - 1000)).toEqual({ ok: false, reason: 'rate_limited', scope: 'customer', kind: 'requests', limit: 1, retryAfterSeconds: 1, window: 'hour' });
    // ...while the next hour starts empty: the full previous hour does not count in it.
    expect((await hold(r3, boundary, after.windows)).ok).toBe(true);
    // Settled after the hour turned, the first request's tokens are corrected in the hour it started.
    const event = usageEvent({ requestId: r1, tenantId: shop.id, customerId: dan, apiKeyId: keyId, retailUnits: '2' });
    expect((await engine.settle({ event, actualTokens: 40 })).settled).toBe(true);
    expect(await redis.get(`${tag}:${before.windows[1].name}`)).toBe('40');
    expect(await redis.get(`${tag}:${after.windows[1].name}`)).toBe('1000');
    expect((await engine.settle({ event: usageEvent({ requestId: r3, tenantId: shop.id, customerId: dan, apiKeyId: keyId, retailUnits: '2' }), actualTokens: 10 })).settled).toBe(true);
    expect(await redis.get(`${tag}:${after.windows[1].name}`)).toBe('10');
  });

  it("refuses a tenant's (n+1)th request of its day, with the seconds to the tenant's midnight", async () => {
    await awayFromDayEnd(system, other.id);
    expect((await admin(platform, 'owner', 'PUT', `/api/v1/tenants/${other.id}/limits`, { rpd: 2 })).status).toBe(200);
    const secret = await customerKey(other, 'zed');
    expect((await complete(other, secret)).status).toBe(200);
    expect((await complete(other, secret)).status).toBe(200);
    const refused = await complete(other, secret);
    const tz = (await system.query(`SELECT time_zone FROM tenants WHERE id = $1`, [other.id])).rows[0].time_zone as string;
    expectWindowRefusal(refused, 'Rate limit reached: 2 requests per day for this organization.', 'requests', 2, dayEndMs(Date.now(), tz));
  });

  it('admits exactly 50 of 200 requests racing through two api instances against an hourly limit of 50', async () => {
    await awayFromHourEnd(60_000);
    const alice = shop.users.alice.id;
    expect((await admin(shop, 'owner', 'PUT', `/api/v1/customers/${alice}/limits`, { rph: 50 })).status).toBe(200);
    await world.credit(shop, 'alice', '100');
    const secret = await world.key(shop, 'alice');
    await api.app.get(BalanceService).ensureLoaded(shop.id, alice);
    await eventually(async () => (await api2.app.get(LimitsRuntime).forRequest(shop.id, alice, 'k', Date.now())).windows.length === 1, 'the window on api2');
    const eventsBefore = (await world.events(shop)).filter((e) => e.customerId === alice).length;

    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => complete(shop, secret, {}, i % 2 ? api2.baseUrl : api.baseUrl)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(50);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused).toHaveLength(150);
    expect(refused[0].body.error.message).toBe('Rate limit reached: 50 requests per hour for this account.');
    expect(await redis.get(`${billingKeys.tag(shop.id)}:${rateWindowCounter('customer', alice, 'requests', 'hour', Math.floor(Date.now() / HOUR))}`)).toBe('50');
    await eventually(async () => (await world.events(shop)).filter((e) => e.customerId === alice).length - eventsBefore >= 50, 'every usage event');
    await delay(200);
    expect((await world.events(shop)).filter((e) => e.customerId === alice).length - eventsBefore).toBe(50);
    expect(await world.openHolds(shop)).toBe(0);
  });
});
