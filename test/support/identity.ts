import * as argon2 from 'argon2';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { call } from './http';
import { uniqueSlug } from './db';

export type RoleName = 'owner' | 'operator' | 'sales' | 'finance' | 'tech' | 'user';
export const TEST_PASSWORD = 'Correct-Horse-Battery-42';

let passwordHash: Promise<string> | undefined;
function hashOnce(): Promise<string> {
  passwordHash ??= argon2.hash(TEST_PASSWORD, { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 });
  return passwordHash;
}

export interface TestUser {
  id: string;
  email: string;
  roles: RoleName[];
}

export interface TestTenant {
  id: string;
  slug: string;
  type: 'platform' | 'reseller';
  domain: string;
  users: Record<string, TestUser>;
}

/**
 * The single platform tenant of the test database (created on first use, shared by every test
 * file), with a domain of this test's own and fresh users with the given roles.
 */
export async function platformWithUsers(system: Client, users: Record<string, RoleName[]>): Promise<TestTenant> {
  let { rows } = await system.query(`SELECT id, slug FROM tenants WHERE type = 'platform'`);
  if (!rows[0]) {
    await system
      .query(`INSERT INTO tenants (id, type, slug, name) VALUES ($1, 'platform', 'platform', 'AIGateway') ON CONFLICT DO NOTHING`, [uuidv7()])
      .catch(() => undefined);
    ({ rows } = await system.query(`SELECT id, slug FROM tenants WHERE type = 'platform'`));
  }
  const tenant: TestTenant = { id: rows[0].id, slug: rows[0].slug, type: 'platform', domain: `${uniqueSlug('p')}.platform.localhost`, users: {} };
  await system.query(`INSERT INTO tenant_domains (tenant_id, domain) VALUES ($1, $2)`, [tenant.id, tenant.domain]);
  await addUsers(system, tenant, users);
  return tenant;
}

/** A new reseller tenant with a domain and users with the given roles (all sharing TEST_PASSWORD). */
export async function resellerWithUsers(system: Client, users: Record<string, RoleName[]>): Promise<TestTenant> {
  const slug = uniqueSlug('r');
  const tenant: TestTenant = { id: uuidv7(), slug, type: 'reseller', domain: `${slug}.reseller.localhost`, users: {} };
  await system.query(`INSERT INTO tenants (id, type, slug, name) VALUES ($1, 'reseller', $2, $3)`, [tenant.id, slug, `Reseller ${slug}`]);
  await system.query(`INSERT INTO tenant_domains (tenant_id, domain, is_primary) VALUES ($1, $2, true)`, [tenant.id, tenant.domain]);
  await addUsers(system, tenant, users);
  return tenant;
}

async function addUsers(system: Client, tenant: TestTenant, users: Record<string, RoleName[]>): Promise<void> {
  const hash = await hashOnce();
  for (const [name, roles] of Object.entries(users)) {
    const id = uuidv7();
    const email = `${name}.${id.slice(-8)}@${tenant.domain}`;
    await system.query(`INSERT INTO users (id, tenant_id, email, password_hash, status) VALUES ($1, $2, $3, $4, 'active')`, [id, tenant.id, email, hash]);
    for (const role of roles) await system.query(`INSERT INTO user_roles (tenant_id, user_id, role) VALUES ($1, $2, $3)`, [tenant.id, id, role]);
    tenant.users[name] = { id, email, roles };
  }
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

export async function signIn(baseUrl: string, tenant: TestTenant, userName: string, password = TEST_PASSWORD): Promise<Tokens> {
  const res = await call(baseUrl, 'POST', '/api/v1/auth/login', {
    host: tenant.domain,
    json: { email: tenant.users[userName].email, password },
  });
  if (res.status !== 200) throw new Error(`sign-in of ${userName} at ${tenant.slug} failed: ${res.status} ${res.text}`);
  return res.body as Tokens;
}
