import Redis from 'ioredis';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { billingKeys } from '../../libs/billing/src';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant, Tokens } from '../support/identity';
import { isolatedRedisUrl } from '../support/redis';
import { expectInvalidFields, expectProblem } from '../support/problem';
import { ledgerInvariants } from '../support/usage';

/**
 * Balances and credits through the HTTP API: who may credit and read whose wallet, idempotency
 * by reference, the overdraft rule, the audit entry, and the Redis balance following the ledger
 * (payments: test/e2e/topups.spec.ts).
 */
describe('ledger: credits, balances, payments (e2e)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let shop: TestTenant;
  let other: TestTenant;
  let platform: TestTenant;
  const tokens: Record<string, Tokens> = {};

  beforeAll(async () => {
    system = await connectAs('system');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    api = await startTestApi({ REDIS_URL: redisUrl });
    shop = await resellerWithUsers(system, {
      owner: ['owner'],
      finance: ['finance'],
      sales: ['sales'],
      sales2: ['sales'],
      c1: ['user'],
      c2: ['user'],
    });
    other = await resellerWithUsers(system, { owner: ['owner'] });
    platform = await platformWithUsers(system, { operator: ['operator'], tech: ['tech'], pfinance: ['finance'], pc: ['user'] });
    await system.query(`INSERT INTO customer_bindings (tenant_id, customer_id, sales_user_id) VALUES ($1, $2, $3)`, [
      shop.id,
      shop.users.c1.id,
      shop.users.sales.id,
    ]);
    for (const name of ['owner', 'finance', 'sales', 'sales2', 'c1', 'c2']) tokens[name] = await signIn(api.baseUrl, shop, name);
    tokens.otherOwner = await signIn(api.baseUrl, other, 'owner');
    for (const name of ['operator', 'tech', 'pfinance']) tokens[name] = await signIn(api.baseUrl, platform, name);
  });

  afterAll(async () => {
    await api?.close();
    redis?.disconnect();
    await system?.end();
  });

  const credit = (tenant: TestTenant, token: Tokens, customerId: string, json: unknown) =>
    call(api.baseUrl, 'POST', `/api/v1/customers/${customerId}/credits`, { host: tenant.domain, token: token.accessToken, json });
  const balance = (tenant: TestTenant, token: Tokens, customerId: string) =>
    call(api.baseUrl, 'GET', `/api/v1/customers/${customerId}/balance`, { host: tenant.domain, token: token.accessToken });
  const ledgerBalance = async (tenantId: string, customerId: string) =>
    (await system.query(`SELECT balance::text FROM ledger_accounts WHERE tenant_id = $1 AND customer_id = $2`, [tenantId, customerId])).rows[0]?.balance;

  describe('who may credit', () => {
    it.each([
      ['owner', 200],
      ['finance', 200],
      // Without the capability at all, the route answers 403 whatever the id (nothing is revealed).
      ['sales', 403], // bound: may read the wallet, not credit it
      ['sales2', 403], // not bound
      ['c1', 403], // the customer themself
      ['c2', 403], // another customer
    ])('%s of the reseller -> %i', async (who, status) => {
      const res = await credit(shop, tokens[who], shop.users.c1.id, { amount: '1.5', note: `by ${who}` });
      if (status === 200) expect(res.status).toBe(200);
      else expectProblem(res, status, status === 404 ? 'not_found' : 'forbidden');
    });

    it("another tenant's owner cannot reach the customer (404)", async () => {
      expectProblem(await credit(other, tokens.otherOwner, shop.users.c1.id, { amount: '1', note: 'x' }), 404, 'not_found');
    });

    it.each([
      ['operator', 403],
      ['tech', 403],
      ['pfinance', 200],
    ])('platform %s on a platform customer -> %i', async (who, status) => {
      const res = await credit(platform, tokens[who], platform.users.pc.id, { amount: '2', note: `by ${who}` });
      if (status === 200) expect(res.status).toBe(200);
      else expectProblem(res, status, 'forbidden');
    });

    it('without a token: 401', async () => {
      const res = await call(api.baseUrl, 'POST', `/api/v1/customers/${shop.users.c1.id}/credits`, { host: shop.domain, json: { amount: '1', note: 'x' } });
      expect(res.status).toBe(401);
    });
  });

  describe('credits', () => {
    it('refuses amounts with more than 9 decimals, zero, exponents and a missing note', async () => {
      for (const amount of ['1.0000000001', '0', '0.000', '1e3', 1, '']) {
        expectInvalidFields(await credit(shop, tokens.owner, shop.users.c2.id, { amount, note: 'x' }), ['amount']);
      }
      expectInvalidFields(await credit(shop, tokens.owner, shop.users.c2.id, { amount: '1' }), ['note']);
      expectInvalidFields(await credit(shop, tokens.owner, shop.users.c2.id, { amount: '1', note: 'x', extra: true }), ['extra']);
    });

    it('credits once per reference, refuses the reference for another amount, and audits it', async () => {
      const customer = shop.users.c2.id;
      const before = (await ledgerBalance(shop.id, customer)) ?? '0.000000000';
      const reference = `INV-${uuidv7()}`;
      const first = await credit(shop, tokens.finance, customer, { amount: '10.123456789', note: 'top-up', reference });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ kind: 'credit', amount: '10.123456789', reference, created: true, note: 'top-up' });
      const again = await credit(shop, tokens.owner, customer, { amount: '10.123456789', note: 'top-up', reference });
      expect(again.body).toMatchObject({ id: first.body.id, created: false });
      expectProblem(await credit(shop, tokens.owner, customer, { amount: '11', note: 'top-up', reference }), 409, 'credit_reference_reused');
      expect(Number(await ledgerBalance(shop.id, customer)) - Number(before)).toBeCloseTo(10.123456789, 9);
      const audit = await system.query(`SELECT action, actor_user_id, subject_id FROM audit_log WHERE tenant_id = $1 AND action = 'wallet.credited' AND subject_id = $2`, [
        shop.id,
        customer,
      ]);
      expect(audit.rows.some((r) => r.actor_user_id === shop.users.finance.id)).toBe(true);
    });

    it('concurrent credits with one reference credit once', async () => {
      const reference = `RACE-${uuidv7()}`;
      const results = await Promise.all(
        Array.from({ length: 6 }, () => credit(shop, tokens.owner, shop.users.c2.id, { amount: '3', note: 'race', reference })),
      );
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(results.filter((r) => r.body.created).length).toBe(1);
      const { rows } = await system.query(`SELECT count(*) FROM ledger_transactions WHERE tenant_id = $1 AND idempotency_key = $2`, [shop.id, `credit:${reference}`]);
      expect(rows[0].count).toBe('1');
    });

    it('a debit adjustment never takes the wallet below zero unless overdraft is allowed', async () => {
      const fresh = await resellerWithUsers(system, { owner: ['owner'], c: ['user'] });
      const owner = await signIn(api.baseUrl, fresh, 'owner');
      const customer = fresh.users.c.id;
      expect((await credit(fresh, owner, customer, { amount: '5', note: 'start' })).status).toBe(200);
      expectProblem(await credit(fresh, owner, customer, { amount: '-5.000000001', note: 'too much' }), 422, 'insufficient_balance');
      const debit = await credit(fresh, owner, customer, { amount: '-5', note: 'all of it' });
      expect(debit.body).toMatchObject({ kind: 'debit', amount: '-5.000000000', balance: '0.000000000' });
      await system.query(`UPDATE ledger_accounts SET allow_overdraft = true WHERE tenant_id = $1 AND customer_id = $2`, [fresh.id, customer]);
      expect((await credit(fresh, owner, customer, { amount: '-2', note: 'overdraft' })).body).toMatchObject({ balance: '-2.000000000' });
    });

    it('applies a credit to a loaded Redis balance, and leaves an unloaded one to be loaded from the ledger', async () => {
      const fresh = await resellerWithUsers(system, { owner: ['owner'], c: ['user'] });
      const owner = await signIn(api.baseUrl, fresh, 'owner');
      const key = billingKeys.balance(fresh.id, fresh.users.c.id);
      await credit(fresh, owner, fresh.users.c.id, { amount: '1.25', note: 'before load' });
      expect(await redis.get(key)).toBeNull();
      const balances = api.app.get(BalanceService, { strict: false });
      await balances.ensureLoaded(fresh.id, fresh.users.c.id);
      expect(await redis.get(key)).toBe('1250000000');
      await credit(fresh, owner, fresh.users.c.id, { amount: '0.75', note: 'after load' });
      expect(await redis.get(key)).toBe('2000000000');
      // Loading again changes nothing (SET NX).
      await balances.ensureLoaded(fresh.id, fresh.users.c.id);
      expect(await redis.get(key)).toBe('2000000000');
    });

    it('a credit racing the on-demand load is counted exactly once', async () => {
      const fresh = await resellerWithUsers(system, { owner: ['owner'], c: ['user'] });
      const owner = await signIn(api.baseUrl, fresh, 'owner');
      const balances = api.app.get(BalanceService, { strict: false });
      const key = billingKeys.balance(fresh.id, fresh.users.c.id);
      for (let round = 0; round < 10; round++) {
        await redis.del(key);
        await Promise.all([
          credit(fresh, owner, fresh.users.c.id, { amount: '1', note: `race ${round}` }),
          balances.ensureLoaded(fresh.id, fresh.users.c.id),
        ]);
        await balances.ensureLoaded(fresh.id, fresh.users.c.id);
        expect(await redis.get(key)).toBe(String(BigInt(round + 1) * 1_000_000_000n));
      }
    });
  });

  describe('reading balances and transactions', () => {
    it.each([
      ['owner', 200],
      ['finance', 200],
      ['sales', 200],
      ['sales2', 404],
      ['c1', 200],
      ['c2', 404],
    ])("%s reading c1's balance -> %i", async (who, status) => {
      const res = await balance(shop, tokens[who], shop.users.c1.id);
      expect(res.status).toBe(status);
      if (status === 200) expect(res.body).toMatchObject({ customerId: shop.users.c1.id, balance: expect.stringMatching(/^\d+\.\d{9}$/) });
    });

    it('a customer reads their own balance and transactions at /me', async () => {
      const me = await call(api.baseUrl, 'GET', '/api/v1/me/balance', { host: shop.domain, token: tokens.c1.accessToken });
      expect(me.status).toBe(200);
      expect(me.body.customerId).toBe(shop.users.c1.id);
      expect(me.body.balance).toBe(await ledgerBalance(shop.id, shop.users.c1.id));
      const page = await call(api.baseUrl, 'GET', '/api/v1/me/transactions?limit=1', { host: shop.domain, token: tokens.c1.accessToken });
      expect(page.status).toBe(200);
      expect(page.body.items).toHaveLength(1);
      const next = await call(api.baseUrl, 'GET', `/api/v1/me/transactions?limit=1&cursor=${page.body.nextCursor}`, { host: shop.domain, token: tokens.c1.accessToken });
      expect(next.body.items[0].id).not.toBe(page.body.items[0].id);
      expect((await call(api.baseUrl, 'GET', '/api/v1/me/transactions?cursor=garbage', { host: shop.domain, token: tokens.c1.accessToken })).status).toBe(400);
    });

    it('an unbound salesperson cannot list the transactions either', async () => {
      const res = await call(api.baseUrl, 'GET', `/api/v1/customers/${shop.users.c1.id}/transactions`, { host: shop.domain, token: tokens.sales2.accessToken });
      expectProblem(res, 404, 'not_found');
    });
  });

  it('leaves the ledger balanced', async () => {
    expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });
  });

  it('the application role cannot change or delete ledger entries, transactions or balances', async () => {
    const app = await connectAs('app');
    try {
      for (const sql of [
        `UPDATE ledger_entries SET amount = 1`,
        `DELETE FROM ledger_entries`,
        `UPDATE ledger_transactions SET amount = 1`,
        `DELETE FROM ledger_transactions`,
        `UPDATE ledger_accounts SET balance = 1000`,
      ]) {
        await expect(app.query(sql)).rejects.toThrow(/permission denied/);
      }
    } finally {
      await app.end();
    }
  });
});
