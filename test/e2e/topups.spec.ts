import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import Decimal from 'decimal.js';
import Redis from 'ioredis';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { billingKeys } from '../../libs/billing/src';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { MaintenanceProcessor } from '../../src/modules/maintenance/maintenance.processor';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { connectAs } from '../support/db';
import { FakeEpay, startFakeEpay } from '../support/fakes/epay';
import { FakeStripe, startFakeStripe } from '../support/fakes/stripe';
import { call } from '../support/http';
import { resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';
import { ledgerInvariants } from '../support/usage';

const SHOP = { stripeKey: 'sk_test_shopKEY0000000000000001', webhookSecret: 'whsec_shopSecretForTheSuite01', epay: { pid: '1001', key: 'shop-epay-merchant-key-0001' } };
const OTHER = { stripeKey: 'sk_test_otherKEY000000000000002', webhookSecret: 'whsec_otherSecretForTheSuite2' };

/**
 * Top-ups end to end (issue 21): a customer starts an order, pays at a local fake Stripe (the
 * `stripe` SDK pointed at it through STRIPE_API_URL) or a fake Epay gateway, and the signed
 * notification credits the wallet exactly once. Also: replays, forged signatures, tampered
 * amounts, another tenant's secret, expired orders, refunds, and who sees which orders.
 */
describe('top-ups (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let stripe: FakeStripe;
  let epay: FakeEpay;
  let redisUrl: string;
  let shop: TestTenant;
  let other: TestTenant;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    system = await connectAs('system');
    redisUrl = await isolatedRedisUrl();
    stripe = await startFakeStripe();
    stripe.acceptKeys.add(SHOP.stripeKey);
    stripe.acceptKeys.add(OTHER.stripeKey);
    epay = await startFakeEpay(SHOP.epay);
    api = await startTestApi({ REDIS_URL: redisUrl, STRIPE_API_URL: stripe.url, PAYMENT_GATEWAY_ALLOW_PRIVATE_NETWORKS: 'true' });
    shop = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'], sales: ['sales'], sales2: ['sales'], c1: ['user'], c2: ['user'] });
    other = await resellerWithUsers(system, { owner: ['owner'], c1: ['user'] });
    await system.query(`INSERT INTO customer_bindings (tenant_id, customer_id, sales_user_id) VALUES ($1, $2, $3)`, [shop.id, shop.users.c1.id, shop.users.sales.id]);
    for (const name of Object.keys(shop.users)) tokens[name] = (await signIn(api.baseUrl, shop, name)).accessToken;
    for (const name of Object.keys(other.users)) tokens[`other.${name}`] = (await signIn(api.baseUrl, other, name)).accessToken;
    const configured = await call(api.baseUrl, 'PUT', '/api/v1/payment-settings', {
      host: shop.domain,
      token: tokens.owner,
      json: {
        stripe: { enabled: true, secretKey: SHOP.stripeKey, webhookSecret: SHOP.webhookSecret, currency: 'usd' },
        epay: { enabled: true, merchantId: SHOP.epay.pid, key: SHOP.epay.key, gatewayUrl: epay.url },
        minAmount: '1',
        maxAmount: '500',
      },
    });
    expect(configured.status).toBe(200);
    const otherConfigured = await call(api.baseUrl, 'PUT', '/api/v1/payment-settings', {
      host: other.domain,
      token: tokens['other.owner'],
      json: { stripe: { enabled: true, secretKey: OTHER.stripeKey, webhookSecret: OTHER.webhookSecret } },
    });
    expect(otherConfigured.status).toBe(200);
  });

  afterAll(async () => {
    await api?.close();
    await stripe?.close();
    await epay?.close();
    await system?.end();
  });

  const balanceOf = async (tenantId: string, customerId: string) =>
    new Decimal((await system.query(`SELECT balance::text FROM ledger_accounts WHERE tenant_id = $1 AND customer_id = $2 AND kind = 'customer_wallet'`, [tenantId, customerId])).rows[0]?.balance ?? '0');
  const order = async (id: string) => (await system.query(`SELECT status, amount::text, refunded_amount::text, provider_reference FROM topups WHERE id = $1`, [id])).rows[0];
  const startTopup = (token: string, json: unknown, tenant = shop) => call(api.baseUrl, 'POST', '/api/v1/me/topups', { host: tenant.domain, token, json });
  const sendStripe = (tenant: TestTenant, signed: { payload: string; signature: string }) =>
    call(api.baseUrl, 'POST', '/api/v1/payments/stripe/webhook', {
      host: tenant.domain,
      body: signed.payload,
      headers: { 'content-type': 'application/json', 'stripe-signature': signed.signature },
    });
  const audits = async (tenantId: string, action: string) =>
    (await system.query(`SELECT changes FROM audit_log WHERE tenant_id = $1 AND action = $2 ORDER BY created_at`, [tenantId, action])).rows;
  const newStripeOrder = async (amount = '25.99', customer = 'c2') => {
    const created = await startTopup(tokens[customer], { amount, provider: 'stripe' });
    expect(created.status).toBe(201);
    return { id: created.body.id as string, session: created.body.providerReference as string };
  };

  describe('payment settings', () => {
    it('never returns or stores the secrets in the clear', async () => {
      const res = await call(api.baseUrl, 'GET', '/api/v1/payment-settings', { host: shop.domain, token: tokens.owner });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        stripe: { enabled: true, secretKeyLast4: SHOP.stripeKey.slice(-4), webhookSecretSet: true, currency: 'usd' },
        epay: { enabled: true, merchantId: '1001', gatewayUrl: epay.url, keySet: true },
        minAmount: '1.000000000',
        maxAmount: '500.000000000',
      });
      expect(new URL(res.body.stripe.webhookUrl)).toMatchObject({ hostname: shop.domain, pathname: '/api/v1/payments/stripe/webhook' });
      expect(new URL(res.body.epay.notifyUrl)).toMatchObject({ hostname: shop.domain, pathname: '/api/v1/payments/epay/notify' });
      expect(new URL(res.body.stripe.webhookUrl)).toMatchObject({ hostname: shop.domain, pathname: '/api/v1/payments/stripe/webhook' });
      expect(new URL(res.body.epay.notifyUrl)).toMatchObject({ hostname: shop.domain, pathname: '/api/v1/payments/epay/notify' });
      for (const secret of [SHOP.stripeKey, SHOP.webhookSecret, SHOP.epay.key]) expect(res.text).not.toContain(secret);
      const { rows } = await system.query(`SELECT row_to_json(p)::text AS row FROM payment_settings p WHERE tenant_id = $1`, [shop.id]);
      for (const secret of [SHOP.stripeKey, SHOP.webhookSecret, SHOP.epay.key]) expect(rows[0].row).not.toContain(secret);
      const audit = JSON.stringify(await audits(shop.id, 'payment_settings.updated'));
      for (const secret of [SHOP.stripeKey, SHOP.webhookSecret, SHOP.epay.key]) expect(audit).not.toContain(secret);
    });

    it('is the owner\'s only', async () => {
      for (const who of ['finance', 'sales', 'c1']) {
        expectProblem(await call(api.baseUrl, 'GET', '/api/v1/payment-settings', { host: shop.domain, token: tokens[who] }), 403, 'forbidden');
        expectProblem(await call(api.baseUrl, 'PUT', '/api/v1/payment-settings', { host: shop.domain, token: tokens[who], json: { minAmount: '2' } }), 403, 'forbidden');
      }
    });

    it('refuses to enable a provider without its credentials, and limits out of order', async () => {
      const fresh = await resellerWithUsers(system, { owner: ['owner'] });
      const token = (await signIn(api.baseUrl, fresh, 'owner')).accessToken;
      const put = (json: unknown) => call(api.baseUrl, 'PUT', '/api/v1/payment-settings', { host: fresh.domain, token, json });
      expectProblem(await put({ stripe: { enabled: true, secretKey: 'sk_test_abcdefgh' } }), 422, 'payment_settings_incomplete');
      expectProblem(await put({ epay: { enabled: true, merchantId: '7' } }), 422, 'payment_settings_incomplete');
      expectProblem(await put({ minAmount: '10', maxAmount: '5' }), 400, 'validation_failed');
      expectProblem(await put({ stripe: { secretKey: 'not-a-key' } }), 400, 'validation_failed');
    });

    it('tests the saved credentials against the providers', async () => {
      const test = (provider: string, tenant = shop, token = tokens.owner) =>
        call(api.baseUrl, 'POST', '/api/v1/payment-settings/test', { host: tenant.domain, token, json: { provider } });
      expect((await test('stripe')).body).toEqual({ provider: 'stripe', ok: true, detail: null });
      expect((await test('epay')).body).toEqual({ provider: 'epay', ok: true, detail: null });
      expect(stripe.requests.some((r) => r.path === '/v1/balance' && r.apiKey === SHOP.stripeKey)).toBe(true);
      // A key Stripe does not know, and an Epay key the gateway refuses: ok false with the reason.
      const fresh = await resellerWithUsers(system, { owner: ['owner'] });
      const token = (await signIn(api.baseUrl, fresh, 'owner')).accessToken;
      await call(api.baseUrl, 'PUT', '/api/v1/payment-settings', {
        host: fresh.domain,
        token,
        json: { stripe: { secretKey: 'sk_test_unknownKey00000', webhookSecret: 'whsec_unknown0000000' }, epay: { merchantId: '1001', key: 'wrong-key-0000', gatewayUrl: epay.url } },
      });
      const badStripe = await test('stripe', fresh, token);
      expect(badStripe.body).toMatchObject({ provider: 'stripe', ok: false });
      expect(badStripe.body.detail).toContain('Invalid API Key');
      expect((await test('epay', fresh, token)).body).toMatchObject({ provider: 'epay', ok: false, detail: expect.stringContaining('KEY') });
    });
  });

  describe('Stripe', () => {
    it('creates a Checkout Session in the tenant\'s own account and returns its URL', async () => {
      const created = await startTopup(tokens.c2, { amount: '25.99', provider: 'stripe' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ customerId: shop.users.c2.id, amount: '25.990000000', currency: 'usd', provider: 'stripe', status: 'pending', refundedAmount: '0.000000000', paidAt: null });
      expect(created.body.payUrl).toBe(`${stripe.url}/pay/${created.body.providerReference}`);
      const request = stripe.requests.find((r) => r.path === '/v1/checkout/sessions' && r.form.client_reference_id === created.body.id)!;
      expect(request.apiKey).toBe(SHOP.stripeKey);
      expect(request.idempotencyKey).toBe(`topup-${created.body.id}`);
      expect(request.form).toMatchObject({
        mode: 'payment',
        'metadata[orderId]': created.body.id,
        'metadata[tenantId]': shop.id,
        'line_items[0][price_data][unit_amount]': '2599',
        'line_items[0][price_data][currency]': 'usd',
        customer_email: shop.users.c2.email,
        // The customer comes back to the console's order page.
        success_url: expect.stringMatching(new RegExp(`/console/topups/${created.body.id}\\?result=success$`)),
      });
      expect(Number(request.form.expires_at)).toBe(Math.floor(Date.parse(created.body.expiresAt) / 1000));
      const history = await system.query(`SELECT from_status, to_status FROM topup_events WHERE topup_id = $1`, [created.body.id]);
      expect(history.rows).toEqual([{ from_status: null, to_status: 'pending' }]);
    });

    it('refuses amounts outside the tenant\'s limits, a provider not enabled, and staff', async () => {
      expectProblem(await startTopup(tokens.c2, { amount: '0.50', provider: 'stripe' }), 422, 'topup_amount_out_of_range');
      expectProblem(await startTopup(tokens.c2, { amount: '500.01', provider: 'stripe' }), 422, 'topup_amount_out_of_range');
      expectProblem(await startTopup(tokens.c2, { amount: 25.99, provider: 'stripe' }), 400, 'validation_failed');
      expectProblem(await startTopup(tokens.c2, { amount: '1.001', provider: 'stripe' }), 400, 'validation_failed');
      expectProblem(await startTopup(tokens['other.c1'], { amount: '5', provider: 'epay' }, other), 422, 'payment_provider_not_enabled');
      expectProblem(await startTopup(tokens.owner, { amount: '5', provider: 'stripe' }), 403, 'forbidden');
    });

    it('marks the order failed when Stripe is down, and charges nothing', async () => {
      // Down for longer than the SDK's one retry.
      stripe.failures = 2;
      const res = await startTopup(tokens.c2, { amount: '3', provider: 'stripe' });
      expectProblem(res, 502, 'payment_provider_unavailable');
      const { rows } = await system.query(`SELECT status FROM topups WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 1`, [shop.users.c2.id]);
      expect(rows[0].status).toBe('failed');
    });

    it('credits a paid session exactly once, however often the event is replayed', async () => {
      const { id, session } = await newStripeOrder('25.99');
      const before = await balanceOf(shop.id, shop.users.c2.id);
      const paid = stripe.pay(session, SHOP.webhookSecret);
      const first = await sendStripe(shop, paid);
      expect(first.status).toBe(200);
      expect(first.body).toEqual({ received: true, outcome: 'credited' });
      // Replays: the same event, and the same payment in a new event.
      expect((await sendStripe(shop, paid)).body).toEqual({ received: true, outcome: 'duplicate' });
      expect((await sendStripe(shop, stripe.pay(session, SHOP.webhookSecret))).body).toEqual({ received: true, outcome: 'duplicate' });
      expect((await balanceOf(shop.id, shop.users.c2.id)).minus(before).toFixed()).toBe('25.99');
      expect(await order(id)).toMatchObject({ status: 'paid', provider_reference: session });
      const tx = await system.query(`SELECT kind, amount::text FROM ledger_transactions WHERE tenant_id = $1 AND idempotency_key = $2`, [shop.id, `stripe:${session}`]);
      expect(tx.rows).toEqual([{ kind: 'payment', amount: '25.990000000' }]);
      expect((await audits(shop.id, 'topup.notification_rejected')).some((a) => JSON.stringify(a).includes('replay'))).toBe(true);
      // The credit.created webhook event, once.
      const events = await system.query(`SELECT data FROM webhook_events WHERE tenant_id = $1 AND type = 'credit.created' AND data->>'reference' = $2`, [shop.id, session]);
      expect(events.rows).toHaveLength(1);
      expect(events.rows[0].data).toMatchObject({ customerId: shop.users.c2.id, amount: '25.990000000', kind: 'payment' });
      // The receipt, queued for the mailer.
      const mail = api.app.get<Queue>(getQueueToken('mail'));
      const receipts = (await mail.getJobs(['waiting', 'delayed', 'active', 'completed'])).filter((j) => j?.data?.kind === 'topup.receipt' && j.data.to === shop.users.c2.email);
      expect(receipts.some((j) => j.data.text.includes('25.99 USD'))).toBe(true);
      // The customer sees it paid.
      const mine = await call(api.baseUrl, 'GET', `/api/v1/me/topups/${id}`, { host: shop.domain, token: tokens.c2 });
      expect(mine.body).toMatchObject({ id, status: 'paid', providerReference: session });
      expect(mine.body.paidAt).not.toBeNull();
    });

    it('refuses a forged or missing signature, audits it and credits nothing', async () => {
      const { id, session } = await newStripeOrder('7');
      const before = await balanceOf(shop.id, shop.users.c2.id);
      const paid = stripe.pay(session, 'whsec_forgedByAnAttacker000');
      expectProblem(await sendStripe(shop, paid), 400, 'webhook_signature_invalid');
      expectProblem(await call(api.baseUrl, 'POST', '/api/v1/payments/stripe/webhook', { host: shop.domain, body: paid.payload, headers: { 'content-type': 'application/json' } }), 400, 'webhook_signature_invalid');
      // A genuine event altered after signing.
      const genuine = stripe.pay(session, SHOP.webhookSecret);
      expectProblem(await sendStripe(shop, { payload: genuine.payload.replace('"amount_total":700', '"amount_total":70000'), signature: genuine.signature }), 400, 'webhook_signature_invalid');
      expect((await balanceOf(shop.id, shop.users.c2.id)).eq(before)).toBe(true);
      expect((await order(id)).status).toBe('pending');
      expect((await audits(shop.id, 'topup.notification_signature_invalid')).length).toBeGreaterThanOrEqual(3);
    });

    it("refuses a notification signed with another tenant's secret", async () => {
      const { id, session } = await newStripeOrder('9');
      const before = await balanceOf(shop.id, shop.users.c2.id);
      // At the shop's domain: the other tenant's secret does not verify.
      expectProblem(await sendStripe(shop, stripe.pay(session, OTHER.webhookSecret)), 400, 'webhook_signature_invalid');
      // At the other tenant's domain it verifies, but the order is not that tenant's: nothing is credited.
      const atOther = await sendStripe(other, stripe.pay(session, OTHER.webhookSecret));
      expect(atOther.body).toEqual({ received: true, outcome: 'rejected' });
      expect((await audits(other.id, 'topup.notification_rejected')).map((a) => JSON.stringify(a)).join()).toContain('unknown_order');
      expect((await balanceOf(shop.id, shop.users.c2.id)).eq(before)).toBe(true);
      expect((await order(id)).status).toBe('pending');
    });

    it('credits nothing when the paid amount or currency differs from the order', async () => {
      const { id, session } = await newStripeOrder('10');
      const before = await balanceOf(shop.id, shop.users.c2.id);
      expect((await sendStripe(shop, stripe.pay(session, SHOP.webhookSecret, { amount_total: 100 }))).body).toEqual({ received: true, outcome: 'rejected' });
      expect((await sendStripe(shop, stripe.pay(session, SHOP.webhookSecret, { currency: 'eur' }))).body).toEqual({ received: true, outcome: 'rejected' });
      expect((await balanceOf(shop.id, shop.users.c2.id)).eq(before)).toBe(true);
      expect((await order(id)).status).toBe('pending');
      expect(JSON.stringify(await audits(shop.id, 'topup.notification_rejected'))).toContain('amount_mismatch');
      // The right amount afterwards still credits.
      expect((await sendStripe(shop, stripe.pay(session, SHOP.webhookSecret))).body.outcome).toBe('credited');
    });

    it('a credit whose commit fails changes nothing (ledger, order, Redis balance); Stripe\'s retry then credits once', async () => {
      const { id, session } = await newStripeOrder('6');
      const redis = new Redis(redisUrl);
      const admin = await connectAs('admin');
      const name = `test_fail_${uuidv7().replace(/-/g, '').slice(-12)}`;
      try {
        await api.app.get(BalanceService).ensureLoaded(shop.id, shop.users.c2.id);
        const key = billingKeys.balance(shop.id, shop.users.c2.id);
        const [ledgerBefore, redisBefore] = [await balanceOf(shop.id, shop.users.c2.id), BigInt((await redis.get(key))!)];
        // PostgreSQL refuses the commit, after the ledger rows, the order's move and the Redis step.
        await admin.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'test: commit refused'; END $$`);
        await admin.query(
          `CREATE CONSTRAINT TRIGGER ${name} AFTER INSERT ON topup_events DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
            WHEN (NEW.topup_id = '${id}' AND NEW.to_status = 'paid') EXECUTE FUNCTION ${name}()`,
        );
        const paid = stripe.pay(session, SHOP.webhookSecret);
        expect((await sendStripe(shop, paid)).status).toBe(500);
        expect((await balanceOf(shop.id, shop.users.c2.id)).eq(ledgerBefore)).toBe(true);
        expect(BigInt((await redis.get(key))!)).toBe(redisBefore);
        expect((await order(id)).status).toBe('pending');
        await admin.query(`DROP TRIGGER ${name} ON topup_events`);
        expect((await sendStripe(shop, paid)).body.outcome).toBe('credited');
        expect((await balanceOf(shop.id, shop.users.c2.id)).minus(ledgerBefore).toFixed()).toBe('6');
        expect(BigInt((await redis.get(key))!) - redisBefore).toBe(6_000_000_000n);
      } finally {
        await admin.query(`DROP TRIGGER IF EXISTS ${name} ON topup_events`);
        await admin.query(`DROP FUNCTION IF EXISTS ${name}()`);
        await admin.end();
        redis.disconnect();
      }
    });

    it('credits a session whose reference was never stored (the process died right after Stripe created it)', async () => {
      const { id, session } = await newStripeOrder('8');
      await system.query(`UPDATE topups SET provider_reference = NULL, pay_url = NULL WHERE id = $1`, [id]);
      const before = await balanceOf(shop.id, shop.users.c2.id);
      expect((await sendStripe(shop, stripe.pay(session, SHOP.webhookSecret))).body.outcome).toBe('credited');
      expect((await balanceOf(shop.id, shop.users.c2.id)).minus(before).toFixed()).toBe('8');
      expect(await order(id)).toMatchObject({ status: 'paid', provider_reference: session });
    });

    it('debits what a refund refunds, once per cumulative amount, and marks a full refund', async () => {
      const { id, session } = await newStripeOrder('20');
      expect((await sendStripe(shop, stripe.pay(session, SHOP.webhookSecret))).body.outcome).toBe('credited');
      const before = await balanceOf(shop.id, shop.users.c2.id);
      const partial = stripe.refund(session, SHOP.webhookSecret, 500);
      expect((await sendStripe(shop, partial)).body).toEqual({ received: true, outcome: 'refunded' });
      expect((await sendStripe(shop, partial)).body).toEqual({ received: true, outcome: 'duplicate' });
      expect(before.minus(await balanceOf(shop.id, shop.users.c2.id)).toFixed()).toBe('5');
      expect(await order(id)).toMatchObject({ status: 'paid', refunded_amount: '5.000000000' });
      expect((await sendStripe(shop, stripe.refund(session, SHOP.webhookSecret, 2000))).body.outcome).toBe('refunded');
      expect(before.minus(await balanceOf(shop.id, shop.users.c2.id)).toFixed()).toBe('20');
      expect(await order(id)).toMatchObject({ status: 'refunded', refunded_amount: '20.000000000' });
      const history = await system.query(`SELECT from_status, to_status FROM topup_events WHERE topup_id = $1 ORDER BY created_at, id`, [id]);
      expect(history.rows.map((r) => `${r.from_status}>${r.to_status}`)).toEqual(['null>pending', 'pending>paid', 'paid>paid', 'paid>refunded']);
    });

    it('a refund may take the wallet below zero (the money went back already)', async () => {
      const fresh = await resellerWithUsers(system, { owner: ['owner'], c: ['user'] });
      const ownerToken = (await signIn(api.baseUrl, fresh, 'owner')).accessToken;
      const secret = 'whsec_freshSecret0000000001';
      await call(api.baseUrl, 'PUT', '/api/v1/payment-settings', { host: fresh.domain, token: ownerToken, json: { stripe: { enabled: true, secretKey: SHOP.stripeKey, webhookSecret: secret } } });
      const created = await startTopup((await signIn(api.baseUrl, fresh, 'c')).accessToken, { amount: '4', provider: 'stripe' }, fresh);
      expect((await sendStripe(fresh, stripe.pay(created.body.providerReference, secret))).body.outcome).toBe('credited');
      // Spent 3 of it by hand (a debit adjustment stands in for usage).
      await call(api.baseUrl, 'POST', `/api/v1/customers/${fresh.users.c.id}/credits`, { host: fresh.domain, token: ownerToken, json: { amount: '-3', note: 'usage' } });
      expect((await sendStripe(fresh, stripe.refund(created.body.providerReference, secret, 400))).body.outcome).toBe('refunded');
      expect((await balanceOf(fresh.id, fresh.users.c.id)).toFixed()).toBe('-3');
    });
  });

  describe('order expiry', () => {
    let worker: RunningApp;
    beforeAll(async () => {
      worker = await startTestWorker({ REDIS_URL: redisUrl, METERING_ENABLED: 'false', SETTLEMENT_ENABLED: 'false' });
    });
    afterAll(async () => worker?.close());

    it('expires pending orders past their time; a payment made after that credits nothing', async () => {
      const late = await newStripeOrder('11');
      const early = await newStripeOrder('12');
      const fresh = await newStripeOrder('13');
      await system.query(`UPDATE topups SET expires_at = now() - interval '1 minute' WHERE id = ANY($1::uuid[])`, [[late.id, early.id]]);
      const result = await worker.app.get(MaintenanceProcessor).expireTopups();
      expect(result.orders).toBeGreaterThanOrEqual(2);
      expect((await order(late.id)).status).toBe('expired');
      expect((await order(fresh.id)).status).toBe('pending');
      const history = await system.query(`SELECT from_status, to_status FROM topup_events WHERE topup_id = $1 ORDER BY created_at, id`, [late.id]);
      expect(history.rows.at(-1)).toEqual({ from_status: 'pending', to_status: 'expired' });
      const before = await balanceOf(shop.id, shop.users.c2.id);
      expect((await sendStripe(shop, stripe.pay(late.session, SHOP.webhookSecret))).body).toEqual({ received: true, outcome: 'rejected' });
      expect((await balanceOf(shop.id, shop.users.c2.id)).eq(before)).toBe(true);
      expect(JSON.stringify(await audits(shop.id, 'topup.notification_rejected'))).toContain('expired');
      // Paid before it expired (Stripe's event time), notified late: still credited.
      const paidInTime = stripe.pay(early.session, SHOP.webhookSecret, { created: Math.floor(Date.now() / 1000) - 3600 });
      expect((await sendStripe(shop, paidInTime)).body.outcome).toBe('credited');
      expect((await order(early.id)).status).toBe('paid');
    });
  });

  describe('Epay', () => {
    const notify = (params: URLSearchParams, tenant = shop) => call(api.baseUrl, 'GET', `/api/v1/payments/epay/notify?${params}`, { host: tenant.domain });
    const newEpayOrder = async (amount = '30') => {
      const created = await startTopup(tokens.c1, { amount, provider: 'epay', method: 'alipay' });
      expect(created.status).toBe(201);
      // The customer opens the pay URL: the gateway checks its signature and records the order.
      const page = await fetch(created.body.payUrl);
      expect(page.status).toBe(200);
      expect(epay.orders.has(created.body.id)).toBe(true);
      return created.body;
    };

    it('sends the customer to a correctly signed submit.php and credits the notification once', async () => {
      const created = await newEpayOrder('30');
      expect(created).toMatchObject({ currency: 'cny', provider: 'epay', method: 'alipay', status: 'pending' });
      const submitted = epay.orders.get(created.id)!;
      expect(submitted).toMatchObject({ pid: '1001', type: 'alipay', money: '30.00', notify_url: expect.stringContaining(`${shop.domain}`) });
      expect(submitted.notify_url).toMatch(/\/api\/v1\/payments\/epay\/notify$/);
      const before = await balanceOf(shop.id, shop.users.c1.id);
      const params = epay.notification(created.id);
      const first = await notify(params);
      expect(first.status).toBe(200);
      expect(first.text).toBe('success');
      expect(first.headers['content-type']).toContain('text/plain');
      expect((await notify(params)).text).toBe('success');
      expect((await balanceOf(shop.id, shop.users.c1.id)).minus(before).toFixed()).toBe('30');
      expect(await order(created.id)).toMatchObject({ status: 'paid', provider_reference: submitted.trade_no });
      // The same notification as a form POST: a replay too.
      const posted = await call(api.baseUrl, 'POST', '/api/v1/payments/epay/notify', {
        host: shop.domain,
        body: params.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(posted.text).toBe('success');
      expect((await balanceOf(shop.id, shop.users.c1.id)).minus(before).toFixed()).toBe('30');
    });

    it('credits an Epay order paid after it expired (the gateway cannot be told; the money is real)', async () => {
      const created = await newEpayOrder('3');
      await system.query(`UPDATE topups SET status = 'expired', expires_at = now() - interval '1 minute' WHERE id = $1`, [created.id]);
      const before = await balanceOf(shop.id, shop.users.c1.id);
      expect((await notify(epay.notification(created.id))).text).toBe('success');
      expect((await balanceOf(shop.id, shop.users.c1.id)).minus(before).toFixed()).toBe('3');
      expect((await order(created.id)).status).toBe('paid');
      const history = await system.query(`SELECT from_status, to_status FROM topup_events WHERE topup_id = $1 ORDER BY created_at, id`, [created.id]);
      expect(history.rows.at(-1)).toEqual({ from_status: 'expired', to_status: 'paid' });
    });

    it('accepts a form POST notification', async () => {
      const created = await newEpayOrder('2');
      const before = await balanceOf(shop.id, shop.users.c1.id);
      const posted = await call(api.baseUrl, 'POST', '/api/v1/payments/epay/notify', {
        host: shop.domain,
        body: epay.notification(created.id).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(posted.text).toBe('success');
      expect((await balanceOf(shop.id, shop.users.c1.id)).minus(before).toFixed()).toBe('2');
      // Forms are taken on this route only.
      const elsewhere = await call(api.baseUrl, 'POST', '/api/v1/me/redeem', { host: shop.domain, token: tokens.c1, body: 'code=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(elsewhere.status).toBe(415);
    });

    it('refuses a forged signature, a tampered amount and another merchant key', async () => {
      const created = await newEpayOrder('40');
      const before = await balanceOf(shop.id, shop.users.c1.id);
      const tampered = epay.notification(created.id);
      tampered.set('money', '4000.00');
      expectProblem(await notify(tampered), 400, 'webhook_signature_invalid');
      expectProblem(await notify(epay.notification(created.id, {}, 'someone-elses-key-000')), 400, 'webhook_signature_invalid');
      expectProblem(await notify(epay.notification(created.id, { pid: '9999' })), 400, 'webhook_signature_invalid');
      // Signed with the right key but not the order's amount (a gateway bug, a replayed smaller order): refused.
      const wrongAmount = await notify(epay.notification(created.id, { money: '0.40' }));
      expect(wrongAmount.text).toBe('success');
      // Not a success: nothing to credit.
      expect((await notify(epay.notification(created.id, { trade_status: 'WAIT_BUYER_PAY' }))).text).toBe('success');
      expect((await balanceOf(shop.id, shop.users.c1.id)).eq(before)).toBe(true);
      expect((await order(created.id)).status).toBe('pending');
      // Another tenant's host: no Epay configured there.
      expectProblem(await notify(epay.notification(created.id), other), 404, 'webhook_not_configured');
    });
  });

  describe('who sees which orders', () => {
    it.each([
      ['owner', 'all'],
      ['finance', 'all'],
      ['sales', 'bound'],
      ['sales2', 'none'],
    ])('%s sees %s of the tenant\'s orders', async (who, scope) => {
      const res = await call(api.baseUrl, 'GET', '/api/v1/topups?pageSize=100', { host: shop.domain, token: tokens[who] });
      expect(res.status).toBe(200);
      const customers = new Set(res.body.items.map((t: { customerId: string }) => t.customerId));
      if (scope === 'all') expect([...customers].sort()).toEqual([shop.users.c1.id, shop.users.c2.id].sort());
      if (scope === 'bound') expect([...customers]).toEqual([shop.users.c1.id]);
      if (scope === 'none') expect(res.body.items).toEqual([]);
    });

    it('a customer sees only their own, at /me/topups and /topups alike', async () => {
      for (const path of ['/api/v1/me/topups?pageSize=100', '/api/v1/topups?pageSize=100']) {
        const res = await call(api.baseUrl, 'GET', path, { host: shop.domain, token: tokens.c1 });
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeGreaterThan(0);
        expect(new Set(res.body.items.map((t: { customerId: string }) => t.customerId))).toEqual(new Set([shop.users.c1.id]));
      }
      const c2Order = (await system.query(`SELECT id FROM topups WHERE customer_id = $1 LIMIT 1`, [shop.users.c2.id])).rows[0].id;
      expectProblem(await call(api.baseUrl, 'GET', `/api/v1/me/topups/${c2Order}`, { host: shop.domain, token: tokens.c1 }), 404, 'not_found');
    });

    it("another tenant's owner sees none of them", async () => {
      const res = await call(api.baseUrl, 'GET', '/api/v1/topups?pageSize=100', { host: other.domain, token: tokens['other.owner'] });
      expect(res.body.items.filter((t: { customerId: string }) => t.customerId === shop.users.c1.id || t.customerId === shop.users.c2.id)).toEqual([]);
    });

    it('the application role cannot delete orders or rewrite their history', async () => {
      const app = await connectAs('app');
      try {
        await expect(app.query(`DELETE FROM topups`)).rejects.toThrow(/permission denied/);
        await expect(app.query(`UPDATE topup_events SET to_status = 'paid'`)).rejects.toThrow(/permission denied/);
        await expect(app.query(`DELETE FROM topup_events`)).rejects.toThrow(/permission denied/);
      } finally {
        await app.end();
      }
    });
  });

  it('leaves the ledger balanced', async () => {
    expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });
  });
  // Last: it starts and closes a second api in this process, after which the first one's sign-in
  // checks fail (seen here and in redemption-codes.spec; not investigated).
  describe('payment settings, strict network rules', () => {
    it('keeps Epay gateway URLs off private networks unless allowed (saved literal, and the resolved address on the call)', async () => {
      const strict = await startTestApi({ REDIS_URL: await isolatedRedisUrl(), STRIPE_API_URL: stripe.url });
      try {
        const fresh = await resellerWithUsers(system, { owner: ['owner'] });
        const token = (await signIn(strict.baseUrl, fresh, 'owner')).accessToken;
        const put = (gatewayUrl: string) =>
          call(strict.baseUrl, 'PUT', '/api/v1/payment-settings', { host: fresh.domain, token, json: { epay: { merchantId: SHOP.epay.pid, key: SHOP.epay.key, gatewayUrl } } });
        expectProblem(await put(epay.url), 400, 'validation_failed');
        // A name is saved (it can resolve anywhere), but the socket's lookup refuses loopback.
        expect((await put(epay.url.replace('127.0.0.1', 'localhost'))).status).toBe(200);
        const tested = await call(strict.baseUrl, 'POST', '/api/v1/payment-settings/test', { host: fresh.domain, token, json: { provider: 'epay' } });
        expect(tested.body).toMatchObject({ provider: 'epay', ok: false, detail: expect.stringContaining('could not be reached') });
      } finally {
        await strict.close();
      }
    });
  });
});
