import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { SYSTEM_CONNECTION } from '@app/database';
import { TenantDb } from '@app/tenancy';
import { CoreModule } from '../../src/core.module';
import { UsageRecordInput, UsageRecordsRepository } from '../../src/modules/usage/usage-records.repository';
import { testConfig } from '../support/app';
import { connectAs, SeededTenant, seedTenant } from '../support/db';

/**
 * usage_records through the repository the metering pipeline uses: exactly once under
 * redelivery (sequential and concurrent), RLS per tenant, and monthly partitions created ahead
 * with rows parked in the default partition moved into their month.
 */
describe('usage records (repository, real PostgreSQL)', () => {
  let context: INestApplicationContext;
  let tenantDb: TenantDb;
  let systemSource: DataSource;
  let system: Client;
  let admin: Client;
  let a: SeededTenant;
  let b: SeededTenant;
  const repository = new UsageRecordsRepository();

  const record = (tenant: SeededTenant, overrides: Partial<UsageRecordInput> = {}): UsageRecordInput => ({
    requestId: uuidv7(),
    tenantId: tenant.id,
    customerId: tenant.userId,
    model: 'gpt-4o-mini',
    inputTokens: 100,
    outputTokens: 50,
    cacheReadTokens: 10,
    retailCharge: '0.000123456',
    wholesaleCost: '0.0001',
    upstreamCost: '0.00005',
    status: 'ok',
    latencyMs: 420,
    ttftMs: 80,
    stream: true,
    clientIp: '203.0.113.7',
    createdAt: new Date(),
    ...overrides,
  });

  beforeAll(async () => {
    [system, admin] = await Promise.all([connectAs('system'), connectAs('admin')]);
    [a, b] = [await seedTenant(system), await seedTenant(system)];
    context = await NestFactory.createApplicationContext(CoreModule.forProcess('cli', testConfig()), { logger: false });
    tenantDb = context.get(TenantDb);
    systemSource = context.get<DataSource>(getDataSourceToken(SYSTEM_CONNECTION));
  });

  afterAll(async () => {
    await context?.close();
    await Promise.all([system?.end(), admin?.end()]);
  });

  it('inserts a batch once: a replayed batch, or the same batch twice at the same time, adds nothing', async () => {
    const batch = [record(a), record(a), record(a, { status: 'error', errorCode: 'upstream_timeout', stream: false, clientIp: null })];
    const first = await tenantDb.run({ tenantId: a.id }, (m) => repository.insertMany(m, batch));
    expect(first.sort()).toEqual(batch.map((r) => r.requestId).sort());
    expect(await tenantDb.run({ tenantId: a.id }, (m) => repository.insertMany(m, batch))).toEqual([]);

    const concurrent = [record(a), record(a)];
    const results = await Promise.all([1, 2, 3].map(() => tenantDb.run({ tenantId: a.id }, (m) => repository.insertMany(m, concurrent))));
    expect(results.flat().sort()).toEqual(concurrent.map((r) => r.requestId).sort());

    const { rows } = await system.query(`SELECT count(*)::int AS n, sum(retail_charge)::text AS spend FROM usage_records WHERE request_id = ANY($1)`, [
      [...batch, ...concurrent].map((r) => r.requestId),
    ]);
    expect(rows[0]).toEqual({ n: 5, spend: '0.000617280' });
  });

  it('keeps every tenant to its own rows (RLS), for reads and writes', async () => {
    const mine = record(b);
    await tenantDb.run({ tenantId: b.id }, (m) => repository.insertMany(m, [mine]));
    const seenByA = await tenantDb.run({ tenantId: a.id }, (m) => m.query(`SELECT request_id FROM usage_records WHERE request_id = $1`, [mine.requestId]));
    expect(seenByA).toEqual([]);
    const seenByB = await tenantDb.run({ tenantId: b.id }, (m) => m.query(`SELECT request_id FROM usage_records WHERE request_id = $1`, [mine.requestId]));
    expect(seenByB).toHaveLength(1);
    // Writing a row of another tenant is refused by the policy, not silently dropped.
    await expect(tenantDb.run({ tenantId: a.id }, (m) => repository.insertMany(m, [record(b)]))).rejects.toThrow(/row-level security/);
  });

  it('creates monthly partitions ahead and moves rows that waited in the default partition', async () => {
    // A month far in the future has no partition: its row waits in the default partition.
    const future = new Date(Date.UTC(2031, 6, 15, 12));
    const early = record(a, { createdAt: future });
    await tenantDb.run({ tenantId: a.id }, (m) => repository.insertMany(m, [early]));
    const where = async () =>
      (await admin.query(`SELECT tableoid::regclass::text AS part FROM usage_records WHERE request_id = $1`, [early.requestId])).rows[0].part;
    expect(await where()).toBe('usage_records_default');

    const created = await systemSource.transaction((m) => repository.ensurePartitions(m, future, 1));
    expect(created).toBe(2);
    expect(await where()).toBe('usage_records_203107');
    expect(await systemSource.transaction((m) => repository.ensurePartitions(m, future, 1))).toBe(0);

    // The new partition is as locked down as its parent, and a redelivery still finds the row.
    const { rows } = await admin.query(
      `SELECT relrowsecurity, relforcerowsecurity, (SELECT count(*)::int FROM pg_policies WHERE tablename = 'usage_records_203107') AS policies
         FROM pg_class WHERE relname = 'usage_records_203107'`,
    );
    expect(rows[0]).toEqual({ relrowsecurity: true, relforcerowsecurity: true, policies: 5 });
    expect(await tenantDb.run({ tenantId: a.id }, (m) => repository.insertMany(m, [early]))).toEqual([]);
  });

  it('is not callable by the application role (partitions are created by the scheduler as the system role)', async () => {
    await expect(
      tenantDb.run({ tenantId: a.id }, (m) => repository.ensurePartitions(m, new Date(Date.UTC(2032, 0, 1)), 0)),
    ).rejects.toThrow(/permission denied/);
  });
});
