import { Client } from 'pg';
import { UsageEvent } from '../../libs/billing/src';
import { fromUnits } from '../../libs/money/src';
import { UsageWriter } from '../../src/modules/metering/usage-writer';
import { StatementCloser } from '../../src/modules/settlement/statement-closer.service';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { isolatedDatabase } from '../support/db';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { isolatedRedisUrl } from '../support/redis';
import { utcDay } from '../support/statements';
import { usageEvent } from '../support/usage';

const HOUR = 3600_000;

/**
 * The open settlement period (GET /api/v1/statements/open): what the next statement will contain,
 * before it closes. Its figures are the closer's own: after the period closes, the statement holds
 * exactly what the open period showed; late records of a closed period show as corrections; who
 * may read it is who may read the tenant's statements.
 */
describe('open settlement period (e2e)', () => {
  let system: Client;
  let worker: RunningApp;
  let api: RunningApp;
  let closer: StatementCloser;
  let platform: TestTenant;
  let shop: TestTenant;
  let other: TestTenant;
  const tokens = new Map<string, string>();
  // The reseller exists since two days ago: its first period (a day) is closed below.
  const first = utcDay(2);
  const second = utcDay(1);

  beforeAll(async () => {
    const urls = await isolatedDatabase();
    const overrides = { ...urls, REDIS_URL: await isolatedRedisUrl(), SETTLEMENT_ENABLED: 'false', METERING_ENABLED: 'false', SETTLEMENT_PERIOD: 'day' };
    system = new Client({ connectionString: urls.DATABASE_SYSTEM_URL });
    await system.connect();
    platform = await platformWithUsers(system, { finance: ['finance'], sales: ['sales'] });
    shop = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'], operator: ['operator'], sales: ['sales'], user: ['user'], s1: ['sales'], c1: ['user'], c2: ['user'] });
    other = await resellerWithUsers(system, { owner: ['owner'] });
    await system.query(`UPDATE tenants SET created_at = $2 WHERE id = $1`, [shop.id, new Date(first.getTime() + HOUR).toISOString()]);
    await system.query(`INSERT INTO customer_bindings (tenant_id, customer_id, sales_user_id, bound_at) VALUES ($1, $2, $3, $4)`, [
      shop.id, shop.users.c1.id, shop.users.s1.id, first.toISOString(),
    ]);
    [worker, api] = await Promise.all([startTestWorker(overrides), startTestApi(overrides)]);
    closer = worker.app.get(StatementCloser, { strict: false });
    for (const name of ['owner', 'finance', 'operator', 'sales', 'user']) tokens.set(name, (await signIn(api.baseUrl, shop, name)).accessToken);
    tokens.set('other', (await signIn(api.baseUrl, other, 'owner')).accessToken);
    tokens.set('platform-finance', (await signIn(api.baseUrl, platform, 'finance')).accessToken);
    tokens.set('platform-sales', (await signIn(api.baseUrl, platform, 'sales')).accessToken);
  });

  afterAll(async () => {
    await api?.close();
    await worker?.close();
    await system?.end();
  });

  const meter = (events: UsageEvent[]) => worker.app.get(UsageWriter, { strict: false }).write(shop.id, events);
  const open = (who: string, query = '') =>
    call(api.baseUrl, 'GET', `/api/v1/statements/open${query}`, { host: who.startsWith('platform') ? platform.domain : who === 'other' ? other.domain : shop.domain, token: tokens.get(who) });
  const event = (customer: string, at: number, model: string, retail: number, wholesale: number) =>
    usageEvent({ tenantId: shop.id, customerId: shop.users[customer].id, createdAt: at, model, retailUnits: String(retail), wholesaleUnits: String(wholesale), upstreamUnits: '100' });

  it('shows the usage not yet on a statement, by model and by salesperson, and the statement then holds exactly that', async () => {
    const t = first.getTime();
    await meter([event('c1', t + 2 * HOUR, 'gpt-a', 3_000_000_000, 2_000_000_000), event('c2', t + 3 * HOUR, 'gpt-b', 1_000_000_000, 400_000_000)]);

    const before = await open('finance');
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({
      tenantId: shop.id,
      periodKind: 'day',
      periodStart: first.toISOString(),
      periodEnd: second.toISOString(),
      includesLaterPeriods: true,
      totals: { requests: 2, retailRevenue: '4.000000000', wholesaleCost: '2.400000000', margin: '1.600000000' },
      settledMargin: '1.600000000',
    });
    expect(before.body.totals.upstreamCost).toBeUndefined();
    const models = before.body.lines.filter((l: { kind: string }) => l.kind === 'model');
    expect(models.map((l: { model: string; margin: string }) => [l.model, l.margin])).toEqual([
      ['gpt-a', '1.000000000'],
      ['gpt-b', '0.600000000'],
    ]);
    const sales = before.body.lines.filter((l: { kind: string }) => l.kind === 'sales');
    expect(sales.map((l: { salesUserId: string | null; salesEmail: string | null; retailRevenue: string }) => [l.salesUserId, l.salesEmail, l.retailRevenue])).toEqual([
      [shop.users.s1.id, shop.users.s1.email, '3.000000000'],
      [null, null, '1.000000000'],
    ]);

    // The period closes: its statement holds what the open period showed, and the open period moves on.
    const closed = await closer.closePeriod(shop.id, first, 'day');
    const statement = await call(api.baseUrl, 'GET', `/api/v1/statements/${closed.id}`, { host: shop.domain, token: tokens.get('finance') });
    expect(statement.body.totals).toEqual(before.body.totals);
    expect(statement.body.settledMargin).toBe(before.body.settledMargin);
    const after = await open('finance');
    expect(after.body).toMatchObject({ periodStart: second.toISOString(), totals: { requests: 0, retailRevenue: '0.000000000' }, settledMargin: '0.000000000' });
  });

  it('counts late records of a closed period as corrections of the next statement', async () => {
    const t = first.getTime();
    await meter([event('c2', t + 5 * HOUR, 'gpt-a', 500_000_000, 200_000_000), event('c1', second.getTime() + HOUR, 'gpt-a', 2_000_000_000, 1_500_000_000)]);
    const body = (await open('owner')).body;
    expect(body.totals).toMatchObject({ requests: 1, retailRevenue: '2.000000000', margin: '0.500000000' });
    expect(body.corrections).toMatchObject({ requests: 1, retailRevenue: '0.500000000', margin: '0.300000000' });
    expect(body.corrections.correctedStatementIds).toHaveLength(1);
    expect(body.settledMargin).toBe(fromUnits(800_000_000n));
  });

  it('is read by whoever reads the tenant statements, and refused to everyone else', async () => {
    expect((await open('owner')).status).toBe(200);
    for (const who of ['operator', 'sales', 'user']) expect([who, (await open(who)).status]).toEqual([who, 403]);
    // Another reseller's owner cannot name this tenant; the platform's finance can, and sees upstream cost.
    expect((await open('other', `?tenantId=${shop.id}`)).status).toBe(404);
    const platformView = await open('platform-finance', `?tenantId=${shop.id}`);
    expect(platformView.status).toBe(200);
    expect(platformView.body.totals.upstreamCost).toBe('0.000000100');
    expect(platformView.body.lines.find((l: { kind: string }) => l.kind === 'sales').salesEmail).toBeNull();
    expect((await open('platform-sales', `?tenantId=${shop.id}`)).status).toBe(403);
    expect((await open('finance', '?tenantId=not-a-uuid')).status).toBe(400);
  });
});
