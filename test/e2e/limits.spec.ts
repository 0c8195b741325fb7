import Redis from 'ioredis';
import { Client } from 'pg';
import { setTimeout as delay } from 'node:timers/promises';
import { BillingEngine, billingKeys } from '../../libs/billing/src';
import { TokenPrice } from '@app/money';
import { InflightLeases } from '../../src/modules/inference/inflight-leases';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, signIn, TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';
import { expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';
import { scaled, waitUntil } from '../support/timing';
import { usageEvent } from '../support/usage';

/**
 * Rate-limit headers on every admitted /v1 answer, limits stored in the database and edited
 * through the API (the platform for tenants, the owner for customers) with the environment as the
 * default, and concurrency caps: over the cap 429 at once, and a request whose process died frees
 * its slot when its lease runs out, while a request that is merely long keeps its hold and slot.
 */
// The headers test may first wait out the end of a minute (at most 15 s).
jest.setTimeout(scaled(30_000) + 20_000);

const PRICE: TokenPrice = { inputPerMillion: '1', outputPerMillion: '2' };

describe('limits (e2e)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let fake: FakeUpstream;
  let world: InferenceWorld;
  let redisUrl: string;
  let shop: TestTenant;
  let other: TestTenant;
  let platform: TestTenant;
  const tokens = new Map<string, string>();
  const model = uniqueSlug('m-limits');

  const as = (t: TestTenant, who: string) => ({ host: t.domain, token: tokens.get(`${t.slug}:${who}`)! });
  const admin = (t: TestTenant, who: string, method: string, path: string, json?: unknown) => call(api.baseUrl, method, path, { ...as(t, who), json });
  const complete = (secret: string, extra: Record<string, unknown> = {}) =>
    call(api.baseUrl, 'POST', '/v1/chat/completions', {
      host: shop.domain,
      headers: { authorization: `Bearer ${secret}` },
      json: { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 50, ...extra },
    });
  const rate = (res: HttpResult, kind: 'requests' | 'tokens') => ({
    limit: res.headers[`x-ratelimit-limit-${kind}`],
    remaining: res.headers[`x-ratelimit-remaining-${kind}`],
    reset: res.headers[`x-ratelimit-reset-${kind}`],
  });
  const keyIdOf = async (customer: string, concurrencyLimit: number) => {
    const keys = await admin(shop, customer, 'GET', '/api/v1/keys');
    if (!keys.body.items) throw new Error(`keys of ${customer}: ${keys.status} ${JSON.stringify(keys.body)}`);
    return (keys.body.items as Array<{ id: string; concurrencyLimit: number | null }>).find((k) => k.concurrencyLimit === concurrencyLimit)!.id;
  };
  const customerKey = async (customer: string, extra: Record<string, unknown> = {}) => {
    await world.credit(shop, customer, '100');
    const secret = await world.key(shop, customer, extra);
    await api.app.get(BalanceService).ensureLoaded(shop.id, shop.users[customer].id);
    return secret;
  };

  beforeAll(async () => {
    system = await connectAs('system');
    redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    fake = await startFakeOpenAI();
    api = await startTestApi({ REDIS_URL: redisUrl, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600' });
    world = await new InferenceWorld(api, system, redis).init();
    await world.price(world.platform, model, PRICE);
    await world.channel(fakeChannel(fake.url, model, { retryBudget: 0, firstByteTimeoutMs: 60_000, totalTimeoutMs: 120_000 }));
    shop = await world.reseller(['alice', 'bob', 'carol', 'dan', 'erin']);
    other = await world.reseller(['zed']);
    platform = await platformWithUsers(system, { owner: ['owner'], finance: ['finance'] });
    for (const t of [shop, other, platform]) for (const who of Object.keys(t.users)) tokens.set(`${t.slug}:${who}`, (await signIn(api.baseUrl, t, who)).accessToken);
  });

  afterAll(async () => {
    await api?.close();
    await fake?.close();
    redis?.disconnect();
    await system?.end();
  });

  it('sends x-ratelimit headers on every admitted answer: success, stream, upstream failure and the 429', async () => {
    const secret = await customerKey('alice', { rpmLimit: 4, tpmLimit: 1_000_000 });
    // The counts below are of one clock minute: start with at least 15 s of it left (a turn
    // between two requests made CI see 'remaining 3' where '2' was due).
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 45_000) await delay(60_000 - intoMinute + 100);
    const first = await complete(secret);
    expect(first.status).toBe(200);
    expect(rate(first, 'requests')).toEqual({ limit: '4', remaining: '3', reset: expect.stringMatching(/^\d+s$/) });
    expect(Number(rate(first, 'tokens').remaining)).toBeLessThan(1_000_000);
    expect(rate(first, 'tokens').limit).toBe('1000000');

    const stream = await complete(secret, { stream: true });
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toContain('text/event-stream');
    expect(rate(stream, 'requests').remaining).toBe('2');

    fake.next({ kind: 'status', status: 500 });
    const failed = await complete(secret);
    expect(failed.status).toBe(502);
    expect(rate(failed, 'requests')).toMatchObject({ limit: '4', remaining: '1' });

    expect((await complete(secret)).status).toBe(200);
    const refused = await complete(secret);
    // Unless the minute turned meanwhile, the fifth request of the minute is refused, with headers.
    if (refused.status === 429) {
      expect(refused.body.error.code).toBe('rate_limit_exceeded');
      expect(rate(refused, 'requests')).toMatchObject({ limit: '4', remaining: '0' });
    } else {
      expect(rate(refused, 'requests')).toMatchObject({ limit: '4', remaining: '3' });
    }
  });

  it('stores customer limits (owner edits; others may not; another tenant cannot reach them) and enforces them', async () => {
    const bob = shop.users.bob.id;
    expect((await admin(shop, 'owner', 'GET', `/api/v1/customers/${bob}/limits`)).body).toMatchObject({ rpm: { stored: null, effective: 0 }, concurrency: { stored: null, effective: 0 } });
    expectProblem(await admin(shop, 'finance', 'PUT', `/api/v1/customers/${bob}/limits`, { rpm: 2 }), 403, 'forbidden');
    expectProblem(await admin(shop, 'bob', 'PUT', `/api/v1/customers/${bob}/limits`, { rpm: 1000 }), 403, 'forbidden');
    expectProblem(await admin(other, 'owner', 'PUT', `/api/v1/customers/${bob}/limits`, { rpm: 2 }), 404, 'not_found');
    expectProblem(await admin(other, 'owner', 'GET', `/api/v1/customers/${bob}/limits`), 404, 'not_found');
    const set = await admin(shop, 'owner', 'PUT', `/api/v1/customers/${bob}/limits`, { rpm: 2 });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ rpm: { stored: 2, effective: 2 }, tpm: { stored: null } });
    expect((await admin(shop, 'finance', 'GET', `/api/v1/customers/${bob}/limits`)).body.rpm.stored).toBe(2);

    const secret = await customerKey('bob');
    const a = await complete(secret);
    const b = await complete(secret);
    const c = await complete(secret);
    // Two per minute for bob (his key has no limit of its own): the third is refused, or a new minute began.
    expect(a.status).toBe(200);
    expect(rate(a, 'requests').limit).toBe('2');
    if (b.status === 200 && rate(b, 'requests').remaining === '0') {
      expect(c.status).toBe(429);
      expect(c.body.error.message).toMatch(/account/);
    }
    const { rows } = await system.query(`SELECT action FROM audit_log WHERE tenant_id = $1 AND action = 'limits.customer_set'`, [shop.id]);
    expect(rows.length).toBeGreaterThan(0);
  });

  it('stores tenant limits: the platform sets them, the reseller reads its own and may not change them', async () => {
    expectProblem(await admin(shop, 'owner', 'PUT', `/api/v1/tenants/${shop.id}/limits`, { rpm: 100000 }), 403, 'forbidden');
    expectProblem(await admin(shop, 'owner', 'GET', `/api/v1/tenants/${other.id}/limits`), 404, 'not_found');
    expectProblem(await admin(platform, 'finance', 'PUT', `/api/v1/tenants/${shop.id}/limits`, { rpm: 1 }), 403, 'forbidden');
    const set = await admin(platform, 'owner', 'PUT', `/api/v1/tenants/${other.id}/limits`, { rpm: 1, tpm: 0 });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ tenantId: other.id, rpm: { stored: 1, effective: 1 }, tpm: { stored: 0, effective: 0 } });
    expect((await admin(other, 'owner', 'GET', `/api/v1/tenants/${other.id}/limits`)).body.rpm.effective).toBe(1);
    await world.credit(other, 'zed', '10');
    const secret = await world.key(other, 'zed');
    await api.app.get(BalanceService).ensureLoaded(other.id, other.users.zed.id);
    const send = () =>
      call(api.baseUrl, 'POST', '/v1/chat/completions', { host: other.domain, headers: { authorization: `Bearer ${secret}` }, json: { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 } });
    const first = await send();
    expect(first.status).toBe(200);
    expect(rate(first, 'requests')).toMatchObject({ limit: '1', remaining: '0' });
    const second = await send();
    if (second.status === 429) expect(second.body.error.message).toMatch(/organization/);
    else expect(rate(second, 'requests').remaining).toBe('0'); // a new minute began between the two
  });

  it('caps requests in flight per customer: over the cap 429 at once, slots come back as requests end', async () => {
    const erin = shop.users.erin.id;
    expect((await admin(shop, 'owner', 'PUT', `/api/v1/customers/${erin}/limits`, { concurrency: 3 })).status).toBe(200);
    const secret = await customerKey('erin');
    // Only the three admitted requests reach the upstream, which keeps them in flight a while.
    const delayMs = scaled(1000);
    for (let i = 0; i < 3; i++) fake.next({ kind: 'ok', delayMs });
    const slots = billingKeys.tag(shop.id) + `:cc:c:${erin}`;
    let peak = 0;
    const watching = setInterval(() => void redis.zcard(slots).then((n) => (peak = Math.max(peak, n))), 20);
    const answers = await Promise.all(Array.from({ length: 10 }, () => complete(secret)));
    clearInterval(watching);
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    for (const refused of answers.filter((a) => a.status === 429)) expect(refused.body.error.message).toMatch(/in flight: at most 3/);
    expect(peak).toBeLessThanOrEqual(3);
    // Every slot was given back by the settlements.
    expect(await redis.zcard(slots)).toBe(0);
    expect((await complete(secret)).status).toBe(200);
  });

  it("caps a key's requests in flight, and a request whose process died frees its slot when its lease ends", async () => {
    const secret = await customerKey('dan', { concurrencyLimit: 1 });
    const keys = await admin(shop, 'dan', 'GET', '/api/v1/keys');
    const key = (keys.body.items as Array<{ id: string; concurrencyLimit: number | null }>).find((k) => k.concurrencyLimit === 1)!;
    expect(key).toBeDefined();
    // Another api instance took the key's only slot and died before settling: its lease is about a second.
    const dead = new BillingEngine(redis, 60_000, undefined, scaled(1000));
    const held = await dead.hold({
      requestId: uniqueSlug('dead'),
      tenantId: shop.id,
      customerId: shop.users.dan.id,
      keyId: key.id,
      holdUnits: 1n,
      tokenEstimate: 1,
      limits: {},
      keySpendLimitUnits: null,
      concurrency: { key: 1 },
    });
    expect(held.ok).toBe(true);
    const refused = await complete(secret);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.body.error.message).toMatch(/API key/);
    // Once the lease has run out, the slot is free again (nobody settles the dead request).
    await eventually(async () => (await complete(secret)).status === 200, 'the slot freed by the expired lease', scaled(15_000));
  });

  it('keeps the slot of a request that outlives its lease: renewed while in flight, given back when it settles', async () => {
    // An api whose leases last 2 s; the upstream takes several times that to answer.
    const leaseMs = 2000;
    const shortLease = await startTestApi({ REDIS_URL: redisUrl, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600', INFERENCE_CONCURRENCY_LEASE_SECONDS: String(leaseMs / 1000) });
    try {
      const secret = await customerKey('carol', { concurrencyLimit: 1 });
      const send = () =>
        call(shortLease.baseUrl, 'POST', '/v1/chat/completions', {
          host: shop.domain,
          headers: { authorization: `Bearer ${secret}` },
          json: { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 50 },
        });
      const slots = `${billingKeys.tag(shop.id)}:cc:k:${await keyIdOf('carol', 1)}`;
      fake.next({ kind: 'ok', delayMs: scaled(8000) });
      const slow = send();
      const [member] = await waitUntil(async () => {
        const m = await redis.zrange(slots, 0, -1);
        return m.length === 1 ? m : null;
      }, { what: 'the slow request holding the slot' });
      // Past twice its lease, the slot is still the slow request's, with a lease in the future.
      await delay(2 * leaseMs + 500);
      const lease = Number(await redis.zscore(slots, member));
      expect(lease).toBeGreaterThan(Date.now());
      const refused = await send();
      expect(refused.status).toBe(429);
      expect(refused.body.error.message).toMatch(/in flight: at most 1/);
      expect((await slow).status).toBe(200);
      // Its settlement gave the slot back, and no renewal brought it back.
      expect(await redis.zcard(slots)).toBe(0);
      await shortLease.app.get(InflightLeases).renew(Date.now() + leaseMs);
      expect(await redis.zcard(slots)).toBe(0);
      expect((await send()).status).toBe(200);
    } finally {
      await shortLease.close();
    }
  });

  it("moves a long request's hold expiry forward, and never revives a hold or slot that is gone", async () => {
    const dan = shop.users.dan.id;
    const keyId = uniqueSlug('key'); // the engine takes any id: no key of the database is involved
    const engine = new BillingEngine(redis, 1000, undefined, 1000);
    const leases = new InflightLeases(engine);
    const requestId = uniqueSlug('long');
    const t0 = Date.now();
    const held = await engine.hold({ requestId, tenantId: shop.id, customerId: dan, keyId, holdUnits: 5n, tokenEstimate: 1, limits: {}, keySpendLimitUnits: null, concurrency: { customer: 100 }, nowMs: t0 });
    expect(held.ok).toBe(true);
    const holds = billingKeys.holds(shop.id);
    expect(Number(await redis.zscore(holds, requestId))).toBe(t0 + 1000);
    leases.track(requestId, shop.id, keyId, dan, t0);
    // Not yet due (admitted less than an interval before): nothing moves.
    expect(await leases.renew(t0 + 100)).toBe(0);
    expect(Number(await redis.zscore(holds, requestId))).toBe(t0 + 1000);
    // Due: the hold's expiry (the sweeper's score and the hash) and the customer's slot move to now + ttl / lease.
    expect(await leases.renew(t0 + 900)).toBe(1);
    expect(Number(await redis.zscore(holds, requestId))).toBe(t0 + 1900);
    expect(await redis.hget(billingKeys.hold(shop.id, requestId), 'exp')).toBe(String(t0 + 1900));
    expect(Number(await redis.zscore(`${billingKeys.tag(shop.id)}:cc:c:${dan}`, requestId))).toBe(t0 + 1900);
    // An earlier time never moves an expiry back.
    await engine.renew(shop.id, [{ requestId, keyId, customerId: dan }], t0 + 100);
    expect(Number(await redis.zscore(holds, requestId))).toBe(t0 + 1900);
    // Settled: the hold and slot are gone, and a late renewal (the request not yet untracked) brings nothing back.
    await engine.settle({ event: usageEvent({ requestId, tenantId: shop.id, customerId: dan, apiKeyId: keyId, retailUnits: '5' }), actualTokens: 1 });
    expect(await leases.renew(t0 + 5000)).toBe(0);
    expect(await redis.exists(billingKeys.hold(shop.id, requestId))).toBe(0);
    expect(await redis.zscore(holds, requestId)).toBeNull();
    expect(await redis.zscore(`${billingKeys.tag(shop.id)}:cc:c:${dan}`, requestId)).toBeNull();
  });

  it('a renewal that Redis does not take throws nothing and is tried again at the next tick', async () => {
    // A client whose server is gone (nothing listens on the port), failing at once instead of queueing.
    const port = Number(new URL(redisUrl).port);
    const gone = new Redis({ host: '127.0.0.1', port: port === 1 ? 2 : 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      const engine = new BillingEngine(gone, 1000, undefined, 1000);
      const leases = new InflightLeases(engine);
      const t0 = Date.now();
      leases.track(uniqueSlug('r'), shop.id, uniqueSlug('k'), shop.users.dan.id, t0);
      await expect(leases.renew(t0 + 900)).resolves.toBe(0);
      // Still tracked and still due: the next tick sends it again.
      expect(leases.size).toBe(1);
      await expect(leases.renew(t0 + 1200)).resolves.toBe(0);
    } finally {
      gone.disconnect();
    }
  });
});
