import { Client } from 'pg';
import { ALL_MIGRATIONS } from '../../migrations';
import { runCli } from '../../src/cli';
import { SetupError } from '../../src/cli/platform-setup.service';
import { testConfig } from '../support/app';
import { connectAs, seedTenant, uniqueSlug } from '../support/db';

/**
 * The cli against the real database. The platform tenant is one per database and other test files
 * create it too (the first one to need it), so these tests compare states rather than assume an
 * empty database.
 */
describe('cli', () => {
  const config = testConfig();
  const PASSWORD_ENV = 'CLI_SPEC_OWNER_PASSWORD';
  let system: Client;
  let admin: Client;
  let lines: string[];
  const out = (line: string) => lines.push(line);

  const platformTenants = async () =>
    (await system.query<{ id: string }>(`SELECT id FROM tenants WHERE type = 'platform'`)).rows;
  const usersWithEmail = async (email: string) =>
    (
      await system.query<{ id: string; tenant_id: string; password_hash: string }>(
        `SELECT id, tenant_id, password_hash FROM users WHERE lower(email) = lower($1)`,
        [email],
      )
    ).rows;

  beforeAll(async () => {
    [system, admin] = await Promise.all([connectAs('system'), connectAs('admin')]);
  });

  beforeEach(() => {
    lines = [];
  });

  afterAll(async () => {
    delete process.env[PASSWORD_ENV];
    await Promise.all([system?.end(), admin?.end()]);
  });

  describe('bootstrap', () => {
    const email = `owner-${uniqueSlug('cli')}@platform.localhost`;
    const domain = `${uniqueSlug('cli')}.platform.localhost`;
    const bootstrap = (password: string, args: string[] = []) => {
      process.env[PASSWORD_ENV] = password;
      return runCli(['bootstrap', '--email', email, '--password-env', PASSWORD_ENV, ...args], config, out);
    };

    it('refuses a weak password and creates nothing', async () => {
      const before = await platformTenants();
      await expect(bootstrap('short1!', ['--domain', domain])).rejects.toThrow(SetupError);
      await expect(bootstrap('aigateway-Platform-2026')).rejects.toThrow(/too weak.*common word/);
      expect(await platformTenants()).toEqual(before);
      expect(await usersWithEmail(email)).toEqual([]);
      const { rowCount } = await system.query(`SELECT 1 FROM tenant_domains WHERE domain = $1`, [domain]);
      expect(rowCount).toBe(0);
    });

    it('refuses a password given nowhere', async () => {
      delete process.env[PASSWORD_ENV];
      await expect(runCli(['bootstrap', '--email', email, '--password-env', PASSWORD_ENV], config, out)).rejects.toThrow(
        new RegExp(PASSWORD_ENV),
      );
    });

    it('creates the platform tenant (unless it exists) and its owner, with the domain', async () => {
      const existed = (await platformTenants()).length === 1;
      expect(await bootstrap('Strong-Platform-Owner-93', ['--domain', domain])).toBe(0);

      const platforms = await platformTenants();
      expect(platforms).toHaveLength(1);
      expect(lines[0]).toMatch(existed ? /^found platform tenant/ : /^created platform tenant/);
      expect(lines[1]).toBe(`created owner ${email}`);
      const [owner] = await usersWithEmail(email);
      expect(owner.tenant_id).toBe(platforms[0].id);
      expect(owner.password_hash).toMatch(/^\$argon2id\$/);
      const roles = await system.query(`SELECT role FROM user_roles WHERE user_id = $1`, [owner.id]);
      expect(roles.rows).toEqual([{ role: 'owner' }]);
      const domains = await system.query(`SELECT tenant_id FROM tenant_domains WHERE domain = $1`, [domain]);
      expect(domains.rows).toEqual([{ tenant_id: platforms[0].id }]);
    });

    it('changes nothing when run again, not even the password', async () => {
      const [before] = await usersWithEmail(email);
      expect(await bootstrap('Another-Strong-Secret-71', ['--domain', domain])).toBe(0);
      expect(lines).toEqual([expect.stringMatching(/^found platform tenant "[a-z0-9-]+"/), `kept existing owner ${email}`]);
      expect(await platformTenants()).toHaveLength(1);
      const after = await usersWithEmail(email);
      expect(after).toEqual([before]);
      const roles = await system.query(`SELECT count(*)::int AS n FROM user_roles WHERE user_id = $1`, [before.id]);
      expect(roles.rows[0].n).toBe(1);
      const domains = await system.query(`SELECT count(*)::int AS n FROM tenant_domains WHERE domain = $1`, [domain]);
      expect(domains.rows[0].n).toBe(1);
    });

    it('refuses a domain that belongs to another tenant, and creates no owner', async () => {
      const reseller = await seedTenant(system);
      const otherEmail = `owner-${uniqueSlug('cli')}@platform.localhost`;
      process.env[PASSWORD_ENV] = 'Strong-Platform-Owner-93';
      await expect(
        runCli(['bootstrap', '--email', otherEmail, '--domain', reseller.domain, '--password-env', PASSWORD_ENV], config, out),
      ).rejects.toThrow(/already belongs to another tenant/);
      expect(await usersWithEmail(otherEmail)).toEqual([]);
      const domains = await system.query(`SELECT tenant_id FROM tenant_domains WHERE domain = $1`, [reseller.domain]);
      expect(domains.rows).toEqual([{ tenant_id: reseller.id }]);
    });

    it('refuses an invalid domain', async () => {
      process.env[PASSWORD_ENV] = 'Strong-Platform-Owner-93';
      await expect(bootstrap('Strong-Platform-Owner-93', ['--domain', 'Platform.Example:443'])).rejects.toThrow(/not a valid domain/);
    });
  });

  describe('seed-demo', () => {
    const platformDomain = `${uniqueSlug('demo')}.platform.localhost`;
    const seed = () => runCli(['seed-demo', '--platform-domain', platformDomain], config, out);

    async function demoState() {
      const { rows: tenants } = await system.query(`SELECT id, type, status FROM tenants WHERE slug = 'demo'`);
      const { rows: domains } = await system.query(
        `SELECT d.domain FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id WHERE t.slug = 'demo' ORDER BY d.domain`,
      );
      const { rows: users } = await system.query(
        `SELECT u.email, u.status, u.password_hash, r.role FROM users u JOIN user_roles r ON r.user_id = u.id
          JOIN tenants t ON t.id = u.tenant_id WHERE t.slug = 'demo' ORDER BY r.role`,
      );
      return { tenants, domains, users };
    }

    it('creates reseller "demo" with its domain and one user per reseller role, and prints the logins', async () => {
      expect(await seed()).toBe(0);
      const state = await demoState();
      expect(state.tenants).toEqual([{ id: expect.any(String), type: 'reseller', status: 'active' }]);
      expect(state.domains).toEqual([{ domain: 'demo.localhost' }]);
      expect(state.users.map((u) => [u.role, u.email, u.status])).toEqual([
        ['finance', 'finance@demo.localhost', 'active'],
        ['owner', 'owner@demo.localhost', 'active'],
        ['sales', 'sales@demo.localhost', 'active'],
        ['user', 'user@demo.localhost', 'active'],
      ]);
      // Platform staff too, one per platform role, on the platform tenant.
      const { rows: staff } = await system.query(
        `SELECT r.role FROM users u JOIN user_roles r ON r.user_id = u.id JOIN tenants t ON t.id = u.tenant_id
          WHERE t.type = 'platform' AND u.email LIKE $1 ORDER BY r.role`,
        [`%@${platformDomain}`],
      );
      expect(staff.map((r) => r.role)).toEqual(['finance', 'operator', 'owner', 'sales', 'tech', 'user']);
      expect(lines.join('\n')).toContain('owner@demo.localhost');
      expect(lines.join('\n')).toMatch(/password for every demo user: \S+/);
    });

    it('is idempotent', async () => {
      const before = await demoState();
      expect(await seed()).toBe(0);
      expect(await demoState()).toEqual(before);
      expect(await platformTenants()).toHaveLength(1);
    });
  });

  describe('migrate', () => {
    it('applies nothing to an up-to-date database', async () => {
      expect(await runCli(['migrate'], config, out)).toBe(0);
      expect(lines).toContain('database schema is up to date');
      expect(lines.filter((l) => l.startsWith('applied '))).toEqual([]);
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM migrations`);
      expect(rows[0].n).toBe(ALL_MIGRATIONS.length);
    });
  });

  it('prints the usage and returns 64 for an unknown command', async () => {
    expect(await runCli(['frobnicate'], config, out)).toBe(64);
    expect(lines.join('\n')).toMatch(/^Usage: npm run cli -- <command>/);
    expect(lines.join('\n')).toContain('seed-demo');
    lines = [];
    expect(await runCli(['help'], config, out)).toBe(0);
    expect(lines.join('\n')).toMatch(/^Usage:/);
  });
});
