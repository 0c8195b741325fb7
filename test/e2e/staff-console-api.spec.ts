import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant } from '../support/identity';

/**
 * The API the staff console's last pages stand on:
 * - a reseller with its domain and first owner in one transaction (POST /api/v1/tenants/onboard):
 *   every failure, even one after the tenant row was written, leaves nothing behind;
 * - the credits list (GET /api/v1/credits): manual credits and debits with note and author, scoped
 *   like wallets (the tenant's for owner and finance, bound customers' for a salesperson);
 * - whose requests the request records are: their own customers' e-mail for staff, the tenant's
 *   slug in the platform's view across resellers.
 */
describe('staff console API (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let platform: TestTenant;
  let shop: TestTenant;
  let rival: TestTenant;
  const tokens = new Map<string, string>();

  const as = (tenant: TestTenant, who: string) => ({ host: tenant.domain, token: tokens.get(`${tenant.slug}:${who}`)! });
  const req = (tenant: TestTenant, who: string, method: string, path: string, json?: unknown) => call(api.baseUrl, method, path, { ...as(tenant, who), json });

  beforeAll(async () => {
    system = await connectAs('system');
    api = await startTestApi();
    platform = await platformWithUsers(system, { owner: ['owner'], operator: ['operator'], tech: ['tech'] });
    shop = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'], sales1: ['sales'], sales2: ['sales'], c1: ['user'], c2: ['user'] });
    rival = await resellerWithUsers(system, { owner: ['owner'] });
    for (const t of [platform, shop, rival]) for (const name of Object.keys(t.users)) tokens.set(`${t.slug}:${name}`, (await signIn(api.baseUrl, t, name)).accessToken);
    for (const [customer, sales] of [['c1', 'sales1'], ['c2', 'sales2']]) {
      await system.query(`INSERT INTO customer_bindings (tenant_id, customer_id, sales_user_id) VALUES ($1, $2, $3)`, [shop.id, shop.users[customer].id, shop.users[sales].id]);
    }
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  describe('a reseller with its domain and first owner in one step', () => {
    const leftovers = async (slug: string, email: string) => {
      const tenants = await system.query(`SELECT id FROM tenants WHERE slug = $1`, [slug]);
      const users = await system.query(`SELECT id FROM users WHERE lower(email) = lower($1)`, [email]);
      return { tenants: tenants.rowCount, users: users.rowCount };
    };
    const onboarding = (slug: string, domain: string, email: string) => ({ slug, name: `Reseller ${slug}`, domains: [domain], owner: { email, displayName: 'First Owner' } });

    it('creates the tenant, its primary domain and the invited owner together', async () => {
      const slug = uniqueSlug('onb');
      const domain = `${slug}.example.test`;
      const email = `first.${slug}@example.test`;
      const res = await req(platform, 'owner', 'POST', '/api/v1/tenants/onboard', onboarding(slug, domain, email));
      expect([res.status, res.text]).toEqual([201, expect.any(String)]);
      expect(res.body.tenant).toMatchObject({ slug, type: 'reseller', status: 'active', domains: [{ domain, isPrimary: true }] });
      expect(res.body.owner).toMatchObject({ email, roles: ['owner'], status: 'invited' });
      const members = await req(platform, 'owner', 'GET', `/api/v1/tenants/${res.body.tenant.id}/members`);
      expect(members.body.items).toEqual([expect.objectContaining({ email, roles: ['owner'], status: 'invited' })]);
      const invitation = await system.query(`SELECT 1 FROM one_time_tokens WHERE user_id = $1 AND purpose = 'invitation'`, [res.body.owner.id]);
      expect(invitation.rowCount).toBe(1);
    });

    it('leaves nothing behind when the domain or the slug is taken', async () => {
      const slug = uniqueSlug('dup');
      const email = `owner.${slug}@example.test`;
      const taken = await req(platform, 'owner', 'POST', '/api/v1/tenants/onboard', onboarding(slug, shop.domain, email));
      expect([taken.status, taken.body.code]).toEqual([409, 'domain_taken']);
      expect(await leftovers(slug, email)).toEqual({ tenants: 0, users: 0 });

      const slugTaken = await req(platform, 'owner', 'POST', '/api/v1/tenants/onboard', onboarding(shop.slug, `${slug}.example.test`, email));
      expect(slugTaken.status).toBe(409);
      expect(await leftovers(slug, email)).toEqual({ tenants: 0, users: 0 });
      const domain = await system.query(`SELECT 1 FROM tenant_domains WHERE domain = $1`, [`${slug}.example.test`]);
      expect(domain.rowCount).toBe(0);
    });

    it('rolls the tenant back when the owner cannot be appointed (an operator appoints no owner)', async () => {
      // The operator may create tenants, so the tenant and its domain are written before the owner
      // is refused: only the shared transaction keeps them from staying behind.
      const slug = uniqueSlug('op');
      const email = `owner.${slug}@example.test`;
      const res = await req(platform, 'operator', 'POST', '/api/v1/tenants/onboard', onboarding(slug, `${slug}.example.test`, email));
      expect(res.status).toBe(403);
      expect(await leftovers(slug, email)).toEqual({ tenants: 0, users: 0 });
      const domain = await system.query(`SELECT 1 FROM tenant_domains WHERE domain = $1`, [`${slug}.example.test`]);
      expect(domain.rowCount).toBe(0);
    });

    it('wants a domain and an owner, and is the platform owner\'s alone', async () => {
      const slug = uniqueSlug('bad');
      const noOwner = await req(platform, 'owner', 'POST', '/api/v1/tenants/onboard', { slug, name: 'x', domains: [`${slug}.example.test`] });
      expect(noOwner.status).toBe(400);
      const noDomain = await req(platform, 'owner', 'POST', '/api/v1/tenants/onboard', { slug, name: 'x', owner: { email: `a.${slug}@example.test` } });
      expect(noDomain.status).toBe(400);
      const badMail = await req(platform, 'owner', 'POST', '/api/v1/tenants/onboard', { ...onboarding(slug, `${slug}.example.test`, 'not-an-email') });
      expect(badMail.status).toBe(400);
      for (const [tenant, who] of [[shop, 'owner'], [platform, 'tech']] as const) {
        const res = await req(tenant, who, 'POST', '/api/v1/tenants/onboard', onboarding(slug, `${slug}.example.test`, `a.${slug}@example.test`));
        expect({ who, status: res.status }).toEqual({ who, status: 403 });
      }
      expect(await leftovers(slug, `a.${slug}@example.test`)).toEqual({ tenants: 0, users: 0 });
    });
  });

  describe('the credits list', () => {
    beforeAll(async () => {
      const posts: Array<[string, string, string, string]> = [
        ['owner', 'c1', '25', 'welcome credit'],
        ['finance', 'c2', '10', 'goodwill for the outage'],
        ['finance', 'c2', '-3', 'refund of a double charge'],
      ];
      for (const [who, customer, amount, note] of posts) {
        const res = await req(shop, who, 'POST', `/api/v1/customers/${shop.users[customer].id}/credits`, { amount, note });
        expect([res.status, res.text]).toEqual([200, expect.any(String)]);
      }
    });

    it('shows finance and the owner every manual credit and debit of the tenant, with note and author', async () => {
      for (const who of ['finance', 'owner']) {
        const res = await req(shop, who, 'GET', '/api/v1/credits');
        expect({ who, status: res.status }).toEqual({ who, status: 200 });
        expect(res.body.total).toBe(3);
        expect(res.body.items.map((i: any) => [i.kind, i.amount, i.note, i.customer.email, i.createdBy?.email])).toEqual([
          ['debit', '-3.000000000', 'refund of a double charge', shop.users.c2.email, shop.users.finance.email],
          ['credit', '10.000000000', 'goodwill for the outage', shop.users.c2.email, shop.users.finance.email],
          ['credit', '25.000000000', 'welcome credit', shop.users.c1.email, shop.users.owner.email],
        ]);
      }
      const debits = await req(shop, 'finance', 'GET', '/api/v1/credits?kind=debit');
      expect(debits.body.items.map((i: any) => i.note)).toEqual(['refund of a double charge']);
      const searched = await req(shop, 'finance', 'GET', `/api/v1/credits?q=${encodeURIComponent('WELCOME')}`);
      expect(searched.body.items.map((i: any) => i.customer.id)).toEqual([shop.users.c1.id]);
      const paged = await req(shop, 'finance', 'GET', '/api/v1/credits?page=2&pageSize=2');
      expect([paged.body.total, paged.body.items.length, paged.body.page]).toEqual([3, 1, 2]);
    });

    it('shows a salesperson only their bound customers\' credits, and another tenant nothing of them', async () => {
      const sales1 = await req(shop, 'sales1', 'GET', '/api/v1/credits');
      expect(sales1.body.items.map((i: any) => i.customer.id)).toEqual([shop.users.c1.id]);
      const sales2 = await req(shop, 'sales2', 'GET', '/api/v1/credits');
      expect(sales2.body.items.map((i: any) => i.customer.id)).toEqual([shop.users.c2.id, shop.users.c2.id]);
      const customer = await req(shop, 'c2', 'GET', '/api/v1/credits');
      expect(customer.body.items.map((i: any) => i.customer.id)).toEqual([shop.users.c2.id, shop.users.c2.id]);
      const outsider = await req(rival, 'owner', 'GET', `/api/v1/credits?customerId=${shop.users.c1.id}`);
      expect([outsider.status, outsider.body.total]).toEqual([200, 0]);
      // Platform tech reads no wallets at all.
      expect((await req(platform, 'tech', 'GET', '/api/v1/credits')).status).toBe(403);
    });
  });

  describe('whose requests the records are', () => {
    beforeAll(async () => {
      await system.query(
        `INSERT INTO usage_records (request_id, tenant_id, customer_id, model, upstream_model, input_tokens, output_tokens, retail_charge, wholesale_cost, upstream_cost,
                                    status, latency_ms, stream, created_at, http_request_id)
         VALUES ($1, $2, $3, 'gpt-4o', 'gpt-4o-2024', 10, 5, 0.01, 0.005, 0.002, 'ok', 100, false, now() - interval '1 minute', $4)`,
        [uuidv7(), shop.id, shop.users.c1.id, `req-${uniqueSlug('n')}`],
      );
    });

    it("names the tenant's own customer for its staff, and only the tenant's slug for the platform", async () => {
      const owner = await req(shop, 'owner', 'GET', '/api/v1/usage/records');
      expect(owner.body.items).toEqual([expect.objectContaining({ customerId: shop.users.c1.id, customerEmail: shop.users.c1.email })]);
      expect(owner.body.items[0].tenantSlug).toBeUndefined();
      const customer = await req(shop, 'c1', 'GET', '/api/v1/usage/records');
      expect(customer.body.items).toHaveLength(1);
      expect(customer.body.items[0].customerEmail).toBeUndefined();
      const tech = await req(platform, 'tech', 'GET', `/api/v1/platform/usage/records?tenantId=${shop.id}`);
      expect(tech.body.items).toEqual([expect.objectContaining({ customerId: shop.users.c1.id, tenantSlug: shop.slug })]);
      expect(tech.body.items[0].customerEmail).toBeUndefined();
    });
  });
});
