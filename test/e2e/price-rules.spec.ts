import Redis from 'ioredis';
import { Client } from 'pg';
import { BillingEngine, billingKeys, HoldRequest } from '../../libs/billing/src';
import { compiledCostUnits, compilePrice, costUnits, TokenPrice } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { PricingRuntime } from '../../src/modules/pricing/pricing-runtime';
import { RunningApp } from '../support/app';
import { inTransaction, uniqueSlug } from '../support/db';
import { FakeUpstream } from '../support/fakes/openai';
import { resellerWithUsers, TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';
import { gatewayClient } from '../support/openai-client';
import { expectProblem } from '../support/problem';
import { expectOk, PricingStack, startPricingStack } from '../support/pricing-stack';

/**
 * Price rules through the API and on the proxy (issue 26): groups, multipliers, per-model group and
 * customer prices, the tenant's markup, the wholesale floor, the price API's explanation; who may
 * edit them; tenant isolation under RLS; and the hold and the settlement of a request charged at
 * the one price resolved when it was admitted, even when the price changes meanwhile.
 */
const PLATFORM_PRICE: TokenPrice = { inputPerMillion: '1', outputPerMillion: '2' };

describe('price rules (e2e)', () => {
  let stack: PricingStack;
  let system: Client;
  let app: Client;
  let redis: Redis;
  let api: RunningApp;
  let fake: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let other: TestTenant;
  const model = uniqueSlug('m-rules');
  const apiModel = uniqueSlug('m-rules-api');

  const req = (t: TestTenant, who: string, method: string, path: string, json?: unknown) => stack.req(t, who, method, path, json);
  const resolve = (t: TestTenant, customer: string, m = model) =>
    req(t, 'owner', 'GET', `/api/v1/price-rules/customers/${t.users[customer].id}/prices/${encodeURIComponent(m)}`);
  const ok = expectOk;

  beforeAll(async () => {
    stack = await startPricingStack();
    ({ system, app, redis, api, fake, world } = stack);
    await world.price(world.platform, model, PLATFORM_PRICE);
    await world.price(world.platform, apiModel, PLATFORM_PRICE);
    await world.channel(fakeChannel(fake.url, model, { retryBudget: 0 }));
    shop = await world.reseller(['alice', 'bob', 'carol']);
    other = await resellerWithUsers(system, { owner: ['owner'], dave: ['user'] });
    await stack.signInAll(shop, other);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('resolves markup, group multiplier, group and customer prices and the floor, and says which rule won', async () => {
    const m = apiModel;
    // Nothing set: the platform's retail price, inherited.
    expect((await resolve(shop, 'alice', m)).body).toMatchObject({ price: { inputPerMillion: '1' }, rule: { winner: 'inherited', groupId: null, floorApplied: [] } });

    ok(await req(shop, 'owner', 'PUT', '/api/v1/price-rules/markup', { factor: '1.5' }));
    expect((await resolve(shop, 'alice', m)).body).toMatchObject({ price: { inputPerMillion: '1.5', outputPerMillion: '3' }, rule: { winner: 'markup', markup: '1.5' } });
    const list = ok(await req(shop, 'owner', 'GET', '/api/v1/pricing'));
    expect(list.body.items.find((i: { model: string }) => i.model === m)).toMatchObject({ rule: 'markup', markup: '1.5', price: { inputPerMillion: '1.5' } });

    const vip = ok(await req(shop, 'finance', 'POST', '/api/v1/price-rules/groups', { name: 'VIP' }), 201).body;
    expectProblem(await req(shop, 'owner', 'POST', '/api/v1/price-rules/groups', { name: 'vip' }), 409, 'customer_group_name_taken');
    ok(await req(shop, 'owner', 'PUT', `/api/v1/price-rules/groups/${vip.id}/multiplier`, { factor: '0.5' }));
    ok(await req(shop, 'owner', 'PUT', `/api/v1/price-rules/customers/${shop.users.alice.id}/group`, { groupId: vip.id }));
    ok(await req(shop, 'owner', 'PUT', `/api/v1/price-rules/customers/${shop.users.bob.id}/group`, { groupId: vip.id }));
    // 1 x 1.5 x 0.5 = 0.75 is below the wholesale of 1: the floor holds, and says so.
    expect((await resolve(shop, 'alice', m)).body).toMatchObject({
      price: { inputPerMillion: '1', outputPerMillion: '2' },
      wholesale: { inputPerMillion: '1' },
      rule: { winner: 'markup', markup: '1.5', multiplier: '0.5', groupId: vip.id, floorApplied: expect.arrayContaining(['inputPerMillion', 'outputPerMillion']) },
    });
    ok(await req(shop, 'owner', 'PUT', `/api/v1/price-rules/groups/${vip.id}/multiplier`, { factor: '0.8', effectiveFrom: new Date(Date.now() + 1000).toISOString() }));
    await eventually(async () => (await resolve(shop, 'alice', m)).body.rule.multiplier === '0.8', 'the scheduled multiplier');
    expect((await resolve(shop, 'alice', m)).body.price).toMatchObject({ inputPerMillion: '1.2', outputPerMillion: '2.4' });
    // carol is in no group: the markup alone.
    expect((await resolve(shop, 'carol', m)).body).toMatchObject({ price: { inputPerMillion: '1.5' }, rule: { winner: 'markup', multiplier: null } });

    // A group price wins over the base price for its members; a customer's price wins over it.
    ok(await req(shop, 'owner', 'PUT', `/api/v1/price-rules/groups/${vip.id}/prices/${m}`, { inputPerMillion: '1.1', outputPerMillion: '2.2' }));
    ok(await req(shop, 'owner', 'PUT', `/api/v1/price-rules/customers/${shop.users.bob.id}/prices/${m}`, { inputPerMillion: '1.3', outputPerMillion: '2.6' }));
    expect((await resolve(shop, 'alice', m)).body).toMatchObject({ price: { inputPerMillion: '1.1' }, rule: { winner: 'group_override', multiplier: null } });
    expect((await resolve(shop, 'bob', m)).body).toMatchObject({ price: { inputPerMillion: '1.3' }, rule: { winner: 'customer_override' } });
    expect((await resolve(shop, 'carol', m)).body.rule.winner).toBe('markup');
    const rules = ok(await req(shop, 'finance', 'GET', '/api/v1/price-rules')).body;
    expect(rules).toMatchObject({ markup: { factor: '1.5' } });
    expect(rules.groups.find((g: { id: string }) => g.id === vip.id)).toMatchObject({ name: 'VIP', members: 2, multiplier: { factor: '0.8' }, overriddenModels: [m] });

    // An override below wholesale is refused, naming the floor.
    const below = await req(shop, 'owner', 'PUT', `/api/v1/price-rules/customers/${shop.users.bob.id}/prices/${m}`, { inputPerMillion: '0.9', outputPerMillion: '3' });
    expectProblem(below, 422, 'price_below_wholesale');
    // Cleared overrides fall back: bob to the group price, alice (out of the group) to the markup.
    ok(await req(shop, 'owner', 'DELETE', `/api/v1/price-rules/customers/${shop.users.bob.id}/prices/${m}`));
    expect((await resolve(shop, 'bob', m)).body.rule.winner).toBe('group_override');
    ok(await req(shop, 'owner', 'PUT', `/api/v1/price-rules/customers/${shop.users.alice.id}/group`, { groupId: null }));
    expect((await resolve(shop, 'alice', m)).body).toMatchObject({ price: { inputPerMillion: '1.5' }, rule: { winner: 'markup', groupId: null } });
    // Clearing the markup: inherited again.
    ok(await req(shop, 'owner', 'PUT', '/api/v1/price-rules/markup', { factor: null }));
    expect((await resolve(shop, 'alice', m)).body.rule.winner).toBe('inherited');
    // Every change is audited.
    const { rows } = await system.query(`SELECT action FROM audit_log WHERE tenant_id = $1 AND action LIKE 'price.%'`, [shop.id]);
    expect(rows.map((r) => r.action)).toEqual(expect.arrayContaining(['price.markup_set', 'price.group_created', 'price.group_multiplier_set', 'price.customer_group_set', 'price.group_override_set', 'price.customer_override_set', 'price.customer_override_cleared']));
  });

  it('lets owner and finance edit, refuses everyone else, and never reaches another tenant', async () => {
    const staffed = await resellerWithUsers(system, { owner: ['owner'], sales: ['sales'], operator: ['operator'], user: ['user'] });
    await stack.signInAll(staffed);
    for (const who of ['sales', 'user', 'operator']) {
      expectProblem(await req(staffed, who, 'POST', '/api/v1/price-rules/groups', { name: `g-${who}` }), 403, 'forbidden');
      expectProblem(await req(staffed, who, 'PUT', '/api/v1/price-rules/markup', { factor: '2' }), 403, 'forbidden');
      expectProblem(await req(staffed, who, 'PUT', `/api/v1/price-rules/customers/${staffed.users.user.id}/prices/${apiModel}`, { inputPerMillion: '5', outputPerMillion: '5' }), 403, 'forbidden');
      expectProblem(await req(staffed, who, 'GET', '/api/v1/price-rules'), 403, 'forbidden');
    }
    const own = ok(await req(staffed, 'owner', 'POST', '/api/v1/price-rules/groups', { name: 'Mine' }), 201).body;
    // Another reseller's owner: the group and the customer are not found there (404, not 403).
    expectProblem(await req(other, 'owner', 'PUT', `/api/v1/price-rules/groups/${own.id}/multiplier`, { factor: '2' }), 404, 'not_found');
    expectProblem(await req(other, 'owner', 'PUT', `/api/v1/price-rules/groups/${own.id}/prices/${apiModel}`, { inputPerMillion: '5', outputPerMillion: '5' }), 404, 'not_found');
    expectProblem(await req(other, 'owner', 'PUT', `/api/v1/price-rules/customers/${staffed.users.user.id}/prices/${apiModel}`, { inputPerMillion: '5', outputPerMillion: '5' }), 404, 'not_found');
    expectProblem(await req(other, 'owner', 'GET', `/api/v1/price-rules/customers/${staffed.users.user.id}/prices/${apiModel}`), 404, 'not_found');
    // Nor can it put its own customer in a group of another tenant.
    expectProblem(await req(other, 'owner', 'PUT', `/api/v1/price-rules/customers/${other.users.dave.id}/group`, { groupId: own.id }), 404, 'not_found');
    // A staff member is not a customer.
    expectProblem(await req(staffed, 'owner', 'PUT', `/api/v1/price-rules/customers/${staffed.users.sales.id}/group`, { groupId: own.id }), 404, 'not_found');
    expect((await req(other, 'owner', 'GET', '/api/v1/price-rules')).body.groups.map((g: { id: string }) => g.id)).not.toContain(own.id);

    // RLS, below the application: the app role scoped to another tenant sees none of these rows
    // and cannot write one for this tenant.
    ok(await req(staffed, 'owner', 'PUT', `/api/v1/price-rules/customers/${staffed.users.user.id}/prices/${apiModel}`, { inputPerMillion: '5', outputPerMillion: '5' }));
    await inTransaction(app, { tenantId: other.id }, async () => {
      for (const table of ['customer_groups', 'price_overrides', 'price_factors', 'customer_group_members']) {
        const { rows } = await app.query(`SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`, [staffed.id]);
        expect(rows[0].n).toBe(0);
      }
      await expect(app.query(`INSERT INTO price_factors (id, tenant_id, factor, effective_from) VALUES (gen_random_uuid(), $1, 5, now())`, [staffed.id])).rejects.toThrow(/row-level security/);
    });
    await inTransaction(app, { tenantId: staffed.id }, async () => {
      const { rows } = await app.query(`SELECT count(*)::int AS n FROM price_overrides WHERE tenant_id = $1`, [staffed.id]);
      expect(rows[0].n).toBe(1);
      // Append-only: a version is never changed.
      await expect(app.query(`UPDATE price_overrides SET input_per_million = 0 WHERE tenant_id = $1`, [staffed.id])).rejects.toThrow(/permission denied/);
    });
    // Without a scope nothing is visible.
    await inTransaction(app, null, async () => {
      const { rows } = await app.query(`SELECT count(*)::int AS n FROM price_overrides`);
      expect(rows[0].n).toBe(0);
    });
  });

  it('holds and settles a request at the one price resolved at admission, even if it changes meanwhile', async () => {
    const carol = shop.users.carol.id;
    ok(await req(shop, 'owner', 'PUT', `/api/v1/price-rules/customers/${carol}/prices/${model}`, { inputPerMillion: '3', outputPerMillion: '7' }));
    const runtime = api.app.get(PricingRuntime);
    await eventually(async () => (await runtime.effectivePrice(shop.id, model, Date.now(), carol))?.rule.winner === 'customer_override', 'the override in the runtime');
    await world.credit(shop, 'carol', '50');
    const secret = await world.key(shop, 'carol');
    await api.app.get(BalanceService).ensureLoaded(shop.id, carol);

    const engine = api.app.get(BillingEngine);
    const holds: HoldRequest[] = [];
    const original = engine.hold.bind(engine);
    const spy = jest.spyOn(engine, 'hold').mockImplementation((r: HoldRequest) => {
      holds.push(r);
      return original(r);
    });
    try {
      const c = gatewayClient(api.baseUrl, shop.domain, secret, { maxRetries: 0 });
      stack.clients.push(c);
      const before = (await world.balance(shop, 'carol'))!;
      fake.next({ kind: 'ok', delayMs: 1500 });
      const pending = c.client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 100 });
      // While the upstream answers, the price changes: the request keeps the one it was admitted at.
      await eventually(async () => (await world.openHolds(shop)) > 0, 'the hold');
      const [holdId] = await redis.zrange(billingKeys.holds(shop.id), 0, -1);
      const heldUnits = BigInt((await redis.hget(billingKeys.hold(shop.id, holdId), 'amt'))!);
      ok(await req(shop, 'owner', 'PUT', `/api/v1/price-rules/customers/${carol}/prices/${model}`, { inputPerMillion: '30', outputPerMillion: '70' }));
      await eventually(async () => (await runtime.effectivePrice(shop.id, model, Date.now(), carol))?.retail.inputPerMillion === '30', 'the new price');
      await pending;
      const events = await world.events(shop);
      await eventually(async () => (await world.events(shop)).some((e) => e.requestId === holdId), 'the usage event');
      const event = (await world.events(shop)).find((e) => e.requestId === holdId)!;
      void events;

      const admitted: TokenPrice = { inputPerMillion: '3', outputPerMillion: '7' };
      expect(holds).toHaveLength(1);
      // The hold: the worst case at the customer's price (not the platform's 1 / 2).
      const hold = holds[0];
      expect(hold.holdUnits).toBe(heldUnits);
      expect(hold.holdUnits).toBe(compiledCostUnits({ input: hold.tokenEstimate - 100, output: 100 }, runtimeCompiled(admitted)));
      // The settlement: the real usage at the same price.
      const charged = costUnits({ input: event.inputTokens, output: event.outputTokens, cacheRead: event.cacheReadTokens }, admitted);
      expect(event.retailUnits).toBe(charged.toString());
      expect(event.wholesaleUnits).toBe(costUnits({ input: event.inputTokens, output: event.outputTokens, cacheRead: event.cacheReadTokens }, PLATFORM_PRICE).toString());
      expect(before - (await world.balance(shop, 'carol'))!).toBe(charged);
      expect(await world.openHolds(shop)).toBe(0);

      // The next request pays the new price.
      await c.client.chat.completions.create({ model, messages: [{ role: 'user', content: 'again' }], max_tokens: 100 });
      await eventually(async () => (await world.events(shop)).length === events.length + 1 || (await world.events(shop)).length > events.length, 'the second event');
      const last = (await world.events(shop)).at(-1)!;
      expect(last.retailUnits).toBe(costUnits({ input: last.inputTokens, output: last.outputTokens, cacheRead: last.cacheReadTokens }, { inputPerMillion: '30', outputPerMillion: '70' }).toString());
      expect(holds[1].holdUnits).toBe(compiledCostUnits({ input: holds[1].tokenEstimate - 100, output: 100 }, runtimeCompiled({ inputPerMillion: '30', outputPerMillion: '70' })));
    } finally {
      spy.mockRestore();
    }
  });
});

const runtimeCompiled = (price: TokenPrice) => compilePrice(price);
