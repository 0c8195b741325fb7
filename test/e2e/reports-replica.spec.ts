import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { ReplicaDataSource } from '@app/tenancy';
import { DataSource } from 'typeorm';
import { RunningApp, startTestApi, testConfig } from '../support/app';
import { connectAs, isolatedDatabase } from '../support/db';
import { call } from '../support/http';
import { resellerWithUsers, signIn, TestTenant } from '../support/identity';

/**
 * DATABASE_REPLICA_URL: reports (usage records, summaries, top customers, the CSV export,
 * statements) read from the replica, with the tenant scope entered exactly as on the primary, so
 * row-level security holds there too; everything else stays on the primary. The embedded
 * PostgreSQL has no pg_basebackup, so the "replica" is a second, migrated database whose rows
 * differ from the primary's: what a report shows tells where it read.
 */
describe('reports on a read replica (e2e)', () => {
  let primary: Client;
  let replica: Client;
  let replicaUrls: Awaited<ReturnType<typeof isolatedDatabase>>;
  let api: RunningApp;
  let shop: TestTenant;
  let other: TestTenant;
  let token: string;
  const NOV = 'from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z';

  async function usage(db: Client, tenant: TestTenant, customerId: string, model: string, retail: string): Promise<void> {
    await db.query(
      `INSERT INTO usage_records (request_id, tenant_id, customer_id, model, input_tokens, output_tokens, retail_charge, status, latency_ms, created_at)
       VALUES ($1, $2, $3, $4, 10, 5, $5, 'ok', 100, '2026-11-10T12:00:00Z')`,
      [uuidv7(), tenant.id, customerId, model, retail],
    );
  }

  beforeAll(async () => {
    primary = await connectAs('system');
    replicaUrls = await isolatedDatabase();
    const systemUrl = new URL(process.env.DATABASE_SYSTEM_URL!);
    systemUrl.pathname = new URL(replicaUrls.DATABASE_URL).pathname;
    replica = new Client({ connectionString: systemUrl.toString() });
    await replica.connect();
    shop = await resellerWithUsers(primary, { owner: ['owner'], c1: ['user'] });
    other = await resellerWithUsers(primary, { owner: ['owner'], c9: ['user'] });
    // The primary and the "replica" disagree: each report must show the replica's rows only.
    await usage(primary, shop, shop.users.c1.id, 'model-on-primary', '1.000000000');
    await usage(replica, shop, shop.users.c1.id, 'model-on-replica', '2.500000000');
    await usage(replica, other, other.users.c9.id, 'other-tenant-model', '9.000000000');
    api = await startTestApi({ DATABASE_REPLICA_URL: replicaUrls.DATABASE_URL });
    token = (await signIn(api.baseUrl, shop, 'owner')).accessToken;
  });

  afterAll(async () => {
    await api?.close();
    await replica?.end();
    await primary?.end();
  });

  const get = (path: string) => call(api.baseUrl, 'GET', path, { host: shop.domain, token });

  it('lists, sums, ranks and exports usage from the replica, scoped to the caller\'s tenant', async () => {
    const records = await get(`/api/v1/usage/records?${NOV}`);
    expect(records.status).toBe(200);
    expect(records.body.items.map((i: { model: string }) => i.model)).toEqual(['model-on-replica']);

    const summary = await get(`/api/v1/usage/summary?${NOV}&groupBy=model`);
    expect(summary.status).toBe(200);
    expect(summary.body.groups.map((g: { key: string; spend: string }) => [g.key, g.spend])).toEqual([['model-on-replica', '2.500000000']]);
    expect(summary.body.totals.requests).toBe(1);

    const top = await get(`/api/v1/usage/top-customers?${NOV}`);
    expect(top.status).toBe(200);
    expect(top.body.items.map((i: { customerId: string }) => i.customerId)).toEqual([shop.users.c1.id]);

    const csv = await get(`/api/v1/usage/export.csv?${NOV}`);
    expect(csv.status).toBe(200);
    expect(csv.text).toContain('model-on-replica');
    expect(csv.text).not.toContain('model-on-primary');
    // Row-level security on the replica: the other tenant's rows are there, and never shown.
    for (const text of [records.text, summary.text, csv.text]) expect(text).not.toContain('other-tenant-model');
    expect((await replica.query(`SELECT count(*)::int AS n FROM usage_records WHERE tenant_id = $1`, [other.id])).rows[0].n).toBe(1);
  });

  it('reads statements there too, and everything else on the primary', async () => {
    const statements = await get('/api/v1/statements');
    expect(statements.status).toBe(200);
    expect(statements.body.items).toEqual([]);
    // Not a report: the customer list reads the primary (the replica has no users at all).
    expect((await replica.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n).toBe(0);
    const customers = await get('/api/v1/customers');
    expect(customers.status).toBe(200);
    expect(JSON.stringify(customers.body.items)).toContain(shop.users.c1.id);
  });

  it('refuses a replica URL whose role escapes row-level security', async () => {
    // The owner role (owns the tables, so RLS does not bind it) is refused when the pool opens.
    const owner = new ReplicaDataSource(testConfig({ DATABASE_REPLICA_URL: replicaUrls.DATABASE_ADMIN_URL }), api.app.get(DataSource));
    await expect(owner.onApplicationBootstrap()).rejects.toThrow(/DATABASE_REPLICA_URL/);
    expect(owner.dataSource).toBeNull();
  });
});
