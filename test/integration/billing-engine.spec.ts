import Redis from 'ioredis';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { BillingEngine, billingKeys, budgetCounter, decodeUsageEvent, HoldRequest, SettleSpool, UsageEvent } from '@app/billing';
import { RELEASE_EXPIRED_HOLDS } from '../../src/modules/ledger/balance.scripts';

/** What an admitted request without rate limits reports (no x-ratelimit headers to send). */
const NO_LIMITS = { requests: null, tokens: null, resetSeconds: expect.any(Number) };

/** The Redis side of the money path: holds, limits, settlement and the usage event, against real Redis. */
describe('billing engine (Redis Lua)', () => {
  let redis: Redis;
  let engine: BillingEngine;

  beforeAll(() => {
    redis = new Redis(process.env.REDIS_URL!, { enableAutoPipelining: true });
    engine = new BillingEngine(redis);
  });
  afterAll(() => redis.quit());

  function ids() {
    return { tenantId: uuidv7(), customerId: uuidv7(), keyId: uuidv7() };
  }

  function holdReq(p: ReturnType<typeof ids>, over: Partial<HoldRequest> = {}): HoldRequest {
    return {
      requestId: uuidv7(),
      tenantId: p.tenantId,
      customerId: p.customerId,
      keyId: p.keyId,
      holdUnits: 1000n,
      tokenEstimate: 100,
      limits: {},
      keySpendLimitUnits: null,
      ...over,
    };
  }

  function event(p: ReturnType<typeof ids>, requestId: string, retailUnits: bigint): UsageEvent {
    return {
      v: 1,
      requestId,
      tenantId: p.tenantId,
      customerId: p.customerId,
      apiKeyId: p.keyId,
      channelId: null,
      model: 'm',
      upstreamModel: 'm',
      pool: 'standard',
      inputTokens: 10,
      outputTokens: 5,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      retailUnits: retailUnits.toString(),
      wholesaleUnits: '0',
      upstreamUnits: '0',
      status: 'ok',
      errorCode: null,
      latencyMs: 1,
      ttftMs: null,
      stream: false,
      clientIp: null,
      createdAt: Date.now(),
    };
  }

  const balance = async (p: ReturnType<typeof ids>) => BigInt((await redis.get(billingKeys.balance(p.tenantId, p.customerId))) ?? 'NaN');

  it('asks for the wallet to be loaded when Redis does not hold it', async () => {
    const p = ids();
    expect(await engine.hold(holdReq(p))).toEqual({ ok: false, reason: 'no_balance_loaded' });
  });

  it('holds, then settles the real cost once, releasing the rest and appending one event', async () => {
    const p = ids();
    await redis.set(billingKeys.balance(p.tenantId, p.customerId), '5000');
    const req = holdReq(p, { holdUnits: 3000n });
    expect(await engine.hold(req)).toEqual({ ok: true, balanceAfter: 2000n, rate: NO_LIMITS });
    expect(await redis.zscore(billingKeys.holds(p.tenantId), req.requestId)).not.toBeNull();

    const settle = { event: event(p, req.requestId, 1234n), actualTokens: 15 };
    expect(await engine.settle(settle)).toEqual({ settled: true, balanceAfter: 5000n - 1234n });
    expect(await engine.settle(settle)).toEqual({ settled: false, duplicate: true });
    expect(await balance(p)).toBe(3766n);
    expect(await redis.get(billingKeys.keySpend(p.tenantId, p.keyId))).toBe('1234');
    expect(await redis.exists(billingKeys.hold(p.tenantId, req.requestId))).toBe(0);
    expect(await redis.zcard(billingKeys.holds(p.tenantId))).toBe(0);
    const entries = await redis.xrange(billingKeys.usageStream(p.tenantId), '-', '+');
    expect(entries).toHaveLength(1);
    expect(decodeUsageEvent(entries[0][1][1]).requestId).toBe(req.requestId);
    // the same request id cannot be held again once settled
    expect(await engine.hold(req)).toEqual({ ok: false, reason: 'duplicate_request' });
  });

  it('charges a request whose hold was already released (expired) without releasing it twice', async () => {
    const p = ids();
    await redis.set(billingKeys.balance(p.tenantId, p.customerId), '1000');
    const req = holdReq(p, { holdUnits: 400n });
    await engine.hold(req);
    // what the expired-hold sweeper does
    await redis.incrby(billingKeys.balance(p.tenantId, p.customerId), 400);
    await redis.decrby(billingKeys.keySpend(p.tenantId, p.keyId), 400);
    await redis.del(billingKeys.hold(p.tenantId, req.requestId));
    await engine.settle({ event: event(p, req.requestId, 100n), actualTokens: 1 });
    expect(await balance(p)).toBe(900n);
  });

  it('refuses a hold the balance cannot cover, and changes nothing', async () => {
    const p = ids();
    await redis.set(billingKeys.balance(p.tenantId, p.customerId), '999');
    expect(await engine.hold(holdReq(p, { holdUnits: 1000n }))).toEqual({ ok: false, reason: 'insufficient_balance', balance: 999n });
    expect(await balance(p)).toBe(999n);
    expect(await redis.zcard(billingKeys.holds(p.tenantId))).toBe(0);
  });

  it('never lets 200 concurrent requests hold more than the balance', async () => {
    const p = ids();
    await redis.set(billingKeys.balance(p.tenantId, p.customerId), String(37 * 1000 + 999));
    const results = await Promise.all(Array.from({ length: 200 }, () => engine.hold(holdReq(p, { holdUnits: 1000n }))));
    expect(results.filter((r) => r.ok)).toHaveLength(37);
    expect(results.filter((r) => !r.ok && r.reason === 'insufficient_balance')).toHaveLength(163);
    expect(await balance(p)).toBe(999n);
  });

  it('applies per-minute request and token limits per key, customer and tenant with a Retry-After', async () => {
    const p = ids();
    await redis.set(billingKeys.balance(p.tenantId, p.customerId), '1000000000');
    const now = Date.UTC(2026, 0, 1, 0, 0, 45);
    const limited = (limits: HoldRequest['limits'], tokenEstimate = 10) => engine.hold(holdReq(p, { limits, tokenEstimate, nowMs: now }));
    // What is left is the tightest scope's: the key's 2 per minute, not the tenant's 10.
    expect(await limited({ keyRpm: 2, tenantRpm: 10, customerTpm: 1000 })).toMatchObject({
      ok: true,
      rate: { requests: { limit: 2, remaining: 1 }, tokens: { limit: 1000, remaining: 990 }, resetSeconds: 15 },
    });
    expect(await limited({ keyRpm: 2, tenantRpm: 2 })).toMatchObject({ ok: true, rate: { requests: { limit: 2, remaining: 0 }, tokens: null } });
    expect(await limited({ keyRpm: 2 })).toEqual({ ok: false, reason: 'rate_limited', scope: 'key', kind: 'requests', limit: 2, retryAfterSeconds: 15 });
    // tokens: two admitted requests of 10 counted for the customer, a third would make 30
    expect(await limited({ customerTpm: 25 })).toEqual({ ok: false, reason: 'rate_limited', scope: 'customer', kind: 'tokens', limit: 25, retryAfterSeconds: 15 });
    expect(await limited({ tenantRpm: 1 })).toMatchObject({ ok: false, scope: 'tenant', kind: 'requests' });
    // a refused request counted nothing: still two requests in this minute
    expect(await redis.get(billingKeys.rate(p.tenantId, `k:${p.keyId}`, 'req', Math.floor(now / 60_000)))).toBe('2');
  });

  it('caps requests in flight per key and per customer; settling frees the slot, and so does an expired lease', async () => {
    const p = ids();
    await redis.set(billingKeys.balance(p.tenantId, p.customerId), '1000000');
    const shortLease = new BillingEngine(redis, 60_000, undefined, 1000);
    const now = Date.now();
    const first = holdReq(p, { concurrency: { key: 2, customer: 3 }, nowMs: now });
    const second = holdReq(p, { concurrency: { key: 2, customer: 3 }, nowMs: now });
    expect((await shortLease.hold(first)).ok).toBe(true);
    expect((await shortLease.hold(second)).ok).toBe(true);
    expect(await shortLease.hold(holdReq(p, { concurrency: { key: 2, customer: 3 }, nowMs: now }))).toEqual({ ok: false, reason: 'concurrency_limited', scope: 'key', limit: 2 });
    // Another key of the same customer: the customer's cap of 3 is what stops the fourth.
    const otherKey = { ...p, keyId: uuidv7() };
    expect((await shortLease.hold(holdReq(otherKey, { concurrency: { key: 2, customer: 3 }, nowMs: now }))).ok).toBe(true);
    expect(await shortLease.hold(holdReq(otherKey, { concurrency: { key: 2, customer: 3 }, nowMs: now }))).toMatchObject({ ok: false, scope: 'customer', limit: 3 });
    // A refused request took no money and no slot.
    expect(await redis.zcard(`${billingKeys.tag(p.tenantId)}:cc:c:${p.customerId}`)).toBe(3);
    // Settling gives the slot back at once.
    await shortLease.settle({ event: event(p, first.requestId, 10n), actualTokens: 1 });
    expect((await shortLease.hold(holdReq(p, { concurrency: { key: 2, customer: 3 }, nowMs: now }))).ok).toBe(true);
    // Nobody settles the others (their process died): after the lease (1 s) their slots are free.
    expect((await shortLease.hold(holdReq(p, { concurrency: { key: 2, customer: 3 }, nowMs: now + 999 }))).ok).toBe(false);
    expect((await shortLease.hold(holdReq(p, { concurrency: { key: 2, customer: 3 }, nowMs: now + 1001 }))).ok).toBe(true);
  });

  it("stops at the key's spend limit, counting open holds", async () => {
    const p = ids();
    await redis.set(billingKeys.balance(p.tenantId, p.customerId), '1000000');
    const first = holdReq(p, { holdUnits: 600n, keySpendLimitUnits: 1000n });
    expect((await engine.hold(first)).ok).toBe(true);
    expect(await engine.hold(holdReq(p, { holdUnits: 600n, keySpendLimitUnits: 1000n }))).toEqual({ ok: false, reason: 'spend_limit_reached', spent: 600n });
    await engine.settle({ event: event(p, first.requestId, 100n), actualTokens: 1 });
    expect((await engine.hold(holdReq(p, { holdUnits: 600n, keySpendLimitUnits: 1000n }))).ok).toBe(true);
  });

  it('sends the holds of one turn as one script call per tenant, each request with its own answer', async () => {
    const a = ids();
    const b = ids();
    await redis.set(billingKeys.balance(a.tenantId, a.customerId), '2500');
    const batches: Array<[string, number]> = [];
    const observed = new BillingEngine(redis, undefined, (script, size) => batches.push([script, size]));
    const results = await Promise.all([
      observed.hold(holdReq(a, { holdUnits: 1000n })),
      observed.hold(holdReq(b, { holdUnits: 1000n })),
      observed.hold(holdReq(a, { holdUnits: 1000n })),
      observed.hold(holdReq(a, { holdUnits: 1000n })),
    ]);
    expect(results).toEqual([
      { ok: true, balanceAfter: 1500n, rate: NO_LIMITS },
      { ok: false, reason: 'no_balance_loaded' },
      { ok: true, balanceAfter: 500n, rate: NO_LIMITS },
      { ok: false, reason: 'insufficient_balance', balance: 500n },
    ]);
    // one call for tenant a's three requests, one for tenant b's
    expect(batches.sort()).toEqual([
      ['authorize', 1],
      ['authorize', 3],
    ]);
    expect(await redis.zcard(billingKeys.holds(a.tenantId))).toBe(2);
  });

  it('fails only the request whose keys are broken, not the others in the same call', async () => {
    const p = ids();
    const broken = { ...p, customerId: uuidv7() };
    await redis.set(billingKeys.balance(p.tenantId, p.customerId), '5000');
    await redis.hset(billingKeys.balance(p.tenantId, broken.customerId), 'not', 'a counter');
    const [good, bad] = await Promise.allSettled([engine.hold(holdReq(p)), engine.hold(holdReq(broken))]);
    expect(good).toEqual({ status: 'fulfilled', value: { ok: true, balanceAfter: 4000n, rate: NO_LIMITS } });
    expect(bad.status).toBe('rejected');
    expect(String((bad as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
  });

  it('settles a request once when it is settled twice in the same call', async () => {
    const p = ids();
    await redis.set(billingKeys.balance(p.tenantId, p.customerId), '5000');
    const req = holdReq(p, { holdUnits: 2000n });
    await engine.hold(req);
    const settle = { event: event(p, req.requestId, 700n), actualTokens: 15 };
    const replies = await Promise.all([engine.settle(settle), engine.settle(settle)]);
    expect(replies).toEqual([{ settled: true, balanceAfter: 4300n }, { settled: false, duplicate: true }]);
    expect(await balance(p)).toBe(4300n);
    expect(await redis.xlen(billingKeys.usageStream(p.tenantId))).toBe(1);
  });

  it('checks budgets with the hold and charges a request that crosses midnight to the day it was admitted in', async () => {
    const p = ids();
    await redis.set(billingKeys.balance(p.tenantId, p.customerId), '1000000');
    const day1 = budgetCounter('customer', p.customerId, 'day', '2026-12-03');
    const day2 = budgetCounter('customer', p.customerId, 'day', '2026-12-04');
    const month = budgetCounter('key', p.keyId, 'month', '2026-12');
    const counter = async (name: string) => (await redis.get(`${billingKeys.tag(p.tenantId)}:${name}`)) ?? '0';
    const inDay1 = [{ name: day1, limitUnits: 1000n }, { name: month, limitUnits: 5000n }];
    // Admitted at 23:59 on day 1: the hold counts against day 1 (and the month).
    const late = holdReq(p, { holdUnits: 600n, budgets: inDay1 });
    expect((await engine.hold(late)).ok).toBe(true);
    expect([await counter(day1), await counter(month)]).toEqual(['600', '600']);
    // A second hold would take day 1 over its budget: refused, nothing taken.
    expect(await engine.hold(holdReq(p, { holdUnits: 600n, budgets: inDay1 }))).toEqual({ ok: false, reason: 'budget_exhausted', scope: 'customer', period: 'day', spent: 600n, limit: 1000n });
    expect(await balance(p)).toBe(1000000n - 600n);
    // Settled after midnight, for 450: day 1 gets the cost, day 2 nothing.
    await engine.settle({ event: event(p, late.requestId, 450n), actualTokens: 1, budgets: [day2] });
    expect([await counter(day1), await counter(day2), await counter(month)]).toEqual(['450', '0', '450']);
    // Day 2 starts with its whole budget; the month keeps counting.
    expect((await engine.hold(holdReq(p, { holdUnits: 1000n, budgets: [{ name: day2, limitUnits: 1000n }, { name: month, limitUnits: 5000n }] }))).ok).toBe(true);
    expect(await counter(month)).toBe('1450');
    expect(await engine.hold(holdReq(p, { holdUnits: 1n, budgets: [{ name: day2, limitUnits: 1000n }] }))).toMatchObject({ ok: false, reason: 'budget_exhausted', period: 'day' });
    // The key's monthly budget: 1450 spent or held, 4000 more does not fit.
    expect(await engine.hold(holdReq(p, { holdUnits: 4000n, budgets: [{ name: month, limitUnits: 5000n }] }))).toMatchObject({ ok: false, scope: 'key', period: 'month', spent: 1450n, limit: 5000n });
  });

  it('gives an expired hold back to its budgets, and charges the settlement that comes after to them', async () => {
    const p = ids();
    await redis.set(billingKeys.balance(p.tenantId, p.customerId), '1000000');
    const day = budgetCounter('customer', p.customerId, 'day', '2026-12-03');
    const counter = async () => (await redis.get(`${billingKeys.tag(p.tenantId)}:${day}`)) ?? '0';
    const req = holdReq(p, { holdUnits: 700n, budgets: [{ name: day, limitUnits: 1000n }], nowMs: Date.now() - 3_600_000 });
    expect((await engine.hold(req)).ok).toBe(true);
    const prefix = `${billingKeys.tag(p.tenantId)}:`;
    await redis.eval(RELEASE_EXPIRED_HOLDS, 1, billingKeys.holds(p.tenantId), Date.now(), 100, prefix, 60);
    expect(await counter()).toBe('0');
    await engine.settle({ event: event(p, req.requestId, 300n), actualTokens: 1, budgets: [day] });
    expect(await counter()).toBe('300');
  });

  it('keeps per-minute counters with an expiry, and corrects the token counters at settlement', async () => {
    const p = ids();
    await redis.set(billingKeys.balance(p.tenantId, p.customerId), '1000000');
    const now = Date.now();
    const minute = Math.floor(now / 60_000);
    const req = holdReq(p, { tokenEstimate: 100, nowMs: now });
    await engine.hold(req);
    const tokens = billingKeys.rate(p.tenantId, `c:${p.customerId}`, 'tok', minute);
    expect(await redis.get(tokens)).toBe('100');
    expect(await redis.ttl(tokens)).toBeGreaterThan(100);
    expect(await redis.ttl(billingKeys.rate(p.tenantId, 't', 'req', minute))).toBeGreaterThan(100);
    await engine.settle({ event: event(p, req.requestId, 10n), actualTokens: 15 });
    if (Math.floor(Date.now() / 60_000) === minute) expect(await redis.get(tokens)).toBe('15');
  });

  it('spools settlements Redis could not take and replays them once, in order', async () => {
    const p = ids();
    await redis.set(billingKeys.balance(p.tenantId, p.customerId), '10000');
    const spool = new SettleSpool(join(mkdtempSync(join(tmpdir(), 'aigw-spool-')), 'settle.jsonl'));
    const reqs = [holdReq(p), holdReq(p), holdReq(p)];
    for (const r of reqs) await engine.hold(r);
    for (const r of reqs) spool.append({ event: event(p, r.requestId, 10n), actualTokens: 15 });
    expect(spool.size).toBe(3);

    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error('redis down');
    };
    expect(await spool.replay(failing)).toBe(0);
    expect(calls).toBe(1); // stops at the first failure, keeps all
    expect(spool.size).toBe(3);

    expect(await spool.replay((r) => engine.settle(r))).toBe(3);
    expect(spool.size).toBe(0);
    // replaying again (as after a crash before the rewrite) changes nothing
    for (const r of reqs) expect(await engine.settle({ event: event(p, r.requestId, 10n), actualTokens: 15 })).toEqual({ settled: false, duplicate: true });
    expect(await balance(p)).toBe(10000n - 30n);
    expect(await redis.xlen(billingKeys.usageStream(p.tenantId))).toBe(3);
  });
});
