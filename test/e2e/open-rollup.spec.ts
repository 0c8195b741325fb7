import { Client } from 'pg';
import { fromUnits, toUnits } from '../../libs/money/src';
import { RunningApp, startTestApi } from '../support/app';
import { isolatedDatabase } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { isolatedRedisUrl } from '../support/redis';

/**
 * The rollup of the open period (GET /api/v1/statements/rollup/open): before any statement of the
 * current day, week or month has closed, the platform's owner and finance see what the period
 * holds so far, across every tenant and per tenant, summed exactly from the usage records of the
 * period (and none of an earlier one). Nobody else reads it. A database of its own, so the sums
 * are of this file's records only.
 */
describe('rollup of the open period (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let platform: TestTenant;
  let shop: TestTenant;
  let other: TestTenant;

  const record = (tenant: TestTenant, customer: string, createdAt: Date, retail: string, wholesale: string, upstream: string) =>
    system.query(
      `INSERT INTO usage_records (request_id, tenant_id, customer_id, model, retail_charge, wholesale_cost, upstream_cost, status, created_at)
       VALUES (gen_random_uuid(), $1, $2, 'gpt-a', $3::numeric, $4::numeric, $5::numeric, 'ok', $6)`,
      [tenant.id, tenant.users[customer].id, retail, wholesale, upstream, createdAt.toISOString()],
    );

  beforeAll(async () => {
    const urls = await isolatedDatabase();
    system = new Client({ connectionString: urls.DATABASE_SYSTEM_URL });
    await system.connect();
    platform = await platformWithUsers(system, { owner: ['owner'], finance: ['finance'], operator: ['operator'], tech: ['tech'], sales: ['sales'], direct: ['user'] });
    shop = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'], c: ['user'] });
    other = await resellerWithUsers(system, { c: ['user'] });
    api = await startTestApi({ ...urls, REDIS_URL: await isolatedRedisUrl(), SETTLEMENT_ENABLED: 'false', METERING_ENABLED: 'false' });

    const now = new Date();
    const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    await record(shop, 'c', now, '1.250000001', '0.8', '0.3');
    await record(shop, 'c', now, '2', '1.1', '0.45');
    await record(other, 'c', now, '0.5', '0.4', '0.1');
    await record(platform, 'direct', now, '3', '0', '1.2');
    // Before today: not in the open day.
    await record(shop, 'c', new Date(today.getTime() - 60_000), '100', '90', '80');
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  const as = async (tenant: TestTenant, user: string) => ({ host: tenant.domain, token: (await signIn(api.baseUrl, tenant, user)).accessToken });

  it("sums the open day so far for platform owner and finance, across every tenant and per tenant, without the day before's records", async () => {
    for (const user of ['owner', 'finance']) {
      const res = await call(api.baseUrl, 'GET', '/api/v1/statements/rollup/open?periodKind=day', await as(platform, user));
      expect([res.status, res.text]).toEqual([200, expect.any(String)]);
      const start = new Date(res.body.periodStart);
      expect(res.body).toMatchObject({
        periodKind: 'day',
        tenants: 3,
        requests: 4,
        resellerRetail: '3.750000001',
        resellerWholesale: '2.300000000',
        platformDirectRetail: '3.000000000',
        upstreamCost: '2.050000000',
        // wholesale from resellers + direct retail - upstream
        platformMargin: fromUnits(toUnits('2.3') + toUnits('3') - toUnits('2.05')),
      });
      expect(start.getUTCHours() + start.getUTCMinutes()).toBe(0);
      expect(new Date(res.body.periodEnd).getTime() - start.getTime()).toBe(24 * 3600 * 1000);
      const byTenant = Object.fromEntries((res.body.byTenant as Array<{ tenantId: string }>).map((t) => [t.tenantId, t]));
      expect(byTenant[shop.id]).toEqual({
        tenantId: shop.id,
        tenantSlug: shop.slug,
        tenantType: 'reseller',
        requests: 2,
        retail: '3.250000001',
        wholesale: '1.900000000',
        upstreamCost: '0.750000000',
        margin: '1.350000001',
      });
      expect(byTenant[platform.id]).toMatchObject({ tenantType: 'platform', retail: '3.000000000', wholesale: '0.000000000', margin: '1.800000000' });
      expect(byTenant[other.id]).toMatchObject({ requests: 1, margin: '0.100000000' });
    }
  });

  it('takes the month as the period too, which holds the day before unless the month began today', async () => {
    const res = await call(api.baseUrl, 'GET', '/api/v1/statements/rollup/open?periodKind=month', await as(platform, 'finance'));
    expect(res.status).toBe(200);
    const start = new Date(res.body.periodStart);
    expect(start.getUTCDate()).toBe(1);
    const monthBeganToday = new Date().getUTCDate() === 1;
    expect(res.body.requests).toBe(monthBeganToday ? 4 : 5);
  });

  it('refuses every other role, at the platform and at a reseller, and a period kind it does not know', async () => {
    for (const [tenant, user] of [
      [platform, 'operator'],
      [platform, 'tech'],
      [platform, 'sales'],
      [platform, 'direct'],
      [shop, 'owner'],
      [shop, 'finance'],
    ] as const) {
      const res = await call(api.baseUrl, 'GET', '/api/v1/statements/rollup/open?periodKind=day', await as(tenant, user));
      expect({ who: `${tenant.type}:${user}`, status: res.status }).toEqual({ who: `${tenant.type}:${user}`, status: 403 });
    }
    const bad = await call(api.baseUrl, 'GET', '/api/v1/statements/rollup/open?periodKind=year', await as(platform, 'owner'));
    expect(bad.status).toBe(400);
    expect((await call(api.baseUrl, 'GET', '/api/v1/statements/rollup/open?periodKind=day', { host: platform.domain })).status).toBe(401);
  });
});
