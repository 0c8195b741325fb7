import Redis from 'ioredis';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { billingKeys } from '../../libs/billing/src';
import { toUnits } from '../../libs/money/src';
import { MeteringProcessor } from '../../src/modules/metering/metering.processor';
import { UsageWriter } from '../../src/modules/metering/usage-writer';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { connectAs } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant, Tokens } from '../support/identity';
import { expectInvalidFields, expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';
import { eventually, settle, usageEvent } from '../support/usage';

/**
 * The webhook events that keys, credits and balances publish (issue 13), written to the outbox
 * (`webhook_events`) in the transaction of the change they report: exactly once when the change
 * commits, never when it fails, rolls back or is replayed. Low balance goes through the real
 * metering path (usage events on the tenant's stream, consumed by the worker).
 */
describe('webhook events from keys, credits and balances (e2e)', () => {
  let system: Client;
  let admin: Client;
  let redis: Redis;
  let api: RunningApp;
  let worker: RunningApp;
  let shop: TestTenant;
  let other: TestTenant;
  const tokens: Record<string, Tokens> = {};

  beforeAll(async () => {
    system = await connectAs('system');
    admin = await connectAs('admin');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    const overrides = { REDIS_URL: redisUrl, LOW_BALANCE_DEFAULT_THRESHOLD: '2', METERING_TENANT_REFRESH_MS: '200', METERING_CLAIM_IDLE_MS: '1000' };
    api = await startTestApi(overrides);
    worker = await startTestWorker(overrides);
    // Metering posts the wholesale and upstream legs on the platform's accounts.
    await platformWithUsers(system, {});
    shop = await resellerWithUsers(system, {
      owner: ['owner'],
      finance: ['finance'],
      sales: ['sales'],
      sales2: ['sales'],
      c1: ['user'],
      c2: ['user'],
      c3: ['user'],
      c4: ['user'],
      c5: ['user'],
      c6: ['user'],
      k1: ['user'],
    });
    other = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'], c1: ['user'], c2: ['user'] });
    await system.query(`INSERT INTO customer_bindings (tenant_id, customer_id, sales_user_id) VALUES ($1, $2, $3)`, [shop.id, shop.users.c1.id, shop.users.sales.id]);
    for (const name of ['owner', 'finance', 'sales', 'sales2', 'c1', 'k1']) tokens[name] = await signIn(api.baseUrl, shop, name);
    tokens.otherOwner = await signIn(api.baseUrl, other, 'owner');
    await worker.app.get(MeteringProcessor, { strict: false }).refreshTenants();
  });

  afterAll(async () => {
    await worker?.close();
    await api?.close();
    redis?.disconnect();
    await admin?.end();
    await system?.end();
  });

  const as = (tenant: TestTenant, who: string) => ({ host: tenant.domain, token: tokens[who].accessToken });
  const credit = (tenant: TestTenant, who: string, customerId: string, amount: string, reference?: string) =>
    call(api.baseUrl, 'POST', `/api/v1/customers/${customerId}/credits`, { ...as(tenant, who), json: { amount, note: 'test', reference } });
  const ledgerBalance = async (tenantId: string, customerId: string) =>
    (await system.query(`SELECT balance::text FROM ledger_accounts WHERE tenant_id = $1 AND customer_id = $2`, [tenantId, customerId])).rows[0]?.balance ?? null;

  /** The events of `tenantId` whose payload has `field` = `value`, oldest first. */
  async function events(tenantId: string, field: 'customerId' | 'keyId', value: string, types?: string[]): Promise<Array<{ type: string; data: any }>> {
    const { rows } = await system.query(
      `SELECT type, data FROM webhook_events WHERE tenant_id = $1 AND data->>'${field}' = $2 AND ($3::text[] IS NULL OR type = ANY($3::text[]))
        ORDER BY created_at, id`,
      [tenantId, value, types ?? null],
    );
    return rows;
  }
  const balanceEvents = (tenantId: string, customerId: string) => events(tenantId, 'customerId', customerId, ['billing.low_balance', 'billing.balance_depleted']);

  /**
   * A deferred trigger that fails the commit of any transaction that writes an event matching
   * `field` = `value`: the change and its event are then rolled back together.
   */
  async function failingCommit(field: string, value: string, work: () => Promise<void>): Promise<void> {
    const name = `test_fail_${uuidv7().replace(/-/g, '').slice(-12)}`;
    await admin.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'test: commit refused'; END $$`);
    await admin.query(
      `CREATE CONSTRAINT TRIGGER ${name} AFTER INSERT ON webhook_events DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (NEW.data->>'${field}' = '${value}') EXECUTE FUNCTION ${name}()`,
    );
    try {
      await work();
    } finally {
      await admin.query(`DROP TRIGGER ${name} ON webhook_events`);
      await admin.query(`DROP FUNCTION ${name}()`);
    }
  }

  /** Appends usage events to the tenant's stream (as the proxy does) and waits until the worker metered them. */
  async function use(tenant: TestTenant, customerId: string, ...amounts: string[]): Promise<void> {
    for (const amount of amounts) {
      const event = usageEvent({ tenantId: tenant.id, customerId, retailUnits: toUnits(amount).toString(), wholesaleUnits: '0', upstreamUnits: '0' });
      await settle(redis, event, { debit: false });
      await eventually(
        // Its record and its batch's ledger posting commit together.
        async () => (await system.query(`SELECT 1 FROM usage_records WHERE tenant_id = $1 AND request_id = $2`, [tenant.id, event.requestId])).rowCount === 1,
        'the usage to be metered',
      );
    }
  }

  describe('keys', () => {
    const keys = (who: string) => ({
      create: (json: unknown) => call(api.baseUrl, 'POST', '/api/v1/keys', { ...as(shop, who), json }),
      disable: (id: string) => call(api.baseUrl, 'POST', `/api/v1/keys/${id}/disable`, as(shop, who)),
      enable: (id: string) => call(api.baseUrl, 'POST', `/api/v1/keys/${id}/enable`, as(shop, who)),
      rotate: (id: string) => call(api.baseUrl, 'POST', `/api/v1/keys/${id}/rotate`, { ...as(shop, who), json: {} }),
      revoke: (id: string) => call(api.baseUrl, 'DELETE', `/api/v1/keys/${id}`, as(shop, who)),
    });

    it('publishes key.created, key.disabled, key.rotated and key.revoked once each, with ids, name, prefix, status and who; never the secret', async () => {
      const created = await keys('owner').create({ name: 'ci key', customerId: shop.users.k1.id });
      expect(created.status).toBe(201);
      const key = created.body;
      const base = { keyId: key.id, customerId: shop.users.k1.id, name: 'ci key', prefix: key.prefix, by: shop.users.owner.id };
      expect(await events(shop.id, 'keyId', key.id)).toEqual([{ type: 'key.created', data: { ...base, status: 'active' } }]);

      expect((await keys('owner').disable(key.id)).status).toBe(200);
      // Disabling a disabled key changes nothing: no second event. Enabling publishes none.
      expect((await keys('owner').disable(key.id)).status).toBe(200);
      expect((await keys('owner').enable(key.id)).status).toBe(200);
      const rotated = await keys('owner').rotate(key.id);
      expect(rotated.status).toBe(200);
      // The customer revokes their own key: `by` is whoever did it.
      expect((await keys('k1').revoke(key.id)).status).toBe(200);
      expect((await keys('owner').revoke(key.id)).status).toBe(200);

      const all = await events(shop.id, 'keyId', key.id);
      expect(all).toEqual([
        { type: 'key.created', data: { ...base, status: 'active' } },
        { type: 'key.disabled', data: { ...base, status: 'disabled' } },
        // The rotation kept the key (same id, status) with a new secret and prefix.
        {
          type: 'key.rotated',
          data: { ...base, prefix: rotated.body.prefix, status: 'active', previousPrefix: key.prefix, previousSecretExpiresAt: rotated.body.previousSecretExpiresAt },
        },
        { type: 'key.revoked', data: { ...base, prefix: rotated.body.prefix, status: 'revoked', by: shop.users.k1.id } },
      ]);
      expect(Date.parse(rotated.body.previousSecretExpiresAt)).toBeGreaterThan(Date.now());
      const text = JSON.stringify(all);
      expect(text).not.toContain(key.secret);
      expect(text).not.toContain(rotated.body.secret);
    });

    it('publishes nothing for a key operation that fails (refused, invalid or on a revoked key)', async () => {
      const key = (await keys('owner').create({ name: 'refused', customerId: shop.users.k1.id })).body;
      expect((await keys('finance').revoke(key.id)).status).toBe(403);
      expect((await keys('sales2').disable(key.id)).status).toBe(404);
      expect((await call(api.baseUrl, 'DELETE', `/api/v1/keys/${key.id}`, as(other, 'otherOwner'))).status).toBe(404);
      expect((await keys('owner').revoke(key.id)).status).toBe(200);
      expectProblem(await keys('owner').disable(key.id), 409, 'api_key_revoked');
      expect((await events(shop.id, 'keyId', key.id)).map((e) => e.type)).toEqual(['key.created', 'key.revoked']);

      const before = Number((await system.query(`SELECT count(*) FROM webhook_events WHERE tenant_id = $1 AND type = 'key.created'`, [shop.id])).rows[0].count);
      expect((await keys('owner').create({ name: 'bad', customerId: shop.users.k1.id, allowedModels: ['no-such-model-xyz'] })).status).toBe(422);
      expect((await keys('finance').create({ name: 'not allowed', customerId: shop.users.k1.id })).status).toBe(403);
      expect(Number((await system.query(`SELECT count(*) FROM webhook_events WHERE tenant_id = $1 AND type = 'key.created'`, [shop.id])).rows[0].count)).toBe(before);
    });

    it('rolls the event back with the change when the transaction fails to commit', async () => {
      const key = (await keys('owner').create({ name: 'rollback', customerId: shop.users.k1.id })).body;
      await failingCommit('keyId', key.id, async () => {
        expect((await keys('owner').revoke(key.id)).status).toBeGreaterThanOrEqual(500);
      });
      expect((await system.query(`SELECT status FROM api_keys WHERE id = $1`, [key.id])).rows[0].status).toBe('active');
      expect((await events(shop.id, 'keyId', key.id)).map((e) => e.type)).toEqual(['key.created']);
      // Without the failure, the same revocation commits with its event.
      expect((await keys('owner').revoke(key.id)).status).toBe(200);
      expect((await events(shop.id, 'keyId', key.id)).map((e) => e.type)).toEqual(['key.created', 'key.revoked']);
    });
  });

  describe('customer accounts', () => {
    it('publishes account.status_changed when staff disable or enable a customer, once per real change, and nothing when refused', async () => {
      const customer = shop.users.c6.id;
      const post = (who: string, action: 'disable' | 'enable') => call(api.baseUrl, 'POST', `/api/v1/customers/${customer}/${action}`, as(shop, who));
      const statusEvents = () => events(shop.id, 'customerId', customer, ['account.status_changed']);
      expect((await post('owner', 'disable')).status).toBe(200);
      expect((await post('owner', 'disable')).status).toBe(200); // already disabled: no change, no event
      expect((await post('finance', 'enable')).status).toBe(403);
      expect(await statusEvents()).toEqual([{ type: 'account.status_changed', data: { customerId: customer, status: 'disabled', previousStatus: 'active', by: shop.users.owner.id } }]);
      expect((await post('owner', 'enable')).status).toBe(200);
      expect((await statusEvents()).map((e) => e.data.status)).toEqual(['disabled', 'active']);
      // Another reseller's owner cannot reach this customer: no event either.
      expect((await call(api.baseUrl, 'POST', `/api/v1/customers/${customer}/disable`, as(other, 'otherOwner'))).status).toBe(404);
      expect(await statusEvents()).toHaveLength(2);
    });
  });

  describe('credits', () => {
    it('publishes credit.created once per created transaction, not on an idempotent replay', async () => {
      const customerId = shop.users.c6.id;
      const reference = `INV-${uuidv7().slice(-12)}`;
      const first = await credit(shop, 'owner', customerId, '25.5', reference);
      expect(first.status).toBe(200);
      const replay = await credit(shop, 'finance', customerId, '25.5', reference);
      expect(replay.status).toBe(200);
      expect(replay.body.created).toBe(false);
      const debit = await credit(shop, 'finance', customerId, '-0.5');
      expect(debit.status).toBe(200);
      expect(await events(shop.id, 'customerId', customerId, ['credit.created'])).toEqual([
        {
          type: 'credit.created',
          data: { transactionId: first.body.id, customerId, amount: '25.500000000', kind: 'credit', reference, balance: '25.500000000' },
        },
        {
          type: 'credit.created',
          data: { transactionId: debit.body.id, customerId, amount: '-0.500000000', kind: 'debit', reference: debit.body.reference, balance: '25.000000000' },
        },
      ]);
    });

    it('publishes nothing for a refused credit, an overdraft or a reference reused for another amount', async () => {
      const customerId = shop.users.c6.id;
      const before = (await events(shop.id, 'customerId', customerId)).length;
      expect((await credit(shop, 'sales', customerId, '1')).status).toBe(403);
      expect((await credit(shop, 'owner', customerId, '-1000')).status).toBe(422);
      const reference = `R-${uuidv7().slice(-12)}`;
      expect((await credit(shop, 'owner', customerId, '1', reference)).status).toBe(200);
      expect((await credit(shop, 'owner', customerId, '2', reference)).status).toBe(409);
      expect((await events(shop.id, 'customerId', customerId)).length).toBe(before + 1);
    });

    it('rolls the credit and its event back together when the commit fails', async () => {
      const customerId = other.users.c2.id;
      const reference = `RB-${uuidv7().slice(-12)}`;
      await failingCommit('customerId', customerId, async () => {
        expect((await credit(other, 'otherOwner', customerId, '5', reference)).status).toBeGreaterThanOrEqual(500);
      });
      expect(await ledgerBalance(other.id, customerId)).toBeNull();
      expect(await events(other.id, 'customerId', customerId)).toEqual([]);
      // The same reference then credits for real, once.
      const retried = await credit(other, 'otherOwner', customerId, '5', reference);
      expect(retried.body.created).toBe(true);
      expect((await events(other.id, 'customerId', customerId)).map((e) => [e.type, e.data.transactionId])).toEqual([['credit.created', retried.body.id]]);
    });
  });

  describe('low balance and depletion through metering', () => {
    const setTenantDefault = (threshold: string | null) =>
      call(api.baseUrl, 'PUT', `/api/v1/tenants/${shop.id}/low-balance-threshold`, { ...as(shop, 'owner'), json: { threshold } });

    it('publishes low_balance once when crossing the threshold, depleted once at zero, nothing while below, and again after a credit', async () => {
      expect((await setTenantDefault('5')).status).toBe(200);
      const c = shop.users.c2.id;
      expect((await credit(shop, 'owner', c, '10')).status).toBe(200);
      await use(shop, c, '3'); // 7: above
      expect(await balanceEvents(shop.id, c)).toEqual([]);
      await use(shop, c, '3'); // 4: crossed 5
      expect(await balanceEvents(shop.id, c)).toEqual([
        { type: 'billing.low_balance', data: { customerId: c, balance: '4.000000000', threshold: '5.000000000' } },
      ]);
      await use(shop, c, '1', '2.5'); // 3, then 0.5: still low
      expect(await balanceEvents(shop.id, c)).toHaveLength(1);
      await use(shop, c, '1'); // -0.5: depleted
      await use(shop, c, '1'); // -1.5: still depleted
      expect(await balanceEvents(shop.id, c)).toEqual([
        { type: 'billing.low_balance', data: { customerId: c, balance: '4.000000000', threshold: '5.000000000' } },
        { type: 'billing.balance_depleted', data: { customerId: c, balance: '-0.500000000', threshold: '5.000000000' } },
      ]);
      // Credited back above the threshold, then down again: both publish again.
      expect((await credit(shop, 'finance', c, '10')).status).toBe(200); // 8.5
      await use(shop, c, '4'); // 4.5
      await use(shop, c, '5'); // -0.5
      expect((await balanceEvents(shop.id, c)).map((e) => [e.type, e.data.balance])).toEqual([
        ['billing.low_balance', '4.000000000'],
        ['billing.balance_depleted', '-0.500000000'],
        ['billing.low_balance', '4.500000000'],
        ['billing.balance_depleted', '-0.500000000'],
      ]);
      expect(await ledgerBalance(shop.id, c)).toBe('-0.500000000');
    });

    it("a customer's own threshold beats the tenant's default; 0 turns low balance off; the platform default applies when neither is set", async () => {
      expect((await setTenantDefault('5')).status).toBe(200);
      const c = shop.users.c3.id;
      const own = await call(api.baseUrl, 'PUT', `/api/v1/customers/${c}/low-balance-threshold`, { ...as(shop, 'owner'), json: { threshold: '1.25' } });
      expect(own.body).toEqual({ customerId: c, threshold: '1.25', effectiveThreshold: '1.25', source: 'customer' });
      expect((await credit(shop, 'owner', c, '10')).status).toBe(200);
      await use(shop, c, '6'); // 4: below the tenant's 5, above the customer's 1.25
      expect(await balanceEvents(shop.id, c)).toEqual([]);
      await use(shop, c, '3'); // 1
      expect(await balanceEvents(shop.id, c)).toEqual([{ type: 'billing.low_balance', data: { customerId: c, balance: '1.000000000', threshold: '1.250000000' } }]);

      const off = shop.users.c4.id;
      expect((await call(api.baseUrl, 'PUT', `/api/v1/customers/${off}/low-balance-threshold`, { ...as(shop, 'owner'), json: { threshold: '0' } })).status).toBe(200);
      expect((await credit(shop, 'owner', off, '10')).status).toBe(200);
      await use(shop, off, '9.5', '0.5');
      expect((await balanceEvents(shop.id, off)).map((e) => e.type)).toEqual(['billing.balance_depleted']);

      // `other` sets no default: LOW_BALANCE_DEFAULT_THRESHOLD (2 in this suite) applies.
      const p = other.users.c1.id;
      const view = await call(api.baseUrl, 'GET', `/api/v1/customers/${p}/low-balance-threshold`, as(other, 'otherOwner'));
      expect(view.body).toEqual({ customerId: p, threshold: null, effectiveThreshold: '2', source: 'platform' });
      expect((await credit(other, 'otherOwner', p, '3')).status).toBe(200);
      await use(other, p, '1.5');
      expect(await balanceEvents(other.id, p)).toEqual([{ type: 'billing.low_balance', data: { customerId: p, balance: '1.500000000', threshold: '2.000000000' } }]);
    });

    it('publishes once per crossing for a whole batch, and nothing when the batch is replayed', async () => {
      expect((await setTenantDefault('5')).status).toBe(200);
      const c = shop.users.c5.id;
      expect((await credit(shop, 'owner', c, '6')).status).toBe(200);
      const writer = worker.app.get(UsageWriter, { strict: false });
      const batch = ['0.5', '1', '2', '3'].map((amount) => usageEvent({ tenantId: shop.id, customerId: c, retailUnits: toUnits(amount).toString() }));
      expect((await writer.write(shop.id, batch)).written).toBe(4);
      expect(await balanceEvents(shop.id, c)).toEqual([
        { type: 'billing.low_balance', data: { customerId: c, balance: '-0.500000000', threshold: '5.000000000' } },
        { type: 'billing.balance_depleted', data: { customerId: c, balance: '-0.500000000', threshold: '5.000000000' } },
      ]);
      // Redelivered: by the writer, and through the stream.
      expect(await writer.write(shop.id, batch)).toEqual({ written: 0, duplicates: 4 });
      await settle(redis, batch[3], { debit: false });
      await eventually(async () => (await redis.xlen(billingKeys.usageStream(shop.id))) === 0, 'the redelivery to be acknowledged');
      expect(await balanceEvents(shop.id, c)).toHaveLength(2);
      expect(await ledgerBalance(shop.id, c)).toBe('-0.500000000');
    });

    it('a manual debit that crosses the threshold publishes low_balance in the same transaction', async () => {
      const c = shop.users.c1.id;
      const own = await call(api.baseUrl, 'PUT', `/api/v1/customers/${c}/low-balance-threshold`, { ...as(shop, 'sales'), json: { threshold: '3' } });
      expect(own.status).toBe(200);
      expect((await credit(shop, 'owner', c, '10')).status).toBe(200);
      expect((await credit(shop, 'finance', c, '-8')).status).toBe(200);
      expect(await balanceEvents(shop.id, c)).toEqual([{ type: 'billing.low_balance', data: { customerId: c, balance: '2.000000000', threshold: '3.000000000' } }]);
    });
  });

  describe('threshold routes', () => {
    const putCustomer = (tenant: TestTenant, who: string, customerId: string, json: unknown) =>
      call(api.baseUrl, 'PUT', `/api/v1/customers/${customerId}/low-balance-threshold`, { ...as(tenant, who), json });
    const putTenant = (tenant: TestTenant, who: string, tenantId: string, json: unknown) =>
      call(api.baseUrl, 'PUT', `/api/v1/tenants/${tenantId}/low-balance-threshold`, { ...as(tenant, who), json });

    it.each([
      ['owner', 'c1', 200],
      ['sales', 'c1', 200], // bound to them
      ['sales2', 'c1', 404], // not theirs: not revealed
      ['finance', 'c1', 403], // reads customers, does not manage them
      ['c1', 'c1', 403], // the customer themself
    ])("a customer's threshold: %s on %s -> %i", async (who, customer, status) => {
      const res = await putCustomer(shop, who, shop.users[customer].id, { threshold: '2.5' });
      expect(res.status).toBe(status);
      if (status === 403) expectProblem(res, 403, 'forbidden');
      if (status === 404) expectProblem(res, 404, 'not_found');
    });

    it.each([
      ['owner', 200],
      ['finance', 200],
      ['sales', 403],
      ['c1', 403],
    ])("the tenant's default: %s -> %i", async (who, status) => {
      const res = await putTenant(shop, who, shop.id, { threshold: '5' });
      expect(res.status).toBe(status);
      if (status === 200) expect(res.body).toEqual({ tenantId: shop.id, threshold: '5', effectiveThreshold: '5', source: 'tenant' });
      const read = await call(api.baseUrl, 'GET', `/api/v1/tenants/${shop.id}/low-balance-threshold`, as(shop, who));
      expect(read.status).toBe(status);
    });

    it("keeps another tenant's customers and settings out of reach (404), and changes nothing there", async () => {
      expectProblem(await putCustomer(other, 'otherOwner', shop.users.c1.id, { threshold: '1' }), 404, 'not_found');
      expectProblem(await putTenant(other, 'otherOwner', shop.id, { threshold: '1' }), 404, 'not_found');
      expectProblem(await call(api.baseUrl, 'GET', `/api/v1/tenants/${shop.id}/low-balance-threshold`, as(other, 'otherOwner')), 404, 'not_found');
      expect((await system.query(`SELECT low_balance_threshold::text FROM tenants WHERE id = $1`, [shop.id])).rows[0].low_balance_threshold).not.toBe('1.000000000');
    });

    it.each([['-1'], ['abc'], [5], ['1.0000000001'], ['1e3'], [''], ['1000000001'], [{}], [undefined]])('rejects threshold %p with 400', async (threshold) => {
      expectInvalidFields(await putCustomer(shop, 'owner', shop.users.c1.id, { threshold }), ['threshold']);
      expectInvalidFields(await putTenant(shop, 'owner', shop.id, { threshold }), ['threshold']);
    });

    it('null clears an override: the next level applies again, and the change is audited', async () => {
      const c = shop.users.c6.id;
      expect((await putTenant(shop, 'owner', shop.id, { threshold: '7.5' })).status).toBe(200);
      expect((await putCustomer(shop, 'owner', c, { threshold: '3' })).body.source).toBe('customer');
      const cleared = await putCustomer(shop, 'owner', c, { threshold: null });
      expect(cleared.body).toEqual({ customerId: c, threshold: null, effectiveThreshold: '7.5', source: 'tenant' });
      const tenant = await putTenant(shop, 'owner', shop.id, { threshold: null });
      expect(tenant.body).toEqual({ tenantId: shop.id, threshold: null, effectiveThreshold: '2', source: 'platform' });
      const audit = await system.query(
        `SELECT action FROM audit_log WHERE tenant_id = $1 AND subject_id = $2 AND action = 'customer.low_balance_threshold_set'`,
        [shop.id, c],
      );
      expect(audit.rowCount).toBe(2);
    });
  });
});
