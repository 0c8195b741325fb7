import { DataSource } from 'typeorm';
import { ALL_MIGRATIONS } from '../../../migrations';
import { postgresOptions } from './data-source-options';

export interface MigrateOptions {
  adminUrl: string;
  /** Login URLs whose roles should be able to log in as the app and system roles. */
  loginUrls?: { app?: string; system?: string };
  log?: (line: string) => void;
}

const GROUP_ROLES = { app: 'aigateway_app', system: 'aigateway_system' } as const;

/**
 * Runs pending migrations as the owner role, then (when that role may manage roles) makes the
 * users of DATABASE_URL and DATABASE_SYSTEM_URL able to log in as the application and system roles.
 */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const log = options.log ?? (() => undefined);
  const dataSource = new DataSource({
    ...postgresOptions({ url: options.adminUrl, poolSize: 1, statementTimeoutMs: 0, applicationName: 'aigateway-migrate' }),
    migrations: ALL_MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
  });
  await dataSource.initialize();
  try {
    // One migrator at a time, whatever starts it (Helm hook, compose, a developer).
    await dataSource.query('SELECT pg_advisory_lock(1095321431, 2)');
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    for (const m of applied) log(`applied ${m.name}`);
    if (applied.length === 0) log('database schema is up to date');
    for (const kind of ['app', 'system'] as const) {
      const url = options.loginUrls?.[kind];
      if (url) await ensureLogin(dataSource, GROUP_ROLES[kind], url, log);
    }
    return applied.map((m) => m.name);
  } finally {
    await dataSource.destroy();
  }
}

async function ensureLogin(dataSource: DataSource, group: string, url: string, log: (line: string) => void): Promise<void> {
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  if (!user) return;
  const [me] = await dataSource.query(
    `SELECT rolsuper OR rolcreaterole AS manages FROM pg_roles WHERE rolname = current_user`,
  );
  const [existing] = await dataSource.query(
    `SELECT rolcanlogin AS login, rolsuper OR rolbypassrls AS unsafe, pg_has_role(rolname, $2, 'MEMBER') AS member
       FROM pg_roles WHERE rolname = $1`,
    [user, group],
  );
  if (existing?.unsafe) {
    throw new Error(`role "${user}" is a superuser or has BYPASSRLS; it must not be used as ${group}`);
  }
  if (!me?.manages) {
    if (!existing || !existing.member) {
      log(`cannot manage roles: make "${user}" a login role that is a member of ${group} (GRANT ${group} TO "${user}")`);
    }
    return;
  }
  // Identifiers and the password are quoted by the server's format(), not by string building.
  const statements: Array<[string, unknown[]]> = [];
  if (!existing) {
    statements.push([`SELECT format('CREATE ROLE %I LOGIN INHERIT NOSUPERUSER NOBYPASSRLS PASSWORD %L', $1::text, $2::text) AS sql`, [user, password]]);
  } else if (password) {
    statements.push([`SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', $1::text, $2::text) AS sql`, [user, password]]);
  }
  if (user !== group) statements.push([`SELECT format('GRANT %I TO %I', $1::text, $2::text) AS sql`, [group, user]]);
  for (const [statement, params] of statements) {
    const [{ sql }] = await dataSource.query(statement, params);
    await dataSource.query(sql);
  }
  log(`role "${user}" can log in as ${group}`);
}
