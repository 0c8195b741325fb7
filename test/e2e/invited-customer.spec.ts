import { Client } from 'pg';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { call } from '../support/http';
import { resellerWithUsers, signIn, TestTenant, Tokens } from '../support/identity';
import { expectProblem } from '../support/problem';

/**
 * One rule for a customer who was invited and never accepted (status `invited`): staff may credit
 * the wallet (a reseller often pre-funds), but keys are made only for active customers, and an
 * invited customer's key (one that predates the rule) cannot call /v1.
 */
describe('an invited customer (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let shop: TestTenant;
  const tokens: Record<string, Tokens> = {};
  const as = (who: string) => ({ host: shop.domain, token: tokens[who].accessToken });

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    shop = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'], sales: ['sales'], active: ['user'] });
    for (const name of ['owner', 'finance', 'sales']) tokens[name] = await signIn(api.baseUrl, shop, name);
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  async function invite(): Promise<string> {
    const res = await call(api.baseUrl, 'POST', '/api/v1/customers', { ...as('owner'), json: { email: `${uniqueSlug('inv')}@buyer.example` } });
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('invited');
    return res.body.id;
  }

  it('may be credited by staff before accepting, and the balance shows it', async () => {
    const customer = await invite();
    const credit = await call(api.baseUrl, 'POST', `/api/v1/customers/${customer}/credits`, {
      ...as('finance'),
      json: { amount: '25.00', note: 'pre-funded', reference: uniqueSlug('pre') },
    });
    expect(credit.status).toBe(200);
    const balance = await call(api.baseUrl, 'GET', `/api/v1/customers/${customer}/balance`, as('owner'));
    expect(balance.status).toBe(200);
    expect(Number(balance.body.balance)).toBe(25);
  });

  it('gets no key until active: 422 unknown_customer saying why, for every role that manages keys', async () => {
    const customer = await invite();
    for (const who of ['owner', 'sales']) {
      if (who === 'sales') {
        expect((await call(api.baseUrl, 'PUT', `/api/v1/customers/${customer}/sales`, { ...as('owner'), json: { salesUserId: shop.users.sales.id } })).status).toBe(200);
      }
      const res = await call(api.baseUrl, 'POST', '/api/v1/keys', { ...as(who), json: { name: 'too early', customerId: customer } });
      expectProblem(res, 422, 'unknown_customer');
      expect(res.body.title).toMatch(/active customer/);
      expect(res.body.errors).toEqual([{ field: 'customerId', messages: ['not an active customer: has not accepted the invitation yet'] }]);
    }
    const { rows } = await system.query(`SELECT count(*)::int AS n FROM api_keys WHERE customer_id = $1`, [customer]);
    expect(rows[0].n).toBe(0);
    // An active customer gets one.
    expect((await call(api.baseUrl, 'POST', '/api/v1/keys', { ...as('owner'), json: { name: 'fine', customerId: shop.users.active.id } })).status).toBe(201);
  });

  it('cannot call /v1 with a key that predates the rule (refused 403 account_not_active, in OpenAI\'s shape)', async () => {
    const made = await call(api.baseUrl, 'POST', '/api/v1/keys', { ...as('owner'), json: { name: 'legacy', customerId: shop.users.active.id } });
    expect(made.status).toBe(201);
    // The customer goes back to invited, as a customer keyed before the rule would be; the key is
    // used for the first time after that, so no cache holds the old status.
    await system.query(`UPDATE users SET status = 'invited' WHERE id = $1`, [shop.users.active.id]);
    try {
      const models = await call(api.baseUrl, 'GET', '/v1/models', { host: shop.domain, token: made.body.secret });
      expect(models.status).toBe(403);
      expect(models.body).toEqual({ error: { message: expect.stringMatching(/invitation/), type: 'permission_error', param: null, code: 'account_not_active' } });
      const chat = await call(api.baseUrl, 'POST', '/v1/chat/completions', {
        host: shop.domain,
        token: made.body.secret,
        json: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
      });
      expect(chat.status).toBe(403);
      expect(chat.body.error.code).toBe('account_not_active');
    } finally {
      await system.query(`UPDATE users SET status = 'active' WHERE id = $1`, [shop.users.active.id]);
    }
  });
});
