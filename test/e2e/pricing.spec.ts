import { Client } from 'pg';
import { compiledCostUnits, costUnits } from '@app/money';
import { RunningApp, startTestApi } from '../support/app';
import { auditLog } from '../support/auth';
import { connectAs, uniqueSlug } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant, Tokens } from '../support/identity';
import { expectInvalidFields, expectProblem } from '../support/problem';
import { PricingRuntime } from '../../src/modules/pricing/pricing-runtime';
import { waitUntil } from '../support/timing';

/**
 * Price books through the HTTP API: the platform list, reseller retail prices that inherit it,
 * the wholesale floor and discount, scheduled versions, hiding, history, money validation, and
 * the in-memory runtime the proxy prices requests with.
 */
describe('pricing (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let api2: RunningApp | undefined;
  let platform: TestTenant;
  let shop: TestTenant;
  const tokens: Record<string, Tokens> = {};
  let runtime: PricingRuntime;

  const as = (tenant: TestTenant, who: string) => ({ host: tenant.domain, token: tokens[`${tenant.type}:${who}`].accessToken });
  const put = (tenant: TestTenant, who: string, model: string, json: unknown) =>
    call(api.baseUrl, 'PUT', `/api/v1/pricing/${encodeURIComponent(model)}`, { ...as(tenant, who), json });
  const list = (tenant: TestTenant, who: string) => call(api.baseUrl, 'GET', '/api/v1/pricing', as(tenant, who));
  const item = (body: any, model: string) => body.items.find((i: { model: string }) => i.model === model);
  const model = () => uniqueSlug('model');

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    runtime = api.app.get(PricingRuntime);
    platform = await platformWithUsers(system, { finance: ['finance'], owner: ['owner'], tech: ['tech'], sales: ['sales'], user: ['user'], operator: ['operator'] });
    shop = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'], sales: ['sales'], user: ['user'] });
    for (const t of [platform, shop]) for (const who of Object.keys(t.users)) tokens[`${t.type}:${who}`] = await signIn(api.baseUrl, t, who);
  });

  afterAll(async () => {
    await api2?.close();
    await api?.close();
    await system?.end();
  });

  it('lets a reseller inherit the platform price until it sets its own, and shows wholesale and margin to owner and finance only', async () => {
    const m = model();
    expect((await put(platform, 'finance', m, { inputPerMillion: '0.15', outputPerMillion: '0.60', cacheReadPerMillion: '0.075' })).status).toBe(200);

    const inherited = item((await list(shop, 'owner')).body, m);
    expect(inherited).toMatchObject({
      model: m,
      source: 'inherited',
      hidden: false,
      price: { inputPerMillion: '0.15', outputPerMillion: '0.6', cacheReadPerMillion: '0.075', cacheWritePerMillion: null, perRequest: null },
      wholesale: { inputPerMillion: '0.15', outputPerMillion: '0.6' },
      margin: { inputPerMillion: '0', outputPerMillion: '0' },
    });
    const asUser = item((await list(shop, 'user')).body, m);
    expect(asUser.price.inputPerMillion).toBe('0.15');
    expect(asUser).not.toHaveProperty('wholesale');
    expect(asUser).not.toHaveProperty('margin');
    expect((await list(shop, 'user')).body).not.toHaveProperty('wholesaleDiscountPercent');

    const set = await put(shop, 'finance', m, { inputPerMillion: '0.2', outputPerMillion: '0.8' });
    expect(set.status).toBe(200);
    const own = item((await list(shop, 'finance')).body, m);
    expect(own).toMatchObject({ source: 'own', price: { inputPerMillion: '0.2', outputPerMillion: '0.8' }, margin: { inputPerMillion: '0.05', outputPerMillion: '0.2', cacheReadPerMillion: '0.125' } });
    // The platform's own list is unchanged for the platform's customers.
    expect(item((await list(platform, 'user')).body, m)).toMatchObject({ source: 'own', price: { inputPerMillion: '0.15' } });

    const effective = (await runtime.effectivePrice(shop.id, m))!;
    expect(effective).toMatchObject({ retailSource: 'own', retail: { inputPerMillion: '0.2' }, wholesale: { inputPerMillion: '0.15' } });
    expect(compiledCostUnits({ input: 1_000_000, output: 1_000_000 }, effective.compiledRetail)).toBe(1_000_000_000n);
    expect(compiledCostUnits({ input: 1_000_000, output: 1_000_000 }, effective.compiledWholesale)).toBe(750_000_000n);
  });

  it('refuses a reseller price below wholesale, naming the floor, and lowers the floor by the discount', async () => {
    const m = model();
    await put(platform, 'owner', m, { inputPerMillion: '1', outputPerMillion: '2', perRequest: '0.001' });
    const below = await put(shop, 'owner', m, { inputPerMillion: '0.95', outputPerMillion: '2', perRequest: '0.001' });
    expectProblem(below, 422, 'price_below_wholesale');
    expect(below.body.detail).toContain('inputPerMillion at least 1');
    // Unset cache prices are billed as input, so they are below the floor too, and named.
    expect(below.body.errors).toEqual(
      [
        ...['inputPerMillion', 'cacheReadPerMillion', 'cacheWritePerMillion'].map((field) => ({ field, messages: ['must be at least 1 (your wholesale price)'] })),
        // and one-hour cache writes, billed at twice input when unset
        { field: 'cacheWrite1hPerMillion', messages: ['must be at least 2 (your wholesale price)'] },
      ],
    );
    // A cache-read price below the platform's input price (its cache-read price, unset) is below too.
    expectProblem(await put(shop, 'owner', m, { inputPerMillion: '1', outputPerMillion: '2', perRequest: '0.001', cacheReadPerMillion: '0.5' }), 422, 'price_below_wholesale');

    // The reseller may not set its own discount; the platform's finance may.
    expect((await call(api.baseUrl, 'PUT', `/api/v1/tenants/${shop.id}/wholesale-discount`, { ...as(shop, 'owner'), json: { percent: '10' } })).status).toBe(403);
    const discount = await call(api.baseUrl, 'PUT', `/api/v1/tenants/${shop.id}/wholesale-discount`, { ...as(platform, 'finance'), json: { percent: '10' } });
    expect(discount.body).toEqual({ tenantId: shop.id, percent: '10' });
    expect((await call(api.baseUrl, 'GET', `/api/v1/tenants/${shop.id}/wholesale-discount`, as(shop, 'finance'))).body.percent).toBe('10');
    // Only resellers have a wholesale discount.
    expectProblem(await call(api.baseUrl, 'PUT', `/api/v1/tenants/${platform.id}/wholesale-discount`, { ...as(platform, 'finance'), json: { percent: '10' } }), 403, 'forbidden');
    expectInvalidFields(await call(api.baseUrl, 'PUT', `/api/v1/tenants/${shop.id}/wholesale-discount`, { ...as(platform, 'finance'), json: { percent: '100' } }), ['percent']);
    expectInvalidFields(await call(api.baseUrl, 'PUT', `/api/v1/tenants/${shop.id}/wholesale-discount`, { ...as(platform, 'finance'), json: { percent: 10 } }), ['percent']);

    const listed = item((await list(shop, 'owner')).body, m);
    expect(listed.wholesale).toMatchObject({ inputPerMillion: '0.9', outputPerMillion: '1.8', perRequest: '0.0009' });
    expect((await list(shop, 'owner')).body.wholesaleDiscountPercent).toBe('10');
    const atFloor = await put(shop, 'owner', m, { inputPerMillion: '0.9', outputPerMillion: '1.8', perRequest: '0.0009' });
    expect(atFloor.status).toBe(200);
    const floorMiss = await put(shop, 'owner', m, { inputPerMillion: '0.9', outputPerMillion: '1.799999999', perRequest: '0.0009', effectiveFrom: new Date(Date.now() + 60_000).toISOString() });
    // Unset reasoning is billed as output: below the floor with it.
    expect(floorMiss.body.errors).toEqual(
      ['outputPerMillion', 'reasoningPerMillion'].map((field) => ({ field, messages: ['must be at least 1.8 (your wholesale price)'] })),
    );
    const effective = (await runtime.effectivePrice(shop.id, m))!;
    expect(effective.wholesale).toMatchObject({ inputPerMillion: '0.9', perRequest: '0.0009' });
    expect(effective.discountPercent).toBe('10');
    const audit = await auditLog(api.baseUrl, shop, tokens['reseller:owner'], { action: 'price.wholesale_discount_set' });
    expect(audit[0]).toMatchObject({ subjectId: shop.id });
  });

  it('applies a scheduled price at its time, keeps the price in force before it, and keeps every version', async () => {
    const m = model();
    await put(platform, 'finance', m, { inputPerMillion: '1', outputPerMillion: '1' });
    await put(shop, 'finance', m, { inputPerMillion: '2', outputPerMillion: '2' });
    const from = new Date(Date.now() + 1500);
    expect((await put(shop, 'finance', m, { inputPerMillion: '3', outputPerMillion: '3', effectiveFrom: from.toISOString() })).status).toBe(200);
    expect(item((await list(shop, 'finance')).body, m).price.inputPerMillion).toBe('2');
    expect((await runtime.effectivePrice(shop.id, m, from.getTime() - 1))!.retail.inputPerMillion).toBe('2');
    expect((await runtime.effectivePrice(shop.id, m, from.getTime()))!.retail.inputPerMillion).toBe('3');
    await new Promise((r) => setTimeout(r, from.getTime() - Date.now() + 50));
    expect(item((await list(shop, 'finance')).body, m)).toMatchObject({ price: { inputPerMillion: '3' }, effectiveFrom: from.toISOString() });
    // No cache was invalidated in between: the runtime book holds every version.
    expect((await runtime.effectivePrice(shop.id, m))!.retail.inputPerMillion).toBe('3');

    const history = await call(api.baseUrl, 'GET', `/api/v1/pricing/${m}/history`, as(shop, 'finance'));
    expect(history.status).toBe(200);
    expect(history.body.items.map((v: any) => [v.list, v.price.inputPerMillion, v.setByEmail])).toEqual([
      ['own', '3', shop.users.finance.email],
      ['own', '2', shop.users.finance.email],
      ['platform', '1', null],
    ]);
    expect((await call(api.baseUrl, 'GET', `/api/v1/pricing/${m}/history`, as(shop, 'sales'))).status).toBe(403);
    // Same effective time twice: a conflict, not an overwrite.
    expectProblem(await put(shop, 'finance', m, { inputPerMillion: '4', outputPerMillion: '4', effectiveFrom: new Date(from.getTime() + 60_000).toISOString() }).then(async () =>
      put(shop, 'finance', m, { inputPerMillion: '5', outputPerMillion: '5', effectiveFrom: new Date(from.getTime() + 60_000).toISOString() })), 409, 'price_version_exists');
    const { rows } = await system.query(`SELECT count(*)::int AS n FROM tenant_prices WHERE tenant_id = $1 AND model = $2`, [shop.id, m]);
    expect(rows[0].n).toBe(3);
  });

  it('never deletes or changes a price version (append-only for the application role)', async () => {
    const app = await connectAs('app');
    try {
      await app.query('BEGIN');
      await app.query('SELECT tenancy.enter_scope($1::uuid)', [shop.id]);
      await expect(app.query(`DELETE FROM tenant_prices WHERE tenant_id = $1`, [shop.id])).rejects.toThrow(/permission denied/);
      await app.query('ROLLBACK');
      await app.query('BEGIN');
      await app.query('SELECT tenancy.enter_scope($1::uuid)', [shop.id]);
      // A reseller scope cannot write the platform list.
      await expect(
        app.query(`INSERT INTO platform_prices (id, model, input_per_million, output_per_million, effective_from) VALUES (gen_random_uuid(), 'x', 0, 0, now())`),
      ).rejects.toThrow(/row-level security/);
      await app.query('ROLLBACK');
    } finally {
      await app.end();
    }
  });

  it('prices one token of the cheapest model at one nano-unit, never zero, with prices set through the API', async () => {
    const m = model();
    expect((await put(platform, 'finance', m, { inputPerMillion: '0.001', outputPerMillion: '0.000000001' })).status).toBe(200);
    expect(item((await list(platform, 'user')).body, m).price).toMatchObject({ inputPerMillion: '0.001', outputPerMillion: '0.000000001' });
    const price = (await runtime.effectivePrice(platform.id, m))!;
    expect(compiledCostUnits({ input: 1, output: 0 }, price.compiledRetail)).toBe(1n);
    expect(compiledCostUnits({ input: 0, output: 1 }, price.compiledRetail)).toBe(1n);
    expect(compiledCostUnits({ input: 1, output: 1 }, price.compiledRetail)).toBe(costUnits({ input: 1, output: 1 }, price.retail));
    expect(compiledCostUnits({ input: 1000, output: 0 }, price.compiledRetail)).toBe(1000n);
    // 10^-15 per output token: rounded up once per request, never per token.
    expect(compiledCostUnits({ input: 0, output: 1_000_000 }, price.compiledRetail)).toBe(1n);
    expect(compiledCostUnits({ input: 0, output: 1_000_001 }, price.compiledRetail)).toBe(2n);
    expect(compiledCostUnits({ input: 1, output: 1_000_001 }, price.compiledRetail)).toBe(costUnits({ input: 1, output: 1_000_001 }, price.retail));
    // A discounted tiny price is rounded up to a whole 10^-9, never to zero.
    await call(api.baseUrl, 'PUT', `/api/v1/tenants/${shop.id}/wholesale-discount`, { ...as(platform, 'finance'), json: { percent: '33.33' } });
    const wholesale = (await runtime.effectivePrice(shop.id, m))!;
    expect(wholesale.wholesale).toMatchObject({ inputPerMillion: '0.0006667', outputPerMillion: '0.000000001' });
    expect(compiledCostUnits({ input: 0, output: 1 }, wholesale.compiledWholesale)).toBe(1n);
    await call(api.baseUrl, 'PUT', `/api/v1/tenants/${shop.id}/wholesale-discount`, { ...as(platform, 'finance'), json: { percent: '10' } });
  });

  it('rejects malformed money, unknown models and past effective times, naming the field, and applies nothing', async () => {
    const m = model();
    await put(platform, 'finance', m, { inputPerMillion: '1', outputPerMillion: '1' });
    expectInvalidFields(await put(shop, 'owner', m, { inputPerMillion: '-1', outputPerMillion: '1' }), ['inputPerMillion'], true);
    expectInvalidFields(await put(shop, 'owner', m, { inputPerMillion: 1.5, outputPerMillion: '1e3' }), ['inputPerMillion', 'outputPerMillion'], true);
    expectInvalidFields(await put(shop, 'owner', m, { inputPerMillion: '1.0000000001', outputPerMillion: '1', perRequest: 'abc' }), ['inputPerMillion', 'perRequest'], true);
    expectInvalidFields(await put(shop, 'owner', m, { inputPerMillion: '1', outputPerMillion: '1', effectiveFrom: new Date(Date.now() - 3600_000).toISOString() }), ['effectiveFrom'], true);
    expectInvalidFields(await put(shop, 'owner', m, { inputPerMillion: '1', outputPerMillion: '1', tenantId: platform.id }), ['tenantId']);
    expectInvalidFields(await put(shop, 'owner', 'bad model!', { inputPerMillion: '1', outputPerMillion: '1' }), ['model'], true);
    const unknown = await put(shop, 'owner', model(), { inputPerMillion: '1', outputPerMillion: '1' });
    expectProblem(unknown, 422, 'unknown_model');
    expect(unknown.body.errors[0].field).toBe('model');
    const { rows } = await system.query(`SELECT count(*)::int AS n FROM tenant_prices WHERE tenant_id = $1 AND model = $2`, [shop.id, m]);
    expect(rows[0].n).toBe(0);
  });

  it('hides a model from the tenant and its key listings, and shows it again', async () => {
    const m = model();
    await put(platform, 'finance', m, { inputPerMillion: '1', outputPerMillion: '1' });
    expect(await runtime.listedModels(shop.id)).toContain(m);
    const hide = await call(api.baseUrl, 'PUT', `/api/v1/pricing/${m}/visibility`, { ...as(shop, 'owner'), json: { hidden: true } });
    expect(hide.body).toMatchObject({ model: m, hidden: true });
    expect(item((await list(shop, 'user')).body, m).hidden).toBe(true);
    expect(await runtime.listedModels(shop.id)).not.toContain(m);
    expect(await runtime.listedModels(platform.id)).toContain(m);
    expect(await runtime.modelsForKey({ tenantId: shop.id, allowedModels: null })).not.toContain(m);
    expect((await call(api.baseUrl, 'PUT', `/api/v1/pricing/${m}/visibility`, { ...as(shop, 'sales'), json: { hidden: false } })).status).toBe(403);
    await call(api.baseUrl, 'PUT', `/api/v1/pricing/${m}/visibility`, { ...as(shop, 'owner'), json: { hidden: false } });
    expect(await runtime.modelsForKey({ tenantId: shop.id, allowedModels: new Set([m]) })).toEqual([m]);
  });

  it('lets only owner and finance set prices, and only platform owner and finance set the platform list', async () => {
    const m = model();
    for (const who of ['tech', 'sales', 'user', 'operator']) expect({ who, status: (await put(platform, who, m, { inputPerMillion: '1', outputPerMillion: '1' })).status }).toEqual({ who, status: 403 });
    expect((await put(platform, 'owner', m, { inputPerMillion: '1', outputPerMillion: '1' })).status).toBe(200);
    for (const who of ['sales', 'user']) expect((await put(shop, who, m, { inputPerMillion: '2', outputPerMillion: '2' })).status).toBe(403);
    for (const who of ['owner', 'finance', 'sales', 'user']) expect((await list(shop, who)).status).toBe(200);
    expect((await call(api.baseUrl, 'GET', `/api/v1/tenants/${shop.id}/wholesale-discount`, as(shop, 'sales'))).status).toBe(403);
    expect((await call(api.baseUrl, 'GET', `/api/v1/tenants/${shop.id}/wholesale-discount`, as(platform, 'tech'))).status).toBe(403);
    const other = await resellerWithUsers(system, { owner: ['owner'] });
    expect((await call(api.baseUrl, 'GET', `/api/v1/tenants/${other.id}/wholesale-discount`, as(shop, 'owner'))).status).toBe(404);
  });

  it('propagates a price change, a hidden model and a discount to a second api instance within 5 seconds', async () => {
    // Closed in afterAll only: passport strategies are process-wide, so the last app started
    // authenticates requests for both while they share this process.
    api2 = await startTestApi({ PRICE_CACHE_TTL_SECONDS: '600' });
    {
      const runtime2 = api2.app.get(PricingRuntime);
      const m = model();
      await put(platform, 'finance', m, { inputPerMillion: '1', outputPerMillion: '1' });
      expect((await runtime2.effectivePrice(shop.id, m))!.retail.inputPerMillion).toBe('1');
      const until = (condition: () => Promise<boolean>) => waitUntil(condition, { what: 'instance 2 to see the change', timeoutMs: 5000, intervalMs: 50, onError: 'throw' });
      await put(shop, 'owner', m, { inputPerMillion: '1.5', outputPerMillion: '1.5' });
      await until(async () => (await runtime2.effectivePrice(shop.id, m))!.retail.inputPerMillion === '1.5');
      await put(platform, 'finance', m, { inputPerMillion: '1.2', outputPerMillion: '1.2' });
      await until(async () => (await runtime2.effectivePrice(shop.id, m))!.wholesale.inputPerMillion === '1.08');
      await call(api.baseUrl, 'PUT', `/api/v1/pricing/${m}/visibility`, { ...as(shop, 'owner'), json: { hidden: true } });
      await until(async () => !(await runtime2.listedModels(shop.id)).includes(m));
    }
  });

  it("lets platform owner and finance read a reseller's list with its costs, and nobody else another tenant's", async () => {
    const m = model();
    await call(api.baseUrl, 'PUT', `/api/v1/tenants/${shop.id}/wholesale-discount`, { ...as(platform, 'finance'), json: { percent: '10' } });
    await put(platform, 'finance', m, { inputPerMillion: '1', outputPerMillion: '1' });
    await put(shop, 'owner', m, { inputPerMillion: '1.25', outputPerMillion: '1.25' });
    const seen = await call(api.baseUrl, 'GET', `/api/v1/pricing?tenantId=${shop.id}`, as(platform, 'finance'));
    expect(seen.body.tenantId).toBe(shop.id);
    expect(item(seen.body, m)).toMatchObject({ source: 'own', price: { inputPerMillion: '1.25' }, wholesale: { inputPerMillion: '0.9' } });
    expect((await call(api.baseUrl, 'GET', `/api/v1/pricing?tenantId=${shop.id}`, as(platform, 'owner'))).status).toBe(200);
    for (const who of ['tech', 'sales', 'user']) {
      expect({ who, status: (await call(api.baseUrl, 'GET', `/api/v1/pricing?tenantId=${shop.id}`, as(platform, who))).status }).toEqual({ who, status: 404 });
    }
    expect((await call(api.baseUrl, 'GET', `/api/v1/pricing?tenantId=${platform.id}`, as(shop, 'owner'))).status).toBe(404);
    expectInvalidFields(await call(api.baseUrl, 'GET', '/api/v1/pricing?tenantId=nope', as(shop, 'owner')), ['tenantId'], true);

    // Every change is in the audit log, with who made it.
    const audit = await auditLog(api.baseUrl, shop, tokens['reseller:owner'], { subjectId: m });
    expect(audit[0]).toMatchObject({ action: 'price.set', actorUserId: shop.users.owner.id });
    expect(JSON.stringify(audit[0])).toContain('1.25');
  });
});
