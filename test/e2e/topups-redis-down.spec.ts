import Decimal from 'decimal.js';
import Redis from 'ioredis';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort, LocalRedis, startRedis } from '../../scripts/local-infra';
import { billingKeys } from '../../libs/billing/src';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs } from '../support/db';
import { FakeStripe, startFakeStripe } from '../support/fakes/stripe';
import { call } from '../support/http';
import { resellerWithUsers, signIn, TestTenant } from '../support/identity';

const SECRET_KEY = 'sk_test_redisDownKey000000001';
const WEBHOOK_SECRET = 'whsec_redisDownSecret0000001';

/**
 * A paid notification while Redis is gone (issue 21): the credit's last step before the commit is
 * the Redis balance, so the whole credit rolls back and Stripe is told to retry (non-2xx); when
 * Redis is back, the retry credits exactly once, ledger and Redis balance together.
 */
describe('top-ups with Redis stopped (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let stripe: FakeStripe;
  let server: LocalRedis;
  let redis: Redis;
  let port: number;
  let dataDir: string;
  let shop: TestTenant;

  beforeAll(async () => {
    system = await connectAs('system');
    dataDir = mkdtempSync(join(tmpdir(), 'aigw-redis-'));
    port = await freePort();
    server = await startRedis({ port, dataDir });
    redis = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    redis.on('error', () => undefined);
    stripe = await startFakeStripe();
    stripe.acceptKeys.add(SECRET_KEY);
    api = await startTestApi({ REDIS_URL: server.url, STRIPE_API_URL: stripe.url });
    shop = await resellerWithUsers(system, { owner: ['owner'], c: ['user'] });
    const owner = (await signIn(api.baseUrl, shop, 'owner')).accessToken;
    const saved = await call(api.baseUrl, 'PUT', '/api/v1/payment-settings', {
      host: shop.domain,
      token: owner,
      json: { stripe: { enabled: true, secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET } },
    });
    expect(saved.status).toBe(200);
  });

  afterAll(async () => {
    await api?.close();
    await stripe?.close();
    redis?.disconnect();
    await server?.stop();
    await system?.end();
  });

  const ledgerBalance = async () =>
    new Decimal((await system.query(`SELECT balance::text FROM ledger_accounts WHERE tenant_id = $1 AND customer_id = $2 AND kind = 'customer_wallet'`, [shop.id, shop.users.c.id])).rows[0]?.balance ?? '0');

  it('credits nothing while Redis is down and exactly once on the retry', async () => {
    const customer = (await signIn(api.baseUrl, shop, 'c')).accessToken;
    const created = await call(api.baseUrl, 'POST', '/api/v1/me/topups', { host: shop.domain, token: customer, json: { amount: '15', provider: 'stripe' } });
    expect(created.status).toBe(201);
    await api.app.get(BalanceService).ensureLoaded(shop.id, shop.users.c.id);
    const key = billingKeys.balance(shop.id, shop.users.c.id);
    const redisBefore = BigInt((await redis.get(key))!);
    const ledgerBefore = await ledgerBalance();
    const paid = stripe.pay(created.body.providerReference, WEBHOOK_SECRET);
    const send = () =>
      call(api.baseUrl, 'POST', '/api/v1/payments/stripe/webhook', {
        host: shop.domain,
        body: paid.payload,
        headers: { 'content-type': 'application/json', 'stripe-signature': paid.signature },
      });

    await server.stop();
    const during = await send();
    expect(during.status).toBeGreaterThanOrEqual(500);
    expect((await ledgerBalance()).eq(ledgerBefore)).toBe(true);
    const { rows } = await system.query(`SELECT status FROM topups WHERE id = $1`, [created.body.id]);
    expect(rows[0].status).toBe('pending');

    server = await startRedis({ port, dataDir });
    let after = await send();
    // The api's connection comes back within its retry strategy.
    for (let i = 0; i < 50 && after.status >= 500; i++) {
      await new Promise((r) => setTimeout(r, 200));
      after = await send();
    }
    expect(after.body).toEqual({ received: true, outcome: 'credited' });
    expect((await send()).body).toEqual({ received: true, outcome: 'duplicate' });
    expect((await ledgerBalance()).minus(ledgerBefore).toFixed()).toBe('15');
    expect(BigInt((await redis.get(key))!) - redisBefore).toBe(15_000_000_000n);
  });
});
