import Redis from 'ioredis';
import { Client } from 'pg';
import { billingKeys, budgetCounter } from '../../libs/billing/src';
import { toUnits, TokenPrice } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { LimitsRuntime } from '../../src/modules/limits/limits-runtime';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { call } from '../support/http';
import { signIn, TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';
import { expectInvalidFields, expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';

/**
 * Budgets per day, week and month for customers and keys (issue 26): set by the owner, counted in
 * the tenant's time zone, enforced in the same Redis step as the hold, so 200 requests racing
 * through two api instances never spend past the budget.
 */
const PRICE: TokenPrice = { inputPerMillion: '1000', outputPerMillion: '1000' };

describe('budgets (e2e)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let api2: RunningApp;
  let fake: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let other: TestTenant;
  const tokens = new Map<string, string>();
  const model = uniqueSlug('m-budget');

  const admin = (t: TestTenant, who: string, method: string, path: string, json?: unknown) =>
    call(api.baseUrl, method, path, { host: t.domain, token: tokens.get(`${t.slug}:${who}`)!, json });
  const send = (base: string, secret: string) =>
    call(base, 'POST', '/v1/chat/completions', { host: shop.domain, headers: { authorization: `Bearer ${secret}` }, json: { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 } });

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
    shop = await world.reseller(['alice', 'bob']);
    other = await world.reseller(['zed']);
    for (const t of [shop, other]) for (const who of Object.keys(t.users)) tokens.set(`${t.slug}:${who}`, (await signIn(api.baseUrl, t, who)).accessToken);
  });

  afterAll(async () => {
    await api2?.close();
    await api?.close();
    await fake?.close();
    redis?.disconnect();
    await system?.end();
  });

  it('lets the owner set budgets and the time zone; others may not; another tenant cannot reach them', async () => {
    const alice = shop.users.alice.id;
    const budget = { subject: 'customer', subjectId: alice, period: 'week', amount: '12.5' };
    expectProblem(await admin(shop, 'finance', 'PUT', '/api/v1/budgets', budget), 403, 'forbidden');
    expectProblem(await admin(shop, 'alice', 'PUT', '/api/v1/budgets', budget), 403, 'forbidden');
    expectProblem(await admin(other, 'owner', 'PUT', '/api/v1/budgets', budget), 404, 'not_found');
    expectProblem(await admin(other, 'owner', 'GET', `/api/v1/budgets?subject=customer&subjectId=${alice}`), 404, 'not_found');
    expectInvalidFields(await admin(shop, 'owner', 'PUT', '/api/v1/budgets', { ...budget, period: 'year' }), ['period']);
    expectInvalidFields(await admin(shop, 'owner', 'PUT', '/api/v1/budgets/time-zone', { timeZone: 'Mars/Olympus' }), ['timeZone']);
    expectProblem(await admin(shop, 'finance', 'PUT', '/api/v1/budgets/time-zone', { timeZone: 'Asia/Shanghai' }), 403, 'forbidden');

    expect((await admin(shop, 'owner', 'PUT', '/api/v1/budgets/time-zone', { timeZone: 'Asia/Shanghai' })).status).toBe(200);
    const set = await admin(shop, 'owner', 'PUT', '/api/v1/budgets', budget);
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ timeZone: 'Asia/Shanghai', items: [{ subject: 'customer', subjectId: alice, period: 'week', amount: '12.5', spent: '0', periodId: expect.stringMatching(/^\d{4}-W\d{2}$/) }] });
    expect((await admin(shop, 'finance', 'GET', `/api/v1/budgets?subject=customer&subjectId=${alice}`)).body.items).toHaveLength(1);
    expect((await admin(shop, 'owner', 'PUT', '/api/v1/budgets', { ...budget, amount: null })).body.items).toEqual([]);
  });

  it("names each request's budget periods at its admission time in the tenant's time zone", async () => {
    const runtime = api.app.get(LimitsRuntime);
    const bob = shop.users.bob.id;
    expect((await admin(shop, 'owner', 'PUT', '/api/v1/budgets', { subject: 'customer', subjectId: bob, period: 'day', amount: '1' })).status).toBe(200);
    // Shanghai's midnight of 10 June 2026 is 16:00 UTC on the 9th.
    const midnight = Date.UTC(2026, 5, 9, 16, 0);
    const before = await runtime.forRequest(shop.id, bob, 'k', midnight - 1);
    const after = await runtime.forRequest(shop.id, bob, 'k', midnight);
    expect(before.budgets).toEqual([{ name: budgetCounter('customer', bob, 'day', '2026-06-09'), limitUnits: 1_000_000_000n }]);
    expect(after.budgets).toEqual([{ name: budgetCounter('customer', bob, 'day', '2026-06-10'), limitUnits: 1_000_000_000n }]);
  });

  it('never spends past a daily budget under 200 requests racing through two api instances', async () => {
    const bob = shop.users.bob.id;
    const budget = '1';
    expect((await admin(shop, 'owner', 'PUT', '/api/v1/budgets', { subject: 'customer', subjectId: bob, period: 'day', amount: budget })).status).toBe(200);
    await world.credit(shop, 'bob', '1000');
    const secret = await world.key(shop, 'bob');
    await api.app.get(BalanceService).ensureLoaded(shop.id, bob);
    // Both instances see the budget (the first request loads it).
    await eventually(async () => (await api2.app.get(LimitsRuntime).forRequest(shop.id, bob, 'k', Date.now())).budgets.length === 1, 'the budget on api2');
    const balanceBefore = (await world.balance(shop, 'bob'))!;
    const eventsBefore = (await world.events(shop)).length;

    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => send(i % 2 ? api2.baseUrl : api.baseUrl, secret)));
    const ok = answers.filter((a) => a.status === 200).length;
    const refused = answers.filter((a) => a.status === 402);
    expect(ok + refused.length).toBe(200);
    expect(ok).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0].body.error).toMatchObject({ code: 'insufficient_quota' });
    expect(refused[0].body.error.message).toMatch(/daily budget/);

    await eventually(async () => (await world.events(shop)).length - eventsBefore >= ok, 'every usage event');
    const charged = (await world.events(shop)).slice(eventsBefore).reduce((sum, e) => sum + BigInt(e.retailUnits), 0n);
    expect(charged).toBeGreaterThan(0n);
    expect(charged).toBeLessThanOrEqual(toUnits(budget));
    const counter = (await redis.keys(`${billingKeys.tag(shop.id)}:bud:c:${bob}:d:*`))[0];
    expect(BigInt((await redis.get(counter))!)).toBe(charged);
    expect(balanceBefore - (await world.balance(shop, 'bob'))!).toBe(charged);
    expect(await world.openHolds(shop)).toBe(0);
  });
});
