import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { TenantDb } from '@app/tenancy';
import { CoreModule } from '../../src/core.module';
import { freePort } from '../../scripts/local-infra';
import { testConfig } from '../support/app';
import { connectAs, SeededTenant, seedTenant } from '../support/db';
import { PgBouncer, startPgBouncer } from '../support/pgbouncer';

/**
 * PostgreSQL behind a real PgBouncer in transaction pooling mode with ONE server connection, so
 * every client shares it and consecutive transactions of one client may run on it between
 * another's: what the processes rely on must be transaction-local. Session state leaks there
 * (shown first), tenant scopes do not; transaction-level advisory locks serialise and are released
 * at commit; parameterised (unnamed prepared) statements work; a stock PgBouncer refuses the
 * statement_timeout startup parameter, and DATABASE_STATEMENT_TIMEOUT_MS=0 leaves it out.
 * (`npm run test:pgbouncer` runs the RLS, tenancy and metering specs through one as well.)
 */
describe('PostgreSQL through PgBouncer (transaction mode, one server connection)', () => {
  let bouncer: PgBouncer;
  let system: Client;
  let a: SeededTenant;
  let b: SeededTenant;
  let context: INestApplicationContext;
  const clients: Client[] = [];

  const connect = async (url: string, extra: Record<string, unknown> = {}) => {
    const client = new Client({ connectionString: url, ...extra });
    await client.connect();
    clients.push(client);
    return client;
  };
  const appUrl = () => bouncer.through(process.env.TEST_DIRECT_DATABASE_URL ?? process.env.DATABASE_URL!);

  beforeAll(async () => {
    system = await connectAs('system');
    [a, b] = [await seedTenant(system), await seedTenant(system)];
    // In the pgbouncer jest project DATABASE_URL already goes through one: this file starts its own.
    const direct = [process.env.TEST_DIRECT_DATABASE_URL ?? process.env.DATABASE_URL!];
    bouncer = await startPgBouncer({ port: await freePort(), urls: direct, poolSize: 1 });
    context = await NestFactory.createApplicationContext(
      CoreModule.forProcess('cli', testConfig({ DATABASE_URL: appUrl(), DATABASE_POOL_SIZE: '4', DATABASE_STATEMENT_TIMEOUT_MS: '0' })),
      { logger: false },
    );
  });

  afterAll(async () => {
    await context?.close();
    await Promise.allSettled(clients.map((c) => c.end()));
    await bouncer?.stop();
    await system?.end();
  });

  it('shares one server connection between clients: session state set by one is seen by another', async () => {
    const [first, second] = [await connect(appUrl()), await connect(appUrl())];
    const pid = async (c: Client) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    expect(await pid(first)).toBe(await pid(second));
    await first.query(`SET application_name = 'leaked-by-first'`);
    expect((await second.query('SHOW application_name')).rows[0].application_name).toBe('leaked-by-first');
    await first.query('RESET application_name');
  });

  it('keeps tenant scopes to their transaction while many interleave on the one connection', async () => {
    const tenantDb = context.get(TenantDb);
    const seen = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const tenant = i % 2 ? a : b;
        return tenantDb.run({ tenantId: tenant.id }, async (em) => {
          const rows: Array<{ tenant_id: string }> = await em.query('SELECT DISTINCT tenant_id FROM users');
          return { expected: tenant.id, seen: rows.map((r) => r.tenant_id) };
        });
      }),
    );
    for (const { expected, seen: ids } of seen) expect(ids).toEqual([expected]);
    // Another client on the same server connection, outside any scope, sees no tenant's rows: the
    // scopes ended with their transactions (a session-level setting would have stayed behind).
    const after = await connect(appUrl());
    expect((await after.query(`SELECT NULLIF(current_setting('app.tenant_id', true), '') AS scope`)).rows[0].scope).toBeNull();
    expect((await after.query('SELECT count(*)::int AS n FROM users')).rows[0].n).toBe(0);
  });

  it('releases transaction-level advisory locks at commit; a session-level one stays on the shared connection', async () => {
    const [first, second] = [await connect(appUrl()), await connect(appUrl())];
    const key = `settlement:${a.id}`;
    const heldAdvisoryLocks = async (c: Client) =>
      (await c.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`)).rows[0].n;
    await first.query('BEGIN');
    await first.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [key]);
    expect(await heldAdvisoryLocks(first)).toBe(1);
    await first.query('COMMIT');
    expect(await heldAdvisoryLocks(second)).toBe(0);
    // Why migrations (pg_advisory_lock) must connect straight to PostgreSQL, never through PgBouncer:
    await first.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [key]);
    expect(await heldAdvisoryLocks(second)).toBe(1);
    await first.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [key]);
    expect(await heldAdvisoryLocks(second)).toBe(0);
  });

  it('runs parameterised statements (unnamed prepared statements) from many clients at once', async () => {
    const many = await Promise.all(Array.from({ length: 5 }, () => connect(appUrl())));
    const perClient = await Promise.all(
      many.map(async (c, i) => {
        const ns: number[] = [];
        for (let j = 0; j < 10; j++) ns.push((await c.query<{ n: number }>('SELECT $1::int AS n, $2::text AS t', [i * 10 + j, `v${i}-${j}`])).rows[0].n);
        return ns;
      }),
    );
    expect(perClient.flat().sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, k) => k));
  });

  it('refuses a statement_timeout sent at connect time; DATABASE_STATEMENT_TIMEOUT_MS=0 sends none', async () => {
    await expect(connect(appUrl(), { statement_timeout: 15000 })).rejects.toThrow(/unsupported startup parameter/);
    const { postgresOptions } = await import('../../libs/database/src/data-source-options');
    const extra = (settings: number) => (postgresOptions({ url: appUrl(), poolSize: 1, statementTimeoutMs: settings, applicationName: 't' }) as { extra: Record<string, unknown> }).extra;
    expect(extra(0).statement_timeout).toBeUndefined();
    expect(extra(15000).statement_timeout).toBe(15000);
    const client = await connect(appUrl(), { statement_timeout: extra(0).statement_timeout });
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});
