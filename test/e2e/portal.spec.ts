import Redis from 'ioredis';
import { Client } from 'pg';
import { billingKeys } from '../../libs/billing/src';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs } from '../support/db';
import { call } from '../support/http';
import { resellerWithUsers, signIn, TestTenant, Tokens } from '../support/identity';
import { expectInvalidFields, expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';

/**
 * What the customer portal reads (issue 20): the own wallet with its running balance and held
 * amount, own usage by day, model and key with filters, its CSV export, own keys with their last
 * use. A customer sees only their own; another tenant's token is refused at this tenant's domain.
 */
describe('customer portal reads (e2e)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let shop: TestTenant;
  let other: TestTenant;
  const tokens: Record<string, Tokens> = {};
  let keyId: string;
  let otherKeyId: string;
  const day = (n: number, hour = 12) => new Date(Date.UTC(2026, 10, n, hour));
  const requestIds: Record<string, string> = {};

  const get = (who: string, path: string, tenant = shop) => call(api.baseUrl, 'GET', path, { host: tenant.domain, token: tokens[who].accessToken });

  beforeAll(async () => {
    system = await connectAs('system');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    api = await startTestApi({ REDIS_URL: redisUrl });
    shop = await resellerWithUsers(system, { owner: ['owner'], c1: ['user'], c2: ['user'] });
    other = await resellerWithUsers(system, { owner: ['owner'], c3: ['user'] });
    for (const name of ['owner', 'c1', 'c2']) tokens[name] = await signIn(api.baseUrl, shop, name);
    tokens.c3 = await signIn(api.baseUrl, other, 'c3');

    // c1's wallet: +10, +5, -2.5 (in this order).
    for (const [amount, note] of [['10', 'first'], ['5', 'second'], ['-2.5', 'third']]) {
      const res = await call(api.baseUrl, 'POST', `/api/v1/customers/${shop.users.c1.id}/credits`, { host: shop.domain, token: tokens.owner.accessToken, json: { amount, note } });
      expect(res.status).toBe(200);
    }
    // c1's keys; one named like a spreadsheet formula.
    const key = await call(api.baseUrl, 'POST', '/api/v1/keys', { host: shop.domain, token: tokens.c1.accessToken, json: { name: '=HYPERLINK("x")' } });
    expect(key.status).toBe(201);
    keyId = key.body.id;
    const otherKey = await call(api.baseUrl, 'POST', '/api/v1/keys', { host: shop.domain, token: tokens.c1.accessToken, json: { name: 'unused' } });
    otherKeyId = otherKey.body.id;

    const record = async (name: string, customerId: string, model: string, apiKeyId: string | null, at: Date, charge: string) => {
      const { rows } = await system.query(
        `INSERT INTO usage_records (request_id, tenant_id, customer_id, api_key_id, model, input_tokens, output_tokens, retail_charge, status, latency_ms, created_at)
         VALUES (gen_random_uuid(), $1, $2, $3, $4, 100, 20, $5, 'ok', 42, $6) RETURNING request_id`,
        [shop.id, customerId, apiKeyId, model, charge, at.toISOString()],
      );
      requestIds[name] = rows[0].request_id;
    };
    await record('a', shop.users.c1.id, 'model-a', keyId, day(1), '0.1');
    await record('b', shop.users.c1.id, 'model-b', keyId, day(2), '0.2');
    await record('c', shop.users.c1.id, 'model-a', null, day(2, 18), '0.4');
    await record('d', shop.users.c2.id, 'model-a', null, day(2), '0.8');
    // Records written here bypass metering, which also stamps each key's last use per batch.
    await system.query(
      `UPDATE api_keys k SET last_used_at = (SELECT max(created_at) FROM usage_records ur WHERE ur.tenant_id = k.tenant_id AND ur.api_key_id = k.id) WHERE k.id = $1`,
      [keyId],
    );
  });

  afterAll(async () => {
    await api?.close();
    redis?.disconnect();
    await system?.end();
  });

  describe('wallet', () => {
    it('lists own transactions newest first, each with the balance right after it, across pages', async () => {
      const all = await get('c1', '/api/v1/me/transactions');
      expect(all.status).toBe(200);
      expect(all.body.items.map((t: { amount: string; balanceAfter: string }) => [t.amount, t.balanceAfter])).toEqual([
        ['-2.500000000', '12.500000000'],
        ['5.000000000', '15.000000000'],
        ['10.000000000', '10.000000000'],
      ]);
      const first = await get('c1', '/api/v1/me/transactions?limit=1');
      expect(first.body.items[0].balanceAfter).toBe('12.500000000');
      const second = await get('c1', `/api/v1/me/transactions?limit=1&cursor=${first.body.nextCursor}`);
      expect(second.body.items.map((t: { balanceAfter: string }) => t.balanceAfter)).toEqual(['15.000000000']);
      const third = await get('c1', `/api/v1/me/transactions?limit=1&cursor=${second.body.nextCursor}`);
      expect(third.body.items.map((t: { balanceAfter: string }) => t.balanceAfter)).toEqual(['10.000000000']);
      // Staff see the same running balance on the customer's wallet.
      const staff = await get('owner', `/api/v1/customers/${shop.users.c1.id}/transactions`);
      expect(staff.body.items.map((t: { balanceAfter: string }) => t.balanceAfter)).toEqual(['12.500000000', '15.000000000', '10.000000000']);
      // c2 has none of c1's.
      expect((await get('c2', '/api/v1/me/transactions')).body.items).toEqual([]);
    });

    it('shows the balance, what can be spent and what is held by requests in flight', async () => {
      await redis.set(billingKeys.balance(shop.id, shop.users.c1.id), String(12_000_000_000));
      const res = await get('c1', '/api/v1/me/balance');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ customerId: shop.users.c1.id, balance: '12.500000000', spendable: '12.000000000', held: '0.500000000' });
      const none = await get('c2', '/api/v1/me/balance');
      expect(none.body).toMatchObject({ balance: '0.000000000', spendable: null, held: '0.000000000' });
    });
  });

  describe('usage', () => {
    const range = `from=${day(1, 0).toISOString()}&to=${day(3, 0).toISOString()}`;

    it('sums own usage by day, model and key, with filters by date range, key and model', async () => {
      const total = await get('c1', `/api/v1/usage/summary?${range}`);
      expect(total.status).toBe(200);
      expect(total.body.totals).toMatchObject({ requests: 3, inputTokens: 300, outputTokens: 60, spend: '0.700000000' });
      expect(total.body.totals).not.toHaveProperty('wholesaleCost');

      const byDay = await get('c1', `/api/v1/usage/summary?${range}&groupBy=day`);
      expect(byDay.body.groups.map((g: { key: string; requests: number; spend: string }) => [g.key, g.requests, g.spend])).toEqual([
        ['2026-11-01', 1, '0.100000000'],
        ['2026-11-02', 2, '0.600000000'],
      ]);
      const byModel = await get('c1', `/api/v1/usage/summary?${range}&groupBy=model`);
      expect(byModel.body.groups.map((g: { key: string; requests: number }) => [g.key, g.requests])).toEqual([
        ['model-a', 2],
        ['model-b', 1],
      ]);
      const byKey = await get('c1', `/api/v1/usage/summary?${range}&groupBy=key`);
      expect(byKey.body.groups.map((g: { key: string | null; requests: number }) => [g.key, g.requests])).toEqual([
        [keyId, 2],
        [null, 1],
      ]);

      expect((await get('c1', `/api/v1/usage/summary?${range}&keyId=${keyId}`)).body.totals).toMatchObject({ requests: 2, spend: '0.300000000' });
      expect((await get('c1', `/api/v1/usage/summary?${range}&model=model-a`)).body.totals).toMatchObject({ requests: 2, spend: '0.500000000' });
      expect((await get('c1', `/api/v1/usage/summary?${range}&model=model-a&keyId=${keyId}`)).body.totals).toMatchObject({ requests: 1 });
      const oneDay = `from=${day(2, 0).toISOString()}&to=${day(3, 0).toISOString()}`;
      expect((await get('c1', `/api/v1/usage/summary?${oneDay}`)).body.totals).toMatchObject({ requests: 2 });

      // c2 sees only their own request; naming c1's key finds nothing.
      expect((await get('c2', `/api/v1/usage/summary?${range}`)).body.totals).toMatchObject({ requests: 1, spend: '0.800000000' });
      expect((await get('c2', `/api/v1/usage/summary?${range}&keyId=${keyId}`)).body.totals).toMatchObject({ requests: 0 });
      // The owner sees the whole tenant.
      expect((await get('owner', `/api/v1/usage/summary?${range}`)).body.totals).toMatchObject({ requests: 4 });

      expectInvalidFields(await get('c1', `/api/v1/usage/summary?keyId=nope`), ['keyId']);
      expectInvalidFields(await get('c1', `/api/v1/usage/summary?model=${encodeURIComponent('a b')}`), ['model']);
      expectInvalidFields(await get('c1', `/api/v1/usage/summary?groupBy=galaxy`), ['groupBy']);
    });

    it('downloads own usage as CSV, filtered, with formula-like text defused', async () => {
      const res = await get('c1', `/api/v1/usage/export.csv?${range}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toContain('text/csv');
      expect(res.headers['content-disposition']).toContain('attachment');
      expect(res.headers['x-aigw-truncated']).toBe('false');
      const lines = res.text.trimEnd().split('\r\n');
      expect(lines[0]).toBe('time,request_id,customer_id,key_id,key_name,model,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,charge,status,latency_ms');
      expect(lines.slice(1)).toEqual([
        `${day(1).toISOString()},${requestIds.a},${shop.users.c1.id},${keyId},"'=HYPERLINK(""x"")",model-a,100,20,0,0,0.100000000,ok,42`,
        `${day(2).toISOString()},${requestIds.b},${shop.users.c1.id},${keyId},"'=HYPERLINK(""x"")",model-b,100,20,0,0,0.200000000,ok,42`,
        `${day(2, 18).toISOString()},${requestIds.c},${shop.users.c1.id},,,model-a,100,20,0,0,0.400000000,ok,42`,
      ]);
      expect(res.text).not.toContain(requestIds.d);

      const filtered = await get('c1', `/api/v1/usage/export.csv?${range}&model=model-b&keyId=${keyId}`);
      expect(filtered.text.trimEnd().split('\r\n')).toHaveLength(2);
      expect(filtered.text).toContain(requestIds.b);

      const theirs = await get('c2', `/api/v1/usage/export.csv?${range}`);
      expect(theirs.text).toContain(requestIds.d);
      expect(theirs.text).not.toContain(requestIds.a);
      expectInvalidFields(await get('c1', `/api/v1/usage/export.csv?groupBy=day`), ['groupBy']);
    });
  });

  describe('keys and prices', () => {
    it('lists own keys with status, limits and the time of their last request', async () => {
      const res = await get('c1', '/api/v1/keys');
      expect(res.status).toBe(200);
      const used = res.body.items.find((k: { id: string }) => k.id === keyId);
      expect(used).toMatchObject({ status: 'active', rpmLimit: null, spendLimit: null });
      expect(new Date(used.lastUsedAt).toISOString()).toBe(day(2).toISOString());
      expect(res.body.items.find((k: { id: string }) => k.id === otherKeyId).lastUsedAt).toBeNull();
      expect((await get('c1', `/api/v1/keys/${keyId}`)).body.lastUsedAt).toBeTruthy();
      // c2 sees none of c1's keys.
      expect((await get('c2', '/api/v1/keys')).body.items).toEqual([]);
      expectProblem(await get('c2', `/api/v1/keys/${keyId}`), 404, 'not_found');
    });

    it("reads the tenant's retail prices", async () => {
      const res = await get('c1', '/api/v1/pricing');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ tenantId: shop.id, currency: 'USD', items: expect.any(Array) });
      expect(res.body.items.every((i: Record<string, unknown>) => !('wholesale' in i) && !('margin' in i))).toBe(true);
    });
  });

  it("refuses another tenant's customer at this tenant's domain on every portal read", async () => {
    for (const path of [
      '/api/v1/me/balance',
      '/api/v1/me/transactions',
      '/api/v1/me/sessions',
      '/api/v1/usage/summary',
      '/api/v1/usage/export.csv',
      '/api/v1/keys',
      '/api/v1/pricing',
    ]) {
      const res = await call(api.baseUrl, 'GET', path, { host: shop.domain, token: tokens.c3.accessToken });
      expect({ path, status: res.status, code: res.body?.code }).toEqual({ path, status: 403, code: 'tenant_mismatch' });
    }
  });
});
