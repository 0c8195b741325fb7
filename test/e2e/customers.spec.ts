import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { PermissionDefinition } from '@app/authorization';
import { TenantDb } from '@app/tenancy';
import { ALL_PERMISSIONS } from '../../src/modules/permissions';
import { UsageRecordInput, UsageRecordsRepository } from '../../src/modules/usage/usage-records.repository';
import { RunningApp, startTestApi } from '../support/app';
import { auditLog } from '../support/auth';
import { connectAs, uniqueSlug } from '../support/db';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant, Tokens } from '../support/identity';
import { expectInvalidFields, expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';

/**
 * Customers and sales bindings through the HTTP API: each salesperson sees exactly the customers
 * bound to them (lists, counts, sums, single reads and writes), owners and operators bind and
 * reassign (one at a time and in bulk), finance reads only, platform sales reach their bound
 * resellers' record and aggregates only, and RLS alone still hides other tenants when CASL is
 * forced to allow everything.
 */
describe('customers and sales bindings (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let shop: TestTenant;
  let other: TestTenant;
  const tokens: Record<string, Tokens> = {};

  const as = (who: string, tenant: TestTenant = shop) => ({ host: tenant.domain, token: tokens[who].accessToken });
  const get = (who: string, path: string, tenant?: TestTenant) => call(api.baseUrl, 'GET', path, as(who, tenant));
  const send = (who: string, method: string, path: string, json?: unknown, tenant?: TestTenant) =>
    call(api.baseUrl, method, path, { ...as(who, tenant), ...(json === undefined ? {} : { json }) });
  const ids = (res: HttpResult) => (res.body.items as Array<{ id: string }>).map((c) => c.id).sort();

  async function createCustomer(who: string, tenant: TestTenant = shop, extra: Record<string, unknown> = {}): Promise<string> {
    const res = await send(who, 'POST', '/api/v1/customers', { email: `${uniqueSlug('c')}@buyer.example`, ...extra }, tenant);
    if (res.status !== 201) throw new Error(`customer creation failed: ${res.status} ${res.text}`);
    return res.body.id;
  }

  const bind = (customerId: string, salesUserId: string, who = 'shop:owner') =>
    send(who, 'PUT', `/api/v1/customers/${customerId}/sales`, { salesUserId });

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi({ REDIS_URL: await isolatedRedisUrl() });
    shop = await resellerWithUsers(system, {
      owner: ['owner'],
      sales1: ['sales'],
      sales2: ['sales'],
      sales3: ['sales'],
      finance: ['finance'],
      user: ['user'],
    });
    other = await resellerWithUsers(system, { owner: ['owner'], sales: ['sales'] });
    for (const name of Object.keys(shop.users)) tokens[`shop:${name}`] = await signIn(api.baseUrl, shop, name);
    for (const name of Object.keys(other.users)) tokens[`other:${name}`] = await signIn(api.baseUrl, other, name);
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  describe('the walkthrough: create, bind, see exactly those, reassign', () => {
    it("shows a salesperson exactly their customers, and a reassigned one leaves their view on the next request", async () => {
      const [c1, c2, c3] = [await createCustomer('shop:owner'), await createCustomer('shop:owner'), await createCustomer('shop:owner')];
      expect((await bind(c1, shop.users.sales1.id)).status).toBe(200);
      const bound = await bind(c2, shop.users.sales1.id);
      expect(bound.body.salesperson).toMatchObject({ id: shop.users.sales1.id, email: shop.users.sales1.email });

      const mine = await get('shop:sales1', '/api/v1/customers?pageSize=100');
      expect(mine.status).toBe(200);
      expect(ids(mine)).toEqual([c1, c2].sort());
      expect(mine.body.total).toBe(2);

      expect((await bind(c2, shop.users.sales2.id)).status).toBe(200);
      const after = await get('shop:sales1', '/api/v1/customers?pageSize=100');
      expect(ids(after)).toEqual([c1]);
      expect(after.body.total).toBe(1);
      expect((await get('shop:sales1', `/api/v1/customers/${c2}`)).status).toBe(404);
      expect(ids(await get('shop:sales2', '/api/v1/customers?pageSize=100'))).toContain(c2);
      // The owner still sees all three, the third unbound.
      const all = await get('shop:owner', `/api/v1/customers?sales=unbound&pageSize=100`);
      expect(ids(all)).toContain(c3);
      expect(ids(all)).not.toContain(c1);

      const history = await get('shop:owner', `/api/v1/customers/${c2}/bindings`);
      expect(history.status).toBe(200);
      expect(history.body.map((p: any) => [p.salesperson.id, p.unboundAt === null, p.unbindReason])).toEqual([
        [shop.users.sales2.id, true, null],
        [shop.users.sales1.id, false, 'reassigned'],
      ]);
      const audit = await auditLog(api.baseUrl, shop, tokens['shop:owner'], { subjectId: c2 });
      expect(audit.map((e) => e.action)).toEqual(expect.arrayContaining(['customer.created', 'customer.bound', 'customer.reassigned']));
    });
  });

  describe('a salesperson and customers not bound to them', () => {
    let unbound: string;
    let foreign: string;
    let mine: string;
    let elsewhere: string;

    beforeAll(async () => {
      unbound = await createCustomer('shop:owner');
      foreign = await createCustomer('shop:owner');
      await bind(foreign, shop.users.sales2.id);
      mine = await createCustomer('shop:sales3');
      elsewhere = await createCustomer('other:owner', other);
    });

    it('binds the customers a salesperson creates to them at once', async () => {
      const res = await get('shop:sales3', `/api/v1/customers/${mine}`);
      expect(res.status).toBe(200);
      expect(res.body.salesperson.id).toBe(shop.users.sales3.id);
      expect(res.body).toMatchObject({ status: 'invited', lastActiveAt: null });
      // Balance and key count do not exist yet: absent, never invented.
      expect(res.body).not.toHaveProperty('balance');
      expect(res.body).not.toHaveProperty('keyCount');
    });

    it.each([
      ['read', 'GET', ''],
      ['update', 'PATCH', ''],
      ['disable', 'POST', '/disable'],
      ['enable', 'POST', '/enable'],
      ['history', 'GET', '/bindings'],
      ['usage', 'GET', '/usage'],
    ])('answers 404 to %s on an unbound, a colleague\'s and another tenant\'s customer', async (_what, method, suffix) => {
      for (const id of [unbound, foreign, elsewhere]) {
        const res = await send('shop:sales3', method, `/api/v1/customers/${id}${suffix}`, method === 'PATCH' ? { displayName: 'Mine now' } : undefined);
        expectProblem(res, 404, 'not_found');
      }
      // Their own customer works.
      const own = await send('shop:sales3', method, `/api/v1/customers/${mine}${suffix}`, method === 'PATCH' ? { displayName: 'Mine' } : undefined);
      expect(method === 'POST' ? [200, 409] : [200]).toContain(own.status);
    });

    it('lists and counts only their own customers, whatever the filters', async () => {
      const list = await get('shop:sales3', '/api/v1/customers?pageSize=100');
      expect(ids(list)).toEqual([mine]);
      expect(list.body.total).toBe(1);
      const unboundOnly = await get('shop:sales3', '/api/v1/customers?sales=unbound');
      expect(unboundOnly.body).toMatchObject({ items: [], total: 0 });
      const colleagues = await get('shop:sales3', `/api/v1/customers?sales=${shop.users.sales2.id}`);
      expect(colleagues.body).toMatchObject({ items: [], total: 0 });
      const search = await get('shop:sales3', `/api/v1/customers?q=buyer.example`);
      expect(search.body.total).toBe(1);
    });

    it('may not bind anyone, nor create a customer for a colleague', async () => {
      expectProblem(await bind(mine, shop.users.sales2.id, 'shop:sales3'), 403, 'forbidden');
      expectProblem(await send('shop:sales3', 'DELETE', `/api/v1/customers/${mine}/sales`), 403, 'forbidden');
      const res = await send('shop:sales3', 'POST', '/api/v1/customers', { email: `${uniqueSlug('x')}@buyer.example`, salesUserId: shop.users.sales2.id });
      expectProblem(res, 403, 'forbidden');
    });
  });

  describe('finance', () => {
    it('reads every customer of the tenant and changes none (403)', async () => {
      const c = await createCustomer('shop:owner');
      await bind(c, shop.users.sales1.id);
      const list = await get('shop:finance', '/api/v1/customers?pageSize=100');
      const owners = await get('shop:owner', '/api/v1/customers?pageSize=100');
      expect(list.body.total).toBe(owners.body.total);
      expect((await get('shop:finance', `/api/v1/customers/${c}`)).status).toBe(200);
      expect((await get('shop:finance', `/api/v1/customers/${c}/bindings`)).status).toBe(200);
      expectProblem(await send('shop:finance', 'PATCH', `/api/v1/customers/${c}`, { displayName: 'No' }), 403, 'forbidden');
      expectProblem(await send('shop:finance', 'POST', `/api/v1/customers/${c}/disable`), 403, 'forbidden');
      expectProblem(await send('shop:finance', 'PUT', `/api/v1/customers/${c}/sales`, { salesUserId: shop.users.sales2.id }), 403, 'forbidden');
      expectProblem(await send('shop:finance', 'POST', '/api/v1/customers', { email: `${uniqueSlug('f')}@buyer.example` }), 403, 'forbidden');
      expectProblem(await send('shop:finance', 'POST', '/api/v1/customers/bindings', { items: [{ customerId: c, salesUserId: null }] }), 403, 'forbidden');
      expect((await get('shop:owner', `/api/v1/customers/${c}`)).body.salesperson.id).toBe(shop.users.sales1.id);
    });

    it('is refused the customer list when they are a plain user', async () => {
      expectProblem(await get('shop:user', '/api/v1/customers'), 403, 'forbidden');
    });
  });

  describe('bad input', () => {
    let c: string;
    beforeAll(async () => {
      c = await createCustomer('shop:owner');
    });

    it('refuses binding to a non-sales member, another tenant\'s member, an unknown id and a disabled salesperson, with stable codes', async () => {
      expectProblem(await bind(c, shop.users.finance.id), 422, 'not_a_salesperson');
      expectProblem(await bind(c, other.users.sales.id), 422, 'salesperson_not_found');
      expectProblem(await bind(c, uuidv7()), 422, 'salesperson_not_found');
      const disabled = await resellerWithUsersIn(shop, { gone: ['sales'] });
      await system.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [disabled]);
      expectProblem(await bind(c, disabled), 409, 'salesperson_inactive');
      // Nothing half-applied: still unbound, no period written.
      expect((await get('shop:owner', `/api/v1/customers/${c}`)).body.salesperson).toBeNull();
      expect((await get('shop:owner', `/api/v1/customers/${c}/bindings`)).body).toEqual([]);
    });

    it('refuses unknown fields, bad filters and a bulk request over 1,000 items (naming the limit)', async () => {
      expectInvalidFields(await send('shop:owner', 'POST', '/api/v1/customers', { email: 'a@b.example', tenantId: other.id }), ['tenantId']);
      expectInvalidFields(await send('shop:owner', 'PUT', `/api/v1/customers/${c}/sales`, { salesUserId: shop.users.sales1.id, force: true }), ['force']);
      expectInvalidFields(await get('shop:owner', '/api/v1/customers?sales=nobody&sort=random'), ['sales', 'sort']);
      const items = Array.from({ length: 1001 }, () => ({ customerId: uuidv7(), salesUserId: null }));
      const res = await send('shop:owner', 'POST', '/api/v1/customers/bindings', { items });
      expectInvalidFields(res, ['items']);
      expect(JSON.stringify(res.body.errors)).toContain('1000');
      expectInvalidFields(await send('shop:owner', 'POST', '/api/v1/customers/bindings', { items: [{ customerId: c, salesUserId: null, x: 1 }] }), ['items.0.x']);
    });

    it('answers 409 to a customer e-mail that exists', async () => {
      const email = `${uniqueSlug('dup')}@buyer.example`;
      expect((await send('shop:owner', 'POST', '/api/v1/customers', { email })).status).toBe(201);
      expectProblem(await send('shop:owner', 'POST', '/api/v1/customers', { email: email.toUpperCase() }), 409, 'customer_exists');
    });
  });

  /** Adds a user to `tenant` with roles and returns its id. */
  async function resellerWithUsersIn(tenant: TestTenant, users: Record<string, Array<'sales' | 'user' | 'finance'>>): Promise<string> {
    const [name, roles] = Object.entries(users)[0];
    const id = uuidv7();
    await system.query(`INSERT INTO users (id, tenant_id, email, status) VALUES ($1, $2, $3, 'active')`, [id, tenant.id, `${name}.${id.slice(-8)}@${tenant.domain}`]);
    for (const role of roles) await system.query(`INSERT INTO user_roles (tenant_id, user_id, role) VALUES ($1, $2, $3)`, [tenant.id, id, role]);
    return id;
  }

  describe('bulk bindings', () => {
    it('answers every item on its own: valid ones applied, invalid ones untouched with a code', async () => {
      const [a, b, c, d] = [await createCustomer('shop:owner'), await createCustomer('shop:owner'), await createCustomer('shop:owner'), await createCustomer('shop:owner')];
      await bind(c, shop.users.sales1.id);
      const elsewhere = await createCustomer('other:owner', other);
      const unknown = uuidv7();
      const res = await send('shop:owner', 'POST', '/api/v1/customers/bindings', {
        items: [
          { customerId: a, salesUserId: shop.users.sales1.id },
          { customerId: b, salesUserId: shop.users.finance.id },
          { customerId: c, salesUserId: null },
          { customerId: unknown, salesUserId: shop.users.sales1.id },
          { customerId: elsewhere, salesUserId: shop.users.sales1.id },
          { customerId: d, salesUserId: shop.users.sales2.id },
          { customerId: d, salesUserId: shop.users.sales1.id },
          { customerId: b, salesUserId: other.users.sales.id },
        ],
      });
      expect(res.status).toBe(200);
      expect(res.body.results.map((r: any) => [r.customerId, r.status, r.code ?? null])).toEqual([
        [a, 'ok', null],
        [b, 'error', 'duplicate_item'],
        [c, 'ok', null],
        [unknown, 'error', 'not_found'],
        [elsewhere, 'error', 'not_found'],
        [d, 'error', 'duplicate_item'],
        [d, 'error', 'duplicate_item'],
        [b, 'error', 'duplicate_item'],
      ]);
      expect(res.body).toMatchObject({ ok: 2, failed: 6 });
      const salesOf = async (id: string) => (await get('shop:owner', `/api/v1/customers/${id}`)).body.salesperson?.id ?? null;
      expect([await salesOf(a), await salesOf(b), await salesOf(c), await salesOf(d)]).toEqual([shop.users.sales1.id, null, null, null]);

      const second = await send('shop:owner', 'POST', '/api/v1/customers/bindings', {
        items: [
          { customerId: b, salesUserId: shop.users.finance.id },
          { customerId: d, salesUserId: shop.users.sales2.id },
          { customerId: a, salesUserId: other.users.sales.id },
        ],
      });
      expect(second.body.results.map((r: any) => r.code ?? r.status)).toEqual(['not_a_salesperson', 'ok', 'salesperson_not_found']);
      expect([await salesOf(a), await salesOf(b), await salesOf(d)]).toEqual([shop.users.sales1.id, null, shop.users.sales2.id]);
      // The other tenant's customer was never touched.
      expect((await get('other:owner', `/api/v1/customers/${elsewhere}`, other)).body.salesperson).toBeNull();
    });
  });

  describe('a salesperson who leaves', () => {
    it('leaves their customers unbound (audited) when disabled, removed or stripped of the sales role', async () => {
      const cases: Array<[string, (userId: string) => Promise<HttpResult>, string]> = [
        ['disabled', (id) => send('shop:owner', 'POST', `/api/v1/tenants/${shop.id}/members/${id}/disable`), 'salesperson_disabled'],
        ['removed', (id) => send('shop:owner', 'DELETE', `/api/v1/tenants/${shop.id}/members/${id}`), 'salesperson_removed'],
        ['demoted', (id) => send('shop:owner', 'PUT', `/api/v1/tenants/${shop.id}/members/${id}/roles`, { roles: ['finance'] }), 'sales_role_removed'],
      ];
      for (const [label, act, reason] of cases) {
        const seller = await resellerWithUsersIn(shop, { [`seller${label}`]: ['sales'] });
        const [x, y] = [await createCustomer('shop:owner'), await createCustomer('shop:owner')];
        await bind(x, seller);
        await bind(y, seller);
        expect((await act(seller)).status).toBeLessThan(300);
        for (const id of [x, y]) {
          const view = await get('shop:owner', `/api/v1/customers/${id}`);
          expect({ label, salesperson: view.body.salesperson }).toEqual({ label, salesperson: null });
          const [period] = (await get('shop:owner', `/api/v1/customers/${id}/bindings`)).body;
          // The period survives the salesperson (even a removed one), closed with the reason.
          expect({ label, id: period.salesperson.id, reason: period.unbindReason, closed: period.unboundAt !== null }).toEqual({ label, id: seller, reason, closed: true });
          const audit = await auditLog(api.baseUrl, shop, tokens['shop:owner'], { subjectId: id, action: 'customer.unbound' });
          expect(audit[0]?.changes).toEqual({ salesUserId: { from: seller, to: null }, reason: { to: reason } });
        }
        expect((await get('shop:owner', `/api/v1/customers?sales=${seller}`)).body.total).toBe(0);
      }
    });
  });

  describe('races', () => {
    it('keeps one current salesperson under concurrent reassignments, with periods that never overlap', async () => {
      const c = await createCustomer('shop:owner');
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => bind(c, i % 2 === 0 ? shop.users.sales1.id : shop.users.sales2.id)),
      );
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
      const { rows } = await system.query(
        `SELECT sales_user_id, bound_at, unbound_at FROM customer_bindings WHERE customer_id = $1 ORDER BY bound_at, unbound_at NULLS LAST`,
        [c],
      );
      expect(rows.filter((r) => r.unbound_at === null)).toHaveLength(1);
      for (let i = 1; i < rows.length; i++) {
        expect(rows[i - 1].unbound_at).not.toBeNull();
        expect(rows[i - 1].unbound_at.getTime()).toBeLessThanOrEqual(rows[i].bound_at.getTime());
        expect(rows[i - 1].sales_user_id).not.toBe(rows[i].sales_user_id);
      }
      const current = (await get('shop:owner', `/api/v1/customers/${c}`)).body.salesperson.id;
      expect(current).toBe(rows[rows.length - 1].sales_user_id);
    });

    it('never leaves a customer bound to a salesperson disabled while the bindings were being made', async () => {
      const seller = await resellerWithUsersIn(shop, { racer: ['sales'] });
      const customers = await Promise.all(Array.from({ length: 8 }, () => createCustomer('shop:owner')));
      const [disable, ...binds] = await Promise.all([
        send('shop:owner', 'POST', `/api/v1/tenants/${shop.id}/members/${seller}/disable`),
        ...customers.map((c) => bind(c, seller)),
      ]);
      expect(disable.status).toBe(200);
      for (const res of binds) expect([200, 409]).toContain(res.status);
      const { rows } = await system.query(`SELECT count(*)::int AS n FROM customer_bindings WHERE sales_user_id = $1 AND unbound_at IS NULL`, [seller]);
      expect(rows[0].n).toBe(0);
    });
  });

  describe('usage summaries', () => {
    let tenantDb: TenantDb;
    let usage: UsageRecordsRepository;
    let alpha: string;
    let beta: string;
    let gamma: string;
    let seller: string;
    let seller2: string;
    const day = (d: number) => new Date(Date.UTC(2026, 10, d, 12));
    const row = (customerId: string, createdAt: Date, model: string, retail: string, tenant = shop): UsageRecordInput => ({
      requestId: uuidv7(),
      tenantId: tenant.id,
      customerId,
      model,
      inputTokens: 1000,
      outputTokens: 200,
      cacheReadTokens: 100,
      retailCharge: retail,
      wholesaleCost: '0.001',
      upstreamCost: '0.0005',
      status: 'ok',
      latencyMs: 300,
      stream: false,
      createdAt,
    });
    const range = 'from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z';

    beforeAll(async () => {
      tenantDb = api.app.get(TenantDb);
      usage = api.app.get(UsageRecordsRepository);
      seller = await resellerWithUsersIn(shop, { usageSeller: ['sales'] });
      seller2 = await resellerWithUsersIn(shop, { usageSeller2: ['sales'] });
      tokens['shop:usageSeller'] = await tokenFor(seller);
      tokens['shop:usageSeller2'] = await tokenFor(seller2);
      [alpha, beta, gamma] = [await createCustomer('shop:owner'), await createCustomer('shop:owner'), await createCustomer('shop:owner')];
      await bind(alpha, seller);
      await bind(beta, seller2);
      // Backdate the periods: alpha belonged to seller2 until 10 Nov, to seller since.
      await system.query(`UPDATE customer_bindings SET bound_at = $2 WHERE customer_id = $1`, [alpha, day(10)]);
      await system.query(`INSERT INTO customer_bindings (tenant_id, customer_id, sales_user_id, bound_at, unbound_at, unbind_reason) VALUES ($1, $2, $3, $4, $5, 'reassigned')`, [
        shop.id,
        alpha,
        seller2,
        day(1),
        day(10),
      ]);
      await system.query(`UPDATE customer_bindings SET bound_at = $2 WHERE customer_id = $1`, [beta, day(1)]);
      await tenantDb.run({ tenantId: shop.id }, (m) =>
        usage.insertMany(m, [
          row(alpha, day(5), 'gpt-4o', '0.5'),
          row(alpha, day(15), 'gpt-4o', '1.25'),
          row(alpha, day(16), 'claude-3-5-sonnet', '0.25'),
          row(beta, day(15), 'gpt-4o', '2'),
          row(gamma, day(20), 'gpt-4o', '4'),
        ]),
      );
      const elsewhere = await createCustomer('other:owner', other);
      await tenantDb.run({ tenantId: other.id }, (m) => usage.insertMany(m, [row(elsewhere, day(15), 'gpt-4o', '100', other)]));

      async function tokenFor(userId: string): Promise<Tokens> {
        const { rows } = await system.query(`SELECT email FROM users WHERE id = $1`, [userId]);
        await system.query(`UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE id = $2) WHERE id = $1`, [userId, shop.users.owner.id]);
        shop.users[`u${userId}`] = { id: userId, email: rows[0].email, roles: ['sales'] };
        return signIn(api.baseUrl, shop, `u${userId}`);
      }
    });

    it("sums a salesperson's own customers only, and never an unbound or colleague's customer", async () => {
      const mine = await get('shop:usageSeller', `/api/v1/usage/summary?${range}`);
      expect(mine.status).toBe(200);
      // alpha's request of 5 Nov was seller2's (alpha was bound to seller2 then): not seller's.
      expect(mine.body.totals).toEqual({ requests: 2, inputTokens: 2000, outputTokens: 400, cacheReadTokens: 200, cacheWriteTokens: 0, spend: '1.500000000' });
      expectProblem(await get('shop:usageSeller', `/api/v1/customers/${gamma}/usage?${range}`), 404, 'not_found');
      expectProblem(await get('shop:usageSeller', `/api/v1/customers/${beta}/usage?${range}`), 404, 'not_found');
      const byModel = await get('shop:usageSeller', `/api/v1/customers/${alpha}/usage?${range}&groupBy=model`);
      expect(byModel.body.groups.map((g: any) => [g.key, g.requests, g.spend])).toEqual([
        ['claude-3-5-sonnet', 1, '0.250000000'],
        ['gpt-4o', 1, '1.250000000'],
      ]);
      const byDay = await get('shop:usageSeller', `/api/v1/customers/${alpha}/usage?${range}&groupBy=day`);
      expect(byDay.body.groups.map((g: any) => g.key)).toEqual(['2026-11-15', '2026-11-16']);
      const view = await get('shop:usageSeller', `/api/v1/customers/${alpha}`);
      expect(view.body.usageLast30Days).toHaveProperty('spend');
    });

    it('gives owner and finance the whole tenant, grouped by the salesperson of each request\'s time', async () => {
      for (const who of ['shop:owner', 'shop:finance']) {
        const res = await get(who, `/api/v1/usage/summary?${range}&groupBy=sales`);
        expect(res.body.totals).toMatchObject({ requests: 5, spend: '8.000000000', wholesaleCost: '0.005000000' });
        expect(res.body.totals).not.toHaveProperty('upstreamCost');
        const bySales = Object.fromEntries(res.body.groups.map((g: any) => [g.key, g.spend]));
        // alpha's request of 5 Nov belongs to seller2, who held alpha then.
        expect(bySales).toEqual({ [seller]: '1.500000000', [seller2]: '2.500000000', null: '4.000000000' });
        expect(res.body.groups.find((g: any) => g.key === seller).label).toMatch(/^usageseller\./i);
      }
    });

    it('shows a salesperson no wholesale cost, and a range over 400 days is refused', async () => {
      const mine = await get('shop:usageSeller', `/api/v1/usage/summary?${range}`);
      expect(mine.body.totals).not.toHaveProperty('wholesaleCost');
      expectProblem(await get('shop:owner', '/api/v1/usage/summary?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z'), 400, 'invalid_range');
    });

    it('credits each request to the salesperson of its time: a re-bind moves no past request', async () => {
      // gamma's request of 20 Nov happened while gamma was unbound: binding gamma now gives it to nobody.
      await bind(gamma, seller);
      expect((await get('shop:usageSeller', `/api/v1/usage/summary?${range}`)).body.totals.spend).toBe('1.500000000');
      await send('shop:owner', 'DELETE', `/api/v1/customers/${gamma}/sales`);
      expect((await get('shop:usageSeller', `/api/v1/usage/summary?${range}`)).body.totals.spend).toBe('1.500000000');
      // seller2 keeps alpha's request of 5 Nov and beta's.
      expect((await get('shop:usageSeller2', `/api/v1/usage/summary?${range}`)).body.totals.spend).toBe('2.500000000');
    });

    it('keeps the tenant scope when CASL is forced to allow everything (RLS alone)', async () => {
      const permissions = ALL_PERMISSIONS as PermissionDefinition[];
      const allowEverything: PermissionDefinition = (_principal, { can }) => can('manage', 'all');
      permissions.push(allowEverything);
      try {
        // A salesperson now passes every CASL check, yet reaches only their own tenant's rows.
        const sum = await get('shop:usageSeller', `/api/v1/usage/summary?${range}`);
        expect(sum.body.totals.spend).toBe('8.000000000');
        const list = await get('shop:usageSeller', '/api/v1/customers?pageSize=100');
        const owners = await get('shop:owner', '/api/v1/customers?pageSize=100');
        expect(list.body.total).toBe(owners.body.total);
        const theirs = await get('other:owner', '/api/v1/customers?pageSize=100', other);
        for (const id of ids(theirs)) {
          expect((await get('shop:usageSeller', `/api/v1/customers/${id}`)).status).toBe(404);
          expect((await send('shop:usageSeller', 'PATCH', `/api/v1/customers/${id}`, { displayName: 'x' })).status).toBe(404);
          expect((await send('shop:owner', 'PUT', `/api/v1/customers/${id}/sales`, { salesUserId: shop.users.sales1.id })).status).toBe(404);
        }
        expect(ids(list).some((id) => ids(theirs).includes(id))).toBe(false);
        const bulk = await send('shop:owner', 'POST', '/api/v1/customers/bindings', { items: ids(theirs).map((customerId) => ({ customerId, salesUserId: null })) });
        expect(bulk.body.results.every((r: any) => r.code === 'not_found')).toBe(true);
      } finally {
        permissions.splice(permissions.indexOf(allowEverything), 1);
      }
    });
  });

  describe('platform sales and reseller tenants', () => {
    let platform: TestTenant;
    let bound: TestTenant;
    let unboundReseller: TestTenant;
    let tenantDb: TenantDb;
    let usage: UsageRecordsRepository;

    beforeAll(async () => {
      platform = await platformWithUsers(system, { owner: ['owner'], operator: ['operator'], sales: ['sales'], finance: ['finance'], tech: ['tech'] });
      bound = await resellerWithUsers(system, { owner: ['owner'], user: ['user'] });
      unboundReseller = await resellerWithUsers(system, { owner: ['owner'], user: ['user'] });
      for (const name of Object.keys(platform.users)) tokens[`platform:${name}`] = await signIn(api.baseUrl, platform, name);
      tenantDb = api.app.get(TenantDb);
      usage = api.app.get(UsageRecordsRepository);
      for (const [tenant, retail] of [[bound, '3'], [unboundReseller, '7']] as const) {
        await tenantDb.run({ tenantId: tenant.id }, (m) =>
          usage.insertMany(m, [
            {
              requestId: uuidv7(),
              tenantId: tenant.id,
              customerId: tenant.users.user.id,
              model: 'gpt-4o',
              inputTokens: 10,
              outputTokens: 5,
              retailCharge: retail,
              wholesaleCost: '1',
              upstreamCost: '0.5',
              status: 'ok',
              latencyMs: 100,
              stream: true,
              createdAt: new Date(Date.UTC(2026, 10, 20)),
            },
          ]),
        );
      }
    });

    const tenantsApi = (who: string, tenantId: string, suffix = '') => get(`platform:${who}`, `/api/v1/tenants/${tenantId}${suffix}`, platform);

    it('lets platform owner and operator bind a reseller; nobody else', async () => {
      expectProblem(await send('platform:finance', 'PUT', `/api/v1/tenants/${bound.id}/sales`, { salesUserId: platform.users.sales.id }, platform), 403, 'forbidden');
      expectProblem(await send('platform:sales', 'PUT', `/api/v1/tenants/${bound.id}/sales`, { salesUserId: platform.users.sales.id }, platform), 403, 'forbidden');
      expectProblem(await send('other:owner', 'PUT', `/api/v1/tenants/${other.id}/sales`, { salesUserId: other.users.sales.id }, other), 403, 'forbidden');
      expectProblem(await send('platform:owner', 'PUT', `/api/v1/tenants/${bound.id}/sales`, { salesUserId: platform.users.tech.id }, platform), 422, 'not_a_salesperson');
      expectProblem(await send('platform:owner', 'PUT', `/api/v1/tenants/${bound.id}/sales`, { salesUserId: other.users.sales.id }, platform), 422, 'salesperson_not_found');
      expectProblem(await send('platform:owner', 'PUT', `/api/v1/tenants/${platform.id}/sales`, { salesUserId: platform.users.sales.id }, platform), 422, 'not_a_reseller');
      expectProblem(await send('platform:owner', 'PUT', `/api/v1/tenants/${uuidv7()}/sales`, { salesUserId: platform.users.sales.id }, platform), 404, 'not_found');
      // Before binding the salesperson sees nothing of the reseller.
      expect((await tenantsApi('sales', bound.id)).status).toBe(403);
      const res = await send('platform:operator', 'PUT', `/api/v1/tenants/${bound.id}/sales`, { salesUserId: platform.users.sales.id }, platform);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resellerId: bound.id, salesperson: { id: platform.users.sales.id } });
    });

    it("shows a bound platform salesperson the reseller's record and aggregates, never an unbound reseller or anyone's personal data", async () => {
      expect((await tenantsApi('sales', bound.id)).status).toBe(200);
      expectProblem(await tenantsApi('sales', unboundReseller.id), 404, 'not_found');
      const list = await get('platform:sales', '/api/v1/tenants?pageSize=100', platform);
      expect(ids(list)).toEqual([bound.id]);
      const sum = await get('platform:sales', '/api/v1/usage/summary?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&groupBy=tenant', platform);
      expect(sum.body.totals).toMatchObject({ requests: 1, spend: '3.000000000' });
      expect(sum.body.groups).toEqual([expect.objectContaining({ key: bound.id, label: bound.slug, spend: '3.000000000' })]);
      expect(sum.body.totals).not.toHaveProperty('upstreamCost');
      expect((await tenantsApi('sales', bound.id, '/members')).status).toBe(403);
      expect((await tenantsApi('sales', bound.id, '/sales')).status).toBe(200);
      expect((await tenantsApi('sales', unboundReseller.id, '/sales')).status).toBe(404);
      // Customers are per tenant: the reseller's customers are not the salesperson's.
      expect((await get('platform:sales', `/api/v1/customers/${bound.users.user.id}`, platform)).status).toBe(404);
      // Platform finance sees every tenant's usage, including upstream cost.
      const finance = await get('platform:finance', `/api/v1/usage/summary?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&tenantId=${unboundReseller.id}`, platform);
      expect(finance.body.totals).toMatchObject({ spend: '7.000000000', upstreamCost: '0.500000000' });
    });

    it('still hides unbound resellers when CASL is forced to allow everything (RLS alone)', async () => {
      const permissions = ALL_PERMISSIONS as PermissionDefinition[];
      const allowEverything: PermissionDefinition = (_principal, { can }) => can('manage', 'all');
      permissions.push(allowEverything);
      try {
        expect((await tenantsApi('sales', unboundReseller.id)).status).toBe(404);
        expect((await tenantsApi('sales', unboundReseller.id, '/members')).status).toBe(404);
        const list = await get('platform:sales', '/api/v1/tenants?pageSize=100', platform);
        expect(ids(list)).not.toContain(unboundReseller.id);
        const sum = await get('platform:sales', `/api/v1/usage/summary?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&tenantId=${unboundReseller.id}`, platform);
        expect(sum.body.totals.requests).toBe(0);
      } finally {
        permissions.splice(permissions.indexOf(allowEverything), 1);
      }
    });

    it('takes the reseller away on the next request once unbound (or the salesperson is disabled)', async () => {
      expect((await send('platform:owner', 'DELETE', `/api/v1/tenants/${bound.id}/sales`, undefined, platform)).status).toBe(204);
      expectProblem(await tenantsApi('sales', bound.id), 403, 'forbidden');
      const history = await get('platform:owner', `/api/v1/tenants/${bound.id}/sales`, platform);
      expect(history.body).toMatchObject({ salesperson: null, history: [{ salesperson: { id: platform.users.sales.id }, unbindReason: 'unbound' }] });

      await send('platform:owner', 'PUT', `/api/v1/tenants/${bound.id}/sales`, { salesUserId: platform.users.sales.id }, platform);
      expect((await tenantsApi('sales', bound.id)).status).toBe(200);
      const seller = await platformWithUsers(system, { seller: ['sales'] });
      await send('platform:owner', 'PUT', `/api/v1/tenants/${unboundReseller.id}/sales`, { salesUserId: seller.users.seller.id }, platform);
      expect((await send('platform:owner', 'POST', `/api/v1/tenants/${platform.id}/members/${seller.users.seller.id}/disable`, undefined, platform)).status).toBe(200);
      const after = await get('platform:owner', `/api/v1/tenants/${unboundReseller.id}/sales`, platform);
      expect(after.body).toMatchObject({ salesperson: null, history: [{ unbindReason: 'salesperson_disabled' }] });
    });
  });
});
