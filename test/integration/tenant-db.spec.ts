import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { ClsService } from 'nestjs-cls';
import { Client } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { MissingTenantScopeError, TenantContext, TenantDb, TenantScope } from '@app/tenancy';
import { CoreModule } from '../../src/core.module';
import { testConfig } from '../support/app';
import { connectAs, SeededTenant, seedTenant, uniqueSlug } from '../support/db';

/**
 * TenantDb, the one way to reach tenant data, through a real Nest context on the application role.
 * The pool has one connection, so "the same pooled connection" is not left to chance.
 */
describe('TenantDb (application role, one pooled connection)', () => {
  let context: INestApplicationContext;
  let tenantDb: TenantDb;
  let dataSource: DataSource;
  let cls: ClsService;
  let system: Client;
  let a: SeededTenant;
  let b: SeededTenant;

  const tenantIds = async (em: EntityManager, table: string, column = 'tenant_id') =>
    [...new Set((await em.query(`SELECT ${column} AS id FROM ${table}`)).map((r: { id: string }) => r.id))];

  beforeAll(async () => {
    system = await connectAs('system');
    [a, b] = [await seedTenant(system), await seedTenant(system)];
    context = await NestFactory.createApplicationContext(CoreModule.forProcess('cli', testConfig({ DATABASE_POOL_SIZE: '1' })), {
      logger: false,
    });
    tenantDb = context.get(TenantDb);
    dataSource = context.get<DataSource>(getDataSourceToken());
    cls = context.get(ClsService);
  });

  afterEach(() => jest.restoreAllMocks());

  afterAll(async () => {
    await context?.close();
    await system?.end();
  });

  it('sees only the rows of its scope', async () => {
    await tenantDb.run({ tenantId: a.id }, async (em) => {
      expect(await tenantIds(em, 'tenants', 'id')).toEqual([a.id]);
      expect(await tenantIds(em, 'tenant_domains')).toEqual([a.id]);
      expect(await tenantIds(em, 'users')).toEqual([a.id]);
      expect(await tenantIds(em, 'user_roles')).toEqual([a.id]);
    });
    await tenantDb.run({ tenantId: b.id }, async (em) => {
      expect(await tenantIds(em, 'users')).toEqual([b.id]);
    });
  });

  it('widens to the tenants in `also`, and no further', async () => {
    await tenantDb.run({ tenantId: a.id, also: [b.id] }, async (em) => {
      const seen = await em.query(`SELECT id FROM tenants WHERE id = ANY($1::uuid[])`, [[a.id, b.id]]);
      expect(seen).toHaveLength(2);
      expect((await tenantIds(em, 'tenants', 'id')).sort()).toEqual([a.id, b.id].sort());
    });
  });

  it('writes new rows to the acting tenant, and rolls back when the work fails', async () => {
    const kept = `kept-${uniqueSlug()}@example.test`;
    const dropped = `dropped-${uniqueSlug()}@example.test`;
    const [row] = await tenantDb.run({ tenantId: a.id }, (em) =>
      em.query(`INSERT INTO users (email) VALUES ($1) RETURNING tenant_id`, [kept]),
    );
    expect(row.tenant_id).toBe(a.id);
    await expect(
      tenantDb.run({ tenantId: a.id }, async (em) => {
        await em.query(`INSERT INTO users (email) VALUES ($1)`, [dropped]);
        throw new Error('the work failed');
      }),
    ).rejects.toThrow('the work failed');
    const { rows } = await system.query(`SELECT email FROM users WHERE email = ANY($1)`, [[kept, dropped]]);
    expect(rows).toEqual([{ email: kept }]);
  });

  it.each<[string, unknown]>([
    ['no scope', undefined],
    ['an undefined tenantId', { tenantId: undefined }],
    ['a tenantId that is not a UUID', { tenantId: 'not-a-uuid' }],
    ['an injection attempt', { tenantId: "00000000-0000-0000-0000-000000000000' OR true --" }],
    ['a bad id in `also`', { tenantId: '00000000-0000-7000-8000-000000000001', also: ['x'] }],
  ])('refuses %s before touching the database', async (_label, scope) => {
    const transaction = jest.spyOn(dataSource, 'transaction');
    const queryRunner = jest.spyOn(dataSource, 'createQueryRunner');
    const work = jest.fn();
    await expect(tenantDb.run(scope as TenantScope, work)).rejects.toThrow(MissingTenantScopeError);
    expect(work).not.toHaveBeenCalled();
    expect(transaction).not.toHaveBeenCalled();
    expect(queryRunner).not.toHaveBeenCalled();
  });

  it('shares the transaction with a nested run of the same scope', async () => {
    await tenantDb.run({ tenantId: a.id, also: [b.id] }, async (outer) => {
      const [{ txid: outerTx }] = await outer.query(`SELECT txid_current()::text AS txid`);
      // The same scope written differently (order of `also`) is still the same scope.
      await tenantDb.run({ tenantId: a.id, also: [b.id, a.id] }, async (inner) => {
        expect(inner).toBe(outer);
        const [{ txid }] = await inner.query(`SELECT txid_current()::text AS txid`);
        expect(txid).toBe(outerTx);
      });
    });
  });

  it('refuses a nested run with another scope', async () => {
    await tenantDb.run({ tenantId: a.id }, async () => {
      await expect(tenantDb.run({ tenantId: b.id }, async () => 'reached')).rejects.toThrow(MissingTenantScopeError);
      await expect(tenantDb.run({ tenantId: a.id, all: true }, async () => 'reached')).rejects.toThrow(MissingTenantScopeError);
    });
  });

  it('opens a fresh transaction for each run in the same request context', async () => {
    await cls.run(async () => {
      const first = await tenantDb.run({ tenantId: a.id }, (em) => em.query(`SELECT txid_current()::text AS txid`));
      const second = await tenantDb.run({ tenantId: b.id }, (em) => em.query(`SELECT txid_current()::text AS txid`));
      expect(second[0].txid).not.toBe(first[0].txid);
    });
  });

  it('forRequest fails closed without an authenticated scope, and uses it when there is one', async () => {
    const work = jest.fn();
    // Outside any request context, and inside one that has no scope.
    await expect(async () => tenantDb.forRequest(work)).rejects.toThrow(MissingTenantScopeError);
    await expect(cls.run(async () => tenantDb.forRequest(work))).rejects.toThrow(MissingTenantScopeError);
    expect(work).not.toHaveBeenCalled();

    const seen = await cls.run(async () => {
      context.get(TenantContext).setScope({ tenantId: b.id });
      return tenantDb.forRequest((em) => tenantIds(em, 'users'));
    });
    expect(seen).toEqual([b.id]);
  });

  it('leaves nothing behind on the pooled connection: the next query without a scope sees nothing', async () => {
    const [{ pid: scopedPid }] = await tenantDb.run({ tenantId: a.id, all: true }, async (em) => {
      expect((await em.query(`SELECT count(*)::int AS n FROM tenants`))[0].n).toBeGreaterThanOrEqual(2);
      return em.query(`SELECT pg_backend_pid() AS pid`);
    });
    const [{ pid }] = await dataSource.query(`SELECT pg_backend_pid() AS pid`);
    expect(pid).toBe(scopedPid);
    for (const table of ['tenants', 'tenant_domains', 'users', 'user_roles']) {
      const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM ${table}`);
      expect({ table, n }).toEqual({ table, n: 0 });
    }
    const [settings] = await dataSource.query(
      `SELECT NULLIF(current_setting('app.tenant_id', true), '') AS tenant, tenancy.current_tenant_id() AS acting`,
    );
    expect(settings).toEqual({ tenant: null, acting: null });
  });
});
