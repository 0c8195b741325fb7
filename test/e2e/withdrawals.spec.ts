import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { PermissionDefinition } from '@app/authorization';
import { toUnits } from '../../libs/money/src';
import { ALL_PERMISSIONS } from '../../src/modules/permissions';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs } from '../support/db';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, resellerWithUsers, RoleName, signIn, TestTenant } from '../support/identity';
import { expectInvalidFields, expectProblem } from '../support/problem';
import { accountBalance, fundSettledMargin } from '../support/settled-margin';
import { ledgerInvariants } from '../support/usage';

/**
 * Withdrawals of settled margin through the HTTP API: the money moves in the ledger at each step
 * (request, approve, reject, pay), each step is audited and announced as a `withdrawal.updated`
 * webhook event, the available margin is checked under a lock (concurrent requests never
 * overdraw it), who may do what, and every refusal.
 */
describe('withdrawals (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let platform: TestTenant;
  let shop: TestTenant;
  let other: TestTenant;
  const tokens = new Map<string, string>();

  const ALL_ROLES: RoleName[] = ['owner', 'operator', 'sales', 'finance', 'tech', 'user'];
  /** Reseller tenants have no operator or tech role (ROLES_BY_TENANT_TYPE). */
  const RESELLER_ROLES: RoleName[] = ['owner', 'sales', 'finance', 'user'];

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    platform = await platformWithUsers(system, Object.fromEntries(ALL_ROLES.map((r) => [r, [r]])));
    shop = await resellerWithUsers(system, Object.fromEntries(RESELLER_ROLES.map((r) => [r, [r]])));
    other = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'] });
    for (const tenant of [platform, shop, other]) {
      for (const name of Object.keys(tenant.users)) tokens.set(`${tenant.slug}:${name}`, (await signIn(api.baseUrl, tenant, name)).accessToken);
    }
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  const as = (tenant: TestTenant, name: string) => ({ host: tenant.domain, token: tokens.get(`${tenant.slug}:${name}`)! });
  const requestW = (tenant: TestTenant, name: string, json: unknown) => call(api.baseUrl, 'POST', '/api/v1/withdrawals', { ...as(tenant, name), json });
  const step = (name: string, id: string, action: 'approve' | 'reject' | 'pay', json: unknown = {}) =>
    call(api.baseUrl, 'POST', `/api/v1/withdrawals/${id}/${action}`, { ...as(platform, name), json });
  const stepAs = (tenant: TestTenant, name: string, id: string, action: 'approve' | 'reject' | 'pay', json: unknown) =>
    call(api.baseUrl, 'POST', `/api/v1/withdrawals/${id}/${action}`, { ...as(tenant, name), json });
  const get = (tenant: TestTenant, name: string, path: string) => call(api.baseUrl, 'GET', `/api/v1/withdrawals${path}`, as(tenant, name));

  const books = async (tenantId: string) => ({
    settled: await accountBalance(system, tenantId, 'reseller_settled'),
    pending: await accountBalance(system, tenantId, 'withdrawal_pending'),
    approved: await accountBalance(system, tenantId, 'withdrawal_approved'),
  });
  const entriesOf = async (tenantId: string, key: string) => {
    const { rows } = await system.query(
      `SELECT t.kind, t.amount::text AS amount, a.tenant_id, a.kind AS account, e.amount::text AS entry
         FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id JOIN ledger_accounts a ON a.id = e.account_id
        WHERE t.tenant_id = $1 AND t.idempotency_key = $2 ORDER BY e.amount`,
      [tenantId, key],
    );
    return rows;
  };
  const auditOf = async (tenantId: string, id: string) =>
    (
      await system.query(`SELECT action, actor_user_id, actor_tenant_id, changes FROM audit_log WHERE tenant_id = $1 AND subject_id = $2 ORDER BY created_at, id`, [
        tenantId,
        id,
      ])
    ).rows;
  const eventsOf = async (tenantId: string, id: string) =>
    (await system.query(`SELECT type, data FROM webhook_events WHERE tenant_id = $1 AND data->>'id' = $2 ORDER BY created_at, id`, [tenantId, id])).rows;

  /** A fresh reseller with a funded settled margin and a finance user signed in. */
  async function fundedReseller(margin: string): Promise<TestTenant> {
    const tenant = await resellerWithUsers(system, { finance: ['finance'] });
    tokens.set(`${tenant.slug}:finance`, (await signIn(api.baseUrl, tenant, 'finance')).accessToken);
    await fundSettledMargin(system, tenant.id, margin);
    return tenant;
  }

  describe('the money flow, step by step', () => {
    let seller: TestTenant;
    beforeAll(async () => {
      seller = await fundedReseller('100');
    });

    it('request -> approve -> pay moves the amount settled -> pending -> approved -> platform payouts, audited and announced', async () => {
      const payoutsBefore = toUnits(await accountBalance(system, platform.id, 'payouts'));
      const requested = await requestW(seller, 'finance', { amount: '30.5', note: 'March margin', destination: 'IBAN DE00 1234' });
      expect(requested.status).toBe(201);
      expect(requested.body).toMatchObject({
        tenantId: seller.id,
        amount: '30.500000000',
        status: 'requested',
        note: 'March margin',
        destination: 'IBAN DE00 1234',
        requestedBy: seller.users.finance.id,
        decidedAt: null,
      });
      const id: string = requested.body.id;
      expect(await books(seller.id)).toEqual({ settled: '69.500000000', pending: '30.500000000', approved: '0.000000000' });
      expect(await entriesOf(seller.id, `withdrawal:${id}:requested`)).toEqual([
        { kind: 'withdrawal', amount: '30.500000000', tenant_id: seller.id, account: 'reseller_settled', entry: '-30.500000000' },
        { kind: 'withdrawal', amount: '30.500000000', tenant_id: seller.id, account: 'withdrawal_pending', entry: '30.500000000' },
      ]);
      const summary = await get(seller, 'finance', '/summary');
      expect(summary.body).toEqual({
        available: '69.500000000',
        pending: '30.500000000',
        approved: '0.000000000',
        paid: '0.000000000',
        counts: { requested: 1, approved: 0, rejected: 0, paid: 0 },
      });

      const approved = await step('finance', id, 'approve', { note: 'checked' });
      expect(approved.status).toBe(200);
      expect(approved.body).toMatchObject({ id, status: 'approved', decidedBy: platform.users.finance.id, decidedAt: expect.any(String) });
      expect(await books(seller.id)).toEqual({ settled: '69.500000000', pending: '0.000000000', approved: '30.500000000' });
      expect(await entriesOf(seller.id, `withdrawal:${id}:approved`)).toEqual([
        { kind: 'withdrawal', amount: '30.500000000', tenant_id: seller.id, account: 'withdrawal_pending', entry: '-30.500000000' },
        { kind: 'withdrawal', amount: '30.500000000', tenant_id: seller.id, account: 'withdrawal_approved', entry: '30.500000000' },
      ]);

      const paid = await step('owner', id, 'pay', { paymentReference: 'SEPA-0001' });
      expect(paid.status).toBe(200);
      expect(paid.body).toMatchObject({ id, status: 'paid', paidBy: platform.users.owner.id, paymentReference: 'SEPA-0001', paidAt: expect.any(String) });
      expect(await books(seller.id)).toEqual({ settled: '69.500000000', pending: '0.000000000', approved: '0.000000000' });
      expect(toUnits(await accountBalance(system, platform.id, 'payouts')) - payoutsBefore).toBe(toUnits('30.5'));
      // One transaction in the reseller's books, with its payout leg on the platform's account.
      expect(await entriesOf(seller.id, `withdrawal:${id}:paid`)).toEqual([
        { kind: 'withdrawal', amount: '30.500000000', tenant_id: seller.id, account: 'withdrawal_approved', entry: '-30.500000000' },
        { kind: 'withdrawal', amount: '30.500000000', tenant_id: platform.id, account: 'payouts', entry: '30.500000000' },
      ]);

      const audit = await auditOf(seller.id, id);
      expect(audit.map((a) => [a.action, a.actor_user_id, a.actor_tenant_id])).toEqual([
        ['withdrawal.requested', seller.users.finance.id, seller.id],
        ['withdrawal.approved', platform.users.finance.id, platform.id],
        ['withdrawal.paid', platform.users.owner.id, platform.id],
      ]);
      expect(JSON.stringify(audit[2].changes)).toContain('SEPA-0001');
      const events = await eventsOf(seller.id, id);
      expect(events.map((e) => [e.type, e.data.status, e.data.amount, e.data.tenantId])).toEqual([
        ['withdrawal.updated', 'requested', '30.500000000', seller.id],
        ['withdrawal.updated', 'approved', '30.500000000', seller.id],
        ['withdrawal.updated', 'paid', '30.500000000', seller.id],
      ]);
      expect(events[2].data.paymentReference).toBe('SEPA-0001');

      // The reseller sees the state of its request.
      const seen = await get(seller, 'finance', `/${id}`);
      expect(seen.body).toMatchObject({ id, status: 'paid', paymentReference: 'SEPA-0001' });
      expect((await get(seller, 'finance', '/summary')).body).toMatchObject({ available: '69.500000000', pending: '0.000000000', approved: '0.000000000', paid: '30.500000000' });
    });

    it('a rejection returns the amount to the settled margin and records the reason', async () => {
      const requested = await requestW(seller, 'finance', { amount: '19.5' });
      expect(requested.status).toBe(201);
      const id: string = requested.body.id;
      expect(await books(seller.id)).toMatchObject({ settled: '50.000000000', pending: '19.500000000' });
      const rejected = await step('finance', id, 'reject', { reason: 'Bank details missing' });
      expect(rejected.status).toBe(200);
      expect(rejected.body).toMatchObject({ id, status: 'rejected', rejectReason: 'Bank details missing', decidedBy: platform.users.finance.id });
      expect(await books(seller.id)).toEqual({ settled: '69.500000000', pending: '0.000000000', approved: '0.000000000' });
      expect(await entriesOf(seller.id, `withdrawal:${id}:rejected`)).toEqual([
        { kind: 'withdrawal', amount: '19.500000000', tenant_id: seller.id, account: 'withdrawal_pending', entry: '-19.500000000' },
        { kind: 'withdrawal', amount: '19.500000000', tenant_id: seller.id, account: 'reseller_settled', entry: '19.500000000' },
      ]);
      const audit = await auditOf(seller.id, id);
      expect(audit.map((a) => a.action)).toEqual(['withdrawal.requested', 'withdrawal.rejected']);
      expect(JSON.stringify(audit[1].changes)).toContain('Bank details missing');
      expect((await eventsOf(seller.id, id)).map((e) => [e.data.status, e.data.rejectReason])).toEqual([
        ['requested', null],
        ['rejected', 'Bank details missing'],
      ]);
    });

    it('keeps the whole ledger balanced', async () => {
      expect(await ledgerInvariants(system)).toEqual({ unbalanced: 0, mismatched: 0 });
    });
  });

  describe('the limit, under concurrency', () => {
    it('two concurrent requests that together exceed the margin: exactly one passes (five rounds)', async () => {
      for (let round = 0; round < 5; round++) {
        const seller = await fundedReseller('100');
        const results = await Promise.all([requestW(seller, 'finance', { amount: '60' }), requestW(seller, 'finance', { amount: '60' })]);
        expect(results.map((r) => r.status).sort()).toEqual([201, 422]);
        expectProblem(results.find((r) => r.status === 422)!, 422, 'withdrawal_exceeds_available');
        expect(results.find((r) => r.status === 422)!.body.detail).toContain('40.000000000');
        const b = await books(seller.id);
        expect(b).toEqual({ settled: '40.000000000', pending: '60.000000000', approved: '0.000000000' });
        const { rows } = await system.query(`SELECT count(*)::int AS n, coalesce(sum(amount), 0)::text AS total FROM withdrawals WHERE tenant_id = $1`, [seller.id]);
        expect(rows[0]).toEqual({ n: 1, total: '60.000000000' });
      }
    });

    it('many concurrent requests never take more than the margin', async () => {
      const seller = await fundedReseller('100');
      const results = await Promise.all(Array.from({ length: 8 }, () => requestW(seller, 'finance', { amount: '30' })));
      expect(results.filter((r) => r.status === 201).length).toBe(3);
      expect(results.filter((r) => r.status === 422).length).toBe(5);
      expect(await books(seller.id)).toMatchObject({ settled: '10.000000000', pending: '90.000000000' });
    });

    it('two concurrent approvals of one withdrawal post once; the other is refused', async () => {
      const seller = await fundedReseller('10');
      const id = (await requestW(seller, 'finance', { amount: '10' })).body.id;
      const results = await Promise.all([step('finance', id, 'approve'), step('owner', id, 'approve')]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      expectProblem(results.find((r) => r.status === 409)!, 409, 'withdrawal_invalid_transition');
      const { rows } = await system.query(`SELECT count(*)::int AS n FROM ledger_transactions WHERE tenant_id = $1 AND idempotency_key LIKE $2`, [seller.id, `withdrawal:${id}:%`]);
      expect(rows[0].n).toBe(2);
      expect(await books(seller.id)).toEqual({ settled: '0.000000000', pending: '0.000000000', approved: '10.000000000' });
    });

    it('an approval and a rejection racing: one wins, the books follow it', async () => {
      const seller = await fundedReseller('10');
      const id = (await requestW(seller, 'finance', { amount: '10' })).body.id;
      const [approve, reject] = await Promise.all([step('finance', id, 'approve'), step('owner', id, 'reject', { reason: 'race' })]);
      expect([approve.status, reject.status].sort()).toEqual([200, 409]);
      const expected =
        approve.status === 200
          ? { settled: '0.000000000', pending: '0.000000000', approved: '10.000000000' }
          : { settled: '10.000000000', pending: '0.000000000', approved: '0.000000000' };
      expect(await books(seller.id)).toEqual(expected);
    });
  });

  describe('refusals', () => {
    let seller: TestTenant;
    beforeAll(async () => {
      seller = await fundedReseller('50');
    });

    it('refuses more than the available margin (422, naming the available amount), and nothing moves', async () => {
      const res = await requestW(seller, 'finance', { amount: '50.000000001' });
      expectProblem(res, 422, 'withdrawal_exceeds_available');
      expect(res.body.detail).toContain('50.000000000');
      expect(res.headers['x-should-retry']).toBe('false');
      expect(await books(seller.id)).toMatchObject({ settled: '50.000000000', pending: '0.000000000' });
      // Pending requests count: after 40 is requested only 10 remain.
      expect((await requestW(seller, 'finance', { amount: '40' })).status).toBe(201);
      const again = await requestW(seller, 'finance', { amount: '10.5' });
      expectProblem(again, 422, 'withdrawal_exceeds_available');
      expect(again.body.detail).toContain('10.000000000');
    });

    it('refuses a reseller with no settled margin at all', async () => {
      const res = await requestW(other, 'finance', { amount: '1' });
      expectProblem(res, 422, 'withdrawal_exceeds_available');
      expect(res.body.detail).toContain('0.000000000');
    });

    it('refuses invalid amounts and fields (400)', async () => {
      for (const amount of ['0', '0.000', '-1', '1.0000000001', '1e3', ' 1', '1,5', '', 'abc', 12, null, '1000000.000000001', '99999999999']) {
        expectInvalidFields(await requestW(seller, 'finance', { amount }), ['amount']);
      }
      expectInvalidFields(await requestW(seller, 'finance', {}), ['amount']);
      expectInvalidFields(await requestW(seller, 'finance', { amount: '1', note: 'x'.repeat(501) }), ['note']);
      expectInvalidFields(await requestW(seller, 'finance', { amount: '1', destination: 'x'.repeat(501) }), ['destination']);
      expectInvalidFields(await requestW(seller, 'finance', { amount: '1', reference: 'has space' }), ['reference']);
      expectInvalidFields(await requestW(seller, 'finance', { amount: '1', status: 'paid' }), ['status']);
      expect(await books(seller.id)).toMatchObject({ pending: '40.000000000' });
    });

    it('the platform tenant has no margin to withdraw (422)', async () => {
      for (const who of ['owner', 'finance']) {
        const res = await call(api.baseUrl, 'POST', '/api/v1/withdrawals', { ...as(platform, who), json: { amount: '1' } });
        expectProblem(res, 422, 'withdrawal_not_a_reseller');
      }
    });

    it('refuses invalid state transitions (409) and moves no money', async () => {
      const fresh = await fundedReseller('30');
      const requested = (await requestW(fresh, 'finance', { amount: '10' })).body.id;
      const rejected = (await requestW(fresh, 'finance', { amount: '10' })).body.id;
      const paid = (await requestW(fresh, 'finance', { amount: '10' })).body.id;
      expect((await step('finance', rejected, 'reject', { reason: 'no' })).status).toBe(200);
      expect((await step('finance', paid, 'approve')).status).toBe(200);
      expect((await step('finance', paid, 'pay', { paymentReference: 'P-1' })).status).toBe(200);
      const before = await books(fresh.id);
      const refused: Array<[string, 'approve' | 'reject' | 'pay', unknown]> = [
        [requested, 'pay', { paymentReference: 'P-2' }], // pending: not approved yet
        [rejected, 'pay', { paymentReference: 'P-3' }],
        [rejected, 'approve', {}],
        [rejected, 'reject', { reason: 'twice' }],
        [paid, 'approve', {}], // approving twice (it is even paid)
        [paid, 'reject', { reason: 'late' }],
        [paid, 'pay', { paymentReference: 'P-4' }],
      ];
      for (const [id, action, json] of refused) {
        const res = await step('finance', id, action, json);
        expectProblem(res, 409, 'withdrawal_invalid_transition');
      }
      expect((await step('finance', requested, 'approve')).status).toBe(200);
      expectProblem(await step('owner', requested, 'approve'), 409, 'withdrawal_invalid_transition');
      expectProblem(await step('owner', requested, 'reject', { reason: 'after approval' }), 409, 'withdrawal_invalid_transition');
      expect(await books(fresh.id)).toEqual({ ...before, pending: '0.000000000', approved: '10.000000000' });
    });

    it('requires a reason to reject and a payment reference to pay (400)', async () => {
      const fresh = await fundedReseller('10');
      const id = (await requestW(fresh, 'finance', { amount: '5' })).body.id;
      expectInvalidFields(await step('finance', id, 'reject', {}), ['reason']);
      expectInvalidFields(await step('finance', id, 'reject', { reason: '   ' }), ['reason']);
      expectInvalidFields(await step('finance', id, 'reject', { reason: 'x'.repeat(501) }), ['reason']);
      expect((await step('finance', id, 'approve')).status).toBe(200);
      expectInvalidFields(await step('finance', id, 'pay', {}), ['paymentReference']);
      expectInvalidFields(await step('finance', id, 'pay', { paymentReference: 'x'.repeat(201) }), ['paymentReference']);
      expect((await get(fresh, 'finance', `/${id}`)).body.status).toBe('approved');
    });

    it('unknown and malformed ids are 404', async () => {
      expectProblem(await get(platform, 'finance', `/${uuidv7()}`), 404, 'not_found');
      expectProblem(await get(platform, 'finance', '/not-a-uuid'), 404, 'not_found');
      expectProblem(await step('finance', uuidv7(), 'approve'), 404, 'not_found');
    });

    it('a retried request with the same reference is answered once; another amount with it is refused', async () => {
      const fresh = await fundedReseller('10');
      const reference = `payout-${uuidv7()}`;
      const results = await Promise.all([1, 2, 3].map(() => requestW(fresh, 'finance', { amount: '4', reference })));
      expect(results.map((r) => r.status).sort()).toEqual([200, 200, 201]);
      expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
      expectProblem(await requestW(fresh, 'finance', { amount: '5', reference }), 409, 'withdrawal_reference_reused');
      expect(await books(fresh.id)).toMatchObject({ settled: '6.000000000', pending: '4.000000000' });
    });
  });

  describe('who sees and does what', () => {
    let shopWithdrawal: string;
    let otherWithdrawal: string;

    beforeAll(async () => {
      await fundSettledMargin(system, shop.id, '1000');
      await fundSettledMargin(system, other.id, '1000');
      shopWithdrawal = (await requestW(shop, 'finance', { amount: '1' })).body.id;
      otherWithdrawal = (await requestW(other, 'owner', { amount: '2' })).body.id;
    });

    /** A requested (or, for pay, approved) withdrawal of the shop, made for one attempt. */
    async function target(action: 'approve' | 'reject' | 'pay'): Promise<string> {
      const id = (await requestW(shop, 'owner', { amount: '0.01' })).body.id;
      if (action === 'pay') expect((await step('finance', id, 'approve')).status).toBe(200);
      return id;
    }

    async function attempt(tenant: TestTenant, role: RoleName, what: string): Promise<HttpResult> {
      const who = as(tenant, role);
      switch (what) {
        case 'list':
          return call(api.baseUrl, 'GET', '/api/v1/withdrawals', who);
        case 'summary':
          return call(api.baseUrl, 'GET', '/api/v1/withdrawals/summary', who);
        case 'read':
          return call(api.baseUrl, 'GET', `/api/v1/withdrawals/${shopWithdrawal}`, who);
        case 'request':
          return call(api.baseUrl, 'POST', '/api/v1/withdrawals', { ...who, json: { amount: '0.01' } });
        case 'approve':
          return call(api.baseUrl, 'POST', `/api/v1/withdrawals/${await target('approve')}/approve`, { ...who, json: {} });
        case 'reject':
          return call(api.baseUrl, 'POST', `/api/v1/withdrawals/${await target('reject')}/reject`, { ...who, json: { reason: 'matrix' } });
        case 'pay':
          return call(api.baseUrl, 'POST', `/api/v1/withdrawals/${await target('pay')}/pay`, { ...who, json: { paymentReference: 'matrix' } });
      }
      throw new Error(what);
    }

    const ACTIONS = ['list', 'summary', 'read', 'request', 'approve', 'reject', 'pay'];
    const EXPECTED: Record<'platform' | 'reseller', Partial<Record<RoleName, number[]>>> = {
      // list, summary, read, request, approve, reject, pay
      platform: {
        owner: [200, 200, 200, 422, 200, 200, 200],
        finance: [200, 200, 200, 422, 200, 200, 200],
        operator: [403, 403, 403, 403, 403, 403, 403],
        sales: [403, 403, 403, 403, 403, 403, 403],
        tech: [403, 403, 403, 403, 403, 403, 403],
        user: [403, 403, 403, 403, 403, 403, 403],
      },
      reseller: {
        owner: [200, 200, 200, 201, 403, 403, 403],
        finance: [200, 200, 200, 201, 403, 403, 403],
        sales: [403, 403, 403, 403, 403, 403, 403],
        user: [403, 403, 403, 403, 403, 403, 403],
      },
    };
    const rows: Array<[string, RoleName, string, number]> = [];
    for (const type of ['platform', 'reseller'] as const) {
      for (const [role, statuses] of Object.entries(EXPECTED[type])) ACTIONS.forEach((a, i) => rows.push([type, role as RoleName, a, statuses![i]]));
    }

    it.each(rows)('%s %s: %s -> %i', async (type, role, what, status) => {
      const res = await attempt(type === 'platform' ? platform : shop, role, what);
      expect(res.status).toBe(status);
      if (status === 403) expectProblem(res, 403, 'forbidden');
    });

    it("a reseller never sees another reseller's withdrawals (404, not listed, not summed)", async () => {
      for (const role of ['owner', 'finance']) {
        expectProblem(await get(shop, role, `/${otherWithdrawal}`), 404, 'not_found');
        const list = await get(shop, role, '?pageSize=100');
        expect(list.status).toBe(200);
        expect(list.body.items.length).toBeGreaterThan(0);
        expect(list.body.items.every((w: { tenantId: string }) => w.tenantId === shop.id)).toBe(true);
        // Asking for the other tenant by filter finds nothing.
        expect((await get(shop, role, `?tenantId=${other.id}`)).body).toMatchObject({ items: [], total: 0 });
        expect((await get(shop, role, `/summary?tenantId=${other.id}`)).body).toMatchObject({ available: '0.000000000', pending: '0.000000000' });
      }
      // Resellers hold no decision capability at all: 403 whatever the id, its own or another's
      // (the answer is the same, so nothing is revealed), and nothing changes.
      for (const id of [otherWithdrawal, shopWithdrawal, uuidv7()]) {
        expectProblem(await stepAs(shop, 'owner', id, 'approve', {}), 403, 'forbidden');
        expectProblem(await stepAs(other, 'finance', id, 'reject', { reason: 'x' }), 403, 'forbidden');
      }
      expect((await get(shop, 'owner', `/${shopWithdrawal}`)).body.status).toBe('requested');
      expect((await get(other, 'owner', `/${otherWithdrawal}`)).body.status).toBe('requested');
      // And the other reseller cannot read the shop's either.
      expectProblem(await get(other, 'finance', `/${shopWithdrawal}`), 404, 'not_found');
    });

    it('the summary of a reseller is its own books', async () => {
      const summary = await get(shop, 'finance', '/summary');
      expect(summary.body.available).toBe(await accountBalance(system, shop.id, 'reseller_settled'));
      expect(summary.body.pending).toBe(await accountBalance(system, shop.id, 'withdrawal_pending'));
      const { rows } = await system.query(`SELECT coalesce(sum(amount), 0)::numeric(30, 9)::text AS s FROM withdrawals WHERE tenant_id = $1 AND status = 'requested'`, [shop.id]);
      expect(summary.body.pending).toBe(rows[0].s);
    });

    it('platform finance lists every reseller, filtered by tenant and status', async () => {
      const both = await get(platform, 'finance', '?pageSize=100&status=requested');
      expect(both.status).toBe(200);
      expect(both.body.items.every((w: { status: string }) => w.status === 'requested')).toBe(true);
      const one = await get(platform, 'finance', `?tenantId=${other.id}`);
      expect(one.body.items.map((w: { id: string }) => w.id)).toEqual([otherWithdrawal]);
      expect(one.body.total).toBe(1);
      const summary = await get(platform, 'owner', `/summary?tenantId=${other.id}`);
      expect(summary.body).toMatchObject({ available: '998.000000000', pending: '2.000000000', counts: { requested: 1, approved: 0, rejected: 0, paid: 0 } });
      const all = await get(platform, 'finance', '/summary');
      expect(toUnits(all.body.pending)).toBeGreaterThanOrEqual(toUnits('2'));
      expectInvalidFields(await get(platform, 'finance', '?status=lost'), ['status']);
      expectInvalidFields(await get(platform, 'finance', '?tenantId=nope'), ['tenantId']);
    });

    it('RLS and the platform-only rule still hold when CASL is broken to allow everything', async () => {
      const permissions = ALL_PERMISSIONS as PermissionDefinition[];
      const allowEverything: PermissionDefinition = (_principal, { can }) => can('manage', 'all');
      permissions.push(allowEverything);
      try {
        expectProblem(await get(shop, 'sales', `/${otherWithdrawal}`), 404, 'not_found');
        const list = await get(shop, 'user', '?pageSize=100');
        expect(list.status).toBe(200);
        expect(list.body.items.every((w: { tenantId: string }) => w.tenantId === shop.id)).toBe(true);
        expect((await get(shop, 'sales', `/summary?tenantId=${other.id}`)).body).toMatchObject({ available: '0.000000000', pending: '0.000000000' });
        expectProblem(await stepAs(shop, 'owner', otherWithdrawal, 'approve', {}), 404, 'not_found');
        // Its own withdrawal is within RLS, yet a reseller never decides it.
        expectProblem(await stepAs(shop, 'owner', shopWithdrawal, 'approve', {}), 403, 'forbidden');
        expect((await get(shop, 'owner', `/${shopWithdrawal}`)).body.status).toBe('requested');
      } finally {
        permissions.splice(permissions.indexOf(allowEverything), 1);
      }
    });

    it('without a token: 401', async () => {
      expect((await call(api.baseUrl, 'GET', '/api/v1/withdrawals', { host: shop.domain })).status).toBe(401);
      expect((await call(api.baseUrl, 'POST', '/api/v1/withdrawals', { host: shop.domain, json: { amount: '1' } })).status).toBe(401);
    });
  });
});
