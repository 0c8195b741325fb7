import { Client } from 'pg';
import { freePort } from '../../scripts/local-infra';
import { scaled } from '../support/timing';
import { PgBouncer, startPgBouncer } from '../support/pgbouncer';
import globalSetup from './global-setup';
import globalTeardown from './global-teardown';

declare global {
  // eslint-disable-next-line no-var
  var __AIGW_PGBOUNCER__: PgBouncer | undefined;
}

/**
 * The suite's PostgreSQL and Redis (global-setup, migrations included), then a PgBouncer in
 * transaction mode in front of PostgreSQL: DATABASE_URL and DATABASE_SYSTEM_URL (what api, worker
 * and cli use) go through it; DATABASE_ADMIN_URL and the superuser URL stay direct.
 */
export default async function pgbouncerGlobalSetup(): Promise<void> {
  await globalSetup();
  const direct = { app: process.env.DATABASE_URL!, system: process.env.DATABASE_SYSTEM_URL! };
  let bouncer: PgBouncer;
  try {
    bouncer = await startPgBouncer({ port: await freePort(), urls: [direct.app, direct.system] });
  } catch (error) {
    await globalTeardown(); // teardown does not run when setup fails
    throw error;
  }
  globalThis.__AIGW_PGBOUNCER__ = bouncer;
  // PgBouncer refuses the statement_timeout startup parameter: the processes send none, and the
  // roles carry the timeout instead (what the chart's README tells operators to do).
  process.env.DATABASE_STATEMENT_TIMEOUT_MS = '0';
  const superuser = new Client({ connectionString: process.env.TEST_DATABASE_SUPERUSER_URL });
  await superuser.connect();
  try {
    for (const role of ['aigateway_app', 'aigateway_system']) await superuser.query(`ALTER ROLE ${role} SET statement_timeout = ${scaled(15000)}`);
  } finally {
    await superuser.end();
  }
  process.env.TEST_DIRECT_DATABASE_URL = direct.app;
  process.env.DATABASE_URL = bouncer.through(direct.app);
  process.env.DATABASE_SYSTEM_URL = bouncer.through(direct.system);
  process.env.TEST_PGBOUNCER_PORT = String(bouncer.port);
  process.stderr.write(`[test] PgBouncer (transaction mode) on port ${bouncer.port} in front of PostgreSQL\n`);
}
