import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';

export type Role = 'app' | 'admin' | 'system';

const URL_OF: Record<Role, string> = {
  app: 'DATABASE_URL',
  admin: 'DATABASE_ADMIN_URL',
  system: 'DATABASE_SYSTEM_URL',
};

/** A plain pg client connected as one of the three roles (set up by global-setup). */
export async function connectAs(role: Role): Promise<Client> {
  const url = process.env[URL_OF[role]];
  if (!url) throw new Error(`${URL_OF[role]} is not set: run the suite with npm test`);
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

export function uniqueSlug(prefix = 't'): string {
  return `${prefix}-${uuidv7().slice(-12)}`;
}

export interface SeededTenant {
  id: string;
  slug: string;
  domain: string;
  userId: string;
  email: string;
}

/** Creates a reseller with a domain and one user (role `owner`) through the system role. */
export async function seedTenant(system: Client, options: { type?: 'reseller' | 'platform' } = {}): Promise<SeededTenant> {
  const slug = uniqueSlug();
  const id = uuidv7();
  const userId = uuidv7();
  const domain = `${slug}.test.localhost`;
  const email = `owner@${domain}`;
  await system.query(`INSERT INTO tenants (id, type, slug, name) VALUES ($1, $2, $3, $4)`, [
    id,
    options.type ?? 'reseller',
    slug,
    `Tenant ${slug}`,
  ]);
  await system.query(`INSERT INTO tenant_domains (tenant_id, domain, is_primary) VALUES ($1, $2, true)`, [id, domain]);
  await system.query(`INSERT INTO users (id, tenant_id, email, status) VALUES ($1, $2, $3, 'active')`, [userId, id, email]);
  await system.query(`INSERT INTO user_roles (tenant_id, user_id, role) VALUES ($1, $2, 'owner')`, [id, userId]);
  return { id, slug, domain, userId, email };
}

/** Runs `work` inside BEGIN/ROLLBACK on `client`, optionally entering a tenant scope first. */
export async function inTransaction<T>(
  client: Client,
  scope: { tenantId: string; also?: string[]; all?: boolean } | null,
  work: () => Promise<T>,
): Promise<T> {
  await client.query('BEGIN');
  try {
    if (scope) {
      await client.query('SELECT tenancy.enter_scope($1::uuid, $2::uuid[], $3::boolean)', [
        scope.tenantId,
        scope.also ?? [],
        scope.all ?? false,
      ]);
    }
    return await work();
  } finally {
    await client.query('ROLLBACK');
  }
}

/** Every table in the public schema with a tenant_id column, plus `tenants` (scoped by id). */
export async function tenantTables(client: Client): Promise<Array<{ table: string; column: string }>> {
  const { rows } = await client.query<{ table_name: string }>(
    `SELECT DISTINCT table_name FROM information_schema.columns
      WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY table_name`,
  );
  return [{ table: 'tenants', column: 'id' }, ...rows.map((r) => ({ table: r.table_name, column: 'tenant_id' }))];
}

export async function expectSqlError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  if (!error) throw new Error(`expected the statement to fail with ${pattern}, but it succeeded`);
  expect(String((error as Error).message)).toMatch(pattern);
}

/**
 * A database of its own, migrated, for a test whose command touches every row of a table (a
 * re-encryption, a sweep) and so must not see other files' rows, nor change them under their feet.
 * Same cluster and roles as the suite's; returns the three URLs for it.
 */
export async function isolatedDatabase(): Promise<Record<'DATABASE_URL' | 'DATABASE_ADMIN_URL' | 'DATABASE_SYSTEM_URL', string>> {
  const superuser = process.env.TEST_DATABASE_SUPERUSER_URL;
  if (!superuser) throw new Error('TEST_DATABASE_SUPERUSER_URL is not set: this test needs the embedded PostgreSQL of npm test');
  const name = `aigw_${uuidv7().replace(/-/g, '').slice(-16)}`;
  const admin = new Client({ connectionString: superuser });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} OWNER aigateway_owner`);
  } finally {
    await admin.end();
  }
  const rename = (url: string) => {
    const u = new URL(url);
    u.pathname = `/${name}`;
    return u.toString();
  };
  const urls = {
    DATABASE_URL: rename(process.env.DATABASE_URL!),
    DATABASE_ADMIN_URL: rename(process.env.DATABASE_ADMIN_URL!),
    DATABASE_SYSTEM_URL: rename(process.env.DATABASE_SYSTEM_URL!),
  };
  const { migrate } = await import('../../libs/database/src/migrate');
  await migrate({ adminUrl: urls.DATABASE_ADMIN_URL, loginUrls: { app: urls.DATABASE_URL, system: urls.DATABASE_SYSTEM_URL } });
  return urls;
}
