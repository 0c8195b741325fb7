import { Client } from 'pg';
import { connectAs, inTransaction, SeededTenant, seedTenant, tenantTables } from '../support/db';

/**
 * Row-level security, checked as the application role (not a superuser: a superuser would pass
 * every one of these vacuously).
 */
describe('row-level security (as the application role)', () => {
  let app: Client;
  let system: Client;
  let admin: Client;
  let a: SeededTenant;
  let b: SeededTenant;

  /** Runs one statement inside a savepoint so a refusal does not abort the surrounding transaction. */
  async function attempt(sql: string, params: unknown[] = []): Promise<{ rowCount: number | null; rows: any[] } | Error> {
    await app.query('SAVEPOINT attempt');
    try {
      const result = await app.query(sql, params);
      await app.query('RELEASE SAVEPOINT attempt');
      return result;
    } catch (error) {
      await app.query('ROLLBACK TO SAVEPOINT attempt');
      return error as Error;
    }
  }

  beforeAll(async () => {
    [app, system, admin] = await Promise.all([connectAs('app'), connectAs('system'), connectAs('admin')]);
    a = await seedTenant(system);
    b = await seedTenant(system);
  });

  afterAll(async () => {
    await Promise.all([app?.end(), system?.end(), admin?.end()]);
  });

  it('connects as a role that is not a superuser, has no BYPASSRLS and owns nothing', async () => {
    const { rows } = await app.query(
      `SELECT r.rolsuper, r.rolbypassrls,
              (SELECT count(*)::int FROM pg_class c WHERE c.relowner = r.oid) AS owned
         FROM pg_roles r WHERE r.rolname = current_user`,
    );
    expect(rows[0]).toEqual({ rolsuper: false, rolbypassrls: false, owned: 0 });
  });

  it('forces RLS with select/insert/update/delete policies on every table that has tenant_id', async () => {
    const tables = await tenantTables(admin);
    expect(tables.map((t) => t.table)).toEqual(expect.arrayContaining(['tenants', 'tenant_domains', 'users', 'user_roles']));
    for (const { table } of tables) {
      const { rows: rel } = await admin.query(
        `SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::regclass`,
        [table],
      );
      expect({ table, ...rel[0] }).toEqual({ table, relrowsecurity: true, relforcerowsecurity: true });
      const { rows: policies } = await admin.query(
        `SELECT cmd, roles::text[] AS roles, qual, with_check FROM pg_policies WHERE schemaname = 'public' AND tablename = $1`,
        [table],
      );
      const { rows: comment } = await admin.query(`SELECT obj_description($1::regclass, 'pg_class') AS c`, [table]);
      const appendOnly = comment[0].c === 'append-only';
      if (appendOnly) {
        // Append-only tables: no UPDATE/DELETE privilege or policy for the application role.
        const { rows: privs } = await admin.query(
          `SELECT has_table_privilege('aigateway_app', $1, 'UPDATE') AS u, has_table_privilege('aigateway_app', $1, 'DELETE') AS d`,
          [table],
        );
        expect({ table, ...privs[0] }).toEqual({ table, u: false, d: false });
      }
      for (const cmd of appendOnly ? ['SELECT', 'INSERT'] : ['SELECT', 'INSERT', 'UPDATE', 'DELETE']) {
        const policy = policies.find((p) => p.cmd === cmd && p.roles.includes('aigateway_app'));
        expect({ table, cmd, found: Boolean(policy) }).toEqual({ table, cmd, found: true });
        // Every application policy reads the signed scope, never a bare setting.
        expect(`${policy.qual ?? ''} ${policy.with_check ?? ''}`).toContain('tenancy.scope_tenant_ids()');
      }
      // Nothing but the system role may have an unconditional policy.
      for (const p of policies.filter((p) => p.qual === 'true' || p.with_check === 'true')) {
        expect({ table, roles: p.roles }).toEqual({ table, roles: ['aigateway_system'] });
      }
    }
  });

  it('sees zero rows of every tenant table and cannot insert without a scope', async () => {
    await inTransaction(app, null, async () => {
      for (const { table } of await tenantTables(admin)) {
        const { rows } = await app.query(`SELECT count(*)::int AS n FROM ${table}`);
        expect({ table, n: rows[0].n }).toEqual({ table, n: 0 });
      }
      const refused = await attempt(`INSERT INTO users (tenant_id, email) VALUES ($1, 'x@example.com')`, [a.id]);
      expect(refused).toBeInstanceOf(Error);
      expect(String(refused)).toMatch(/row-level security/);
      const defaulted = await attempt(`INSERT INTO tenant_domains (domain) VALUES ('nowhere.example.com')`);
      expect(String(defaulted)).toMatch(/null value|row-level security/);
    });
  });

  it('in scope A sees A only and cannot touch B', async () => {
    await inTransaction(app, { tenantId: a.id }, async () => {
      const users = await app.query(`SELECT tenant_id FROM users`);
      expect(users.rows.length).toBeGreaterThan(0);
      expect(new Set(users.rows.map((r) => r.tenant_id))).toEqual(new Set([a.id]));
      const tenants = await app.query(`SELECT id FROM tenants`);
      expect(tenants.rows).toEqual([{ id: a.id }]);

      expect(await attempt(`SELECT * FROM users WHERE id = $1`, [b.userId])).toMatchObject({ rowCount: 0 });
      expect(await attempt(`UPDATE users SET display_name = 'pwned' WHERE id = $1`, [b.userId])).toMatchObject({ rowCount: 0 });
      expect(await attempt(`DELETE FROM user_roles WHERE user_id = $1`, [b.userId])).toMatchObject({ rowCount: 0 });
      expect(await attempt(`DELETE FROM tenants WHERE id = $1`, [b.id])).toMatchObject({ rowCount: 0 });
      const insertForB = await attempt(`INSERT INTO users (tenant_id, email) VALUES ($1, 'intruder@example.com')`, [b.id]);
      expect(String(insertForB)).toMatch(/row-level security/);
      // Moving one of A's rows to B is an update whose new row fails the check.
      const moveToB = await attempt(`UPDATE users SET tenant_id = $1 WHERE id = $2`, [b.id, a.userId]);
      expect(String(moveToB)).toMatch(/row-level security|violates foreign key/);
      // A new row with no tenant_id lands in the scope's tenant.
      const inserted = await attempt(`INSERT INTO tenant_domains (domain) VALUES ($1) RETURNING tenant_id`, [`x-${a.slug}.example.com`]);
      expect(inserted).toMatchObject({ rows: [{ tenant_id: a.id }] });
    });
    // B's rows are untouched.
    const { rows } = await system.query(`SELECT display_name FROM users WHERE id = $1`, [b.userId]);
    expect(rows[0].display_name).toBeNull();
  });

  it('cannot change its scope to B by any statement the application role may run', async () => {
    await inTransaction(app, { tenantId: a.id }, async () => {
      const visibleUsers = async () => (await app.query(`SELECT DISTINCT tenant_id FROM users`)).rows.map((r) => r.tenant_id);
      const { rows: own } = await app.query(
        `SELECT current_setting('app.tenant_ids') AS ids, current_setting('app.scope_sig') AS sig`,
      );

      // Rewriting the settings directly: the signature no longer matches, so nothing is visible.
      await app.query('SAVEPOINT s1');
      await app.query(`SELECT set_config('app.tenant_id', $1, true), set_config('app.tenant_ids', $1, true)`, [b.id]);
      expect(await visibleUsers()).toEqual([]);
      await app.query(`SET LOCAL app.tenant_all = 'on'`);
      expect(await visibleUsers()).toEqual([]);
      // Replaying A's own signature on B's ids does not verify either.
      await app.query(`SELECT set_config('app.scope_sig', $1, true)`, [own[0].sig]);
      expect(await visibleUsers()).toEqual([]);
      await app.query('ROLLBACK TO SAVEPOINT s1');
      expect(await visibleUsers()).toEqual([a.id]);

      // Entering another scope is refused, even after clearing every setting.
      expect(String(await attempt(`SELECT tenancy.enter_scope($1::uuid)`, [b.id]))).toMatch(/set once/);
      expect(String(await attempt(`SELECT tenancy.enter_scope($1::uuid, '{}', true)`, [a.id]))).toMatch(/set once/);
      await app.query('SAVEPOINT s2');
      await app.query(`RESET ALL`);
      expect(await visibleUsers()).toEqual([]);
      expect(String(await attempt(`SELECT tenancy.enter_scope($1::uuid)`, [b.id]))).toMatch(/set once/);
      expect(String(await attempt(`SELECT pg_advisory_unlock_all()`))).not.toMatch(/error/i);
      expect(String(await attempt(`SELECT tenancy.enter_scope($1::uuid)`, [b.id]))).toMatch(/set once/);
      expect(await visibleUsers()).toEqual([]);
      await app.query('ROLLBACK TO SAVEPOINT s2');

      // The secret and the signing function are out of reach.
      expect(String(await attempt(`SELECT secret FROM tenancy.scope_secret`))).toMatch(/permission denied/);
      expect(String(await attempt(`SELECT tenancy.scope_signature('a', 'b', 'off')`))).toMatch(/permission denied/);
      expect(own[0].ids).toBe(a.id);
    });
  });

  it('cannot disable RLS, switch to the owner or system role, or turn row_security off', async () => {
    await inTransaction(app, { tenantId: a.id }, async () => {
      expect(String(await attempt(`ALTER TABLE users DISABLE ROW LEVEL SECURITY`))).toMatch(/must be owner/);
      expect(String(await attempt(`ALTER TABLE users NO FORCE ROW LEVEL SECURITY`))).toMatch(/must be owner/);
      expect(String(await attempt(`DROP POLICY tenant_select ON users`))).toMatch(/must be owner/);
      expect(String(await attempt(`CREATE POLICY sneaky ON users USING (true)`))).toMatch(/must be owner/);
      expect(String(await attempt(`SET ROLE aigateway_owner`))).toMatch(/permission denied/);
      expect(String(await attempt(`SET ROLE aigateway_system`))).toMatch(/permission denied/);
      expect(String(await attempt(`SET SESSION AUTHORIZATION aigateway_owner`))).toMatch(/permission denied/);
      expect(String(await attempt(`CREATE TABLE public.mine (id int)`))).toMatch(/permission denied/);
      expect(String(await attempt(`CREATE FUNCTION tenancy.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'`))).toMatch(
        /permission denied/,
      );
      await app.query('SAVEPOINT rs');
      await app.query(`SET LOCAL row_security = off`);
      expect(String(await attempt(`SELECT count(*) FROM users`))).toMatch(/row-level security/);
      await app.query('ROLLBACK TO SAVEPOINT rs');
    });
  });

  it('cannot read another tenant through any view or function', async () => {
    const { rows: views } = await admin.query(
      `SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND has_table_privilege('aigateway_app', c.oid, 'SELECT')`,
    );
    // A view runs as its owner unless security_invoker is set; none may exist without it.
    for (const view of views) expect({ view: view.relname, options: view.reloptions }).toEqual(
      expect.objectContaining({ options: expect.arrayContaining(['security_invoker=true']) }),
    );

    const { rows: definers } = await admin.query(
      `SELECT p.oid::regprocedure::text AS fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND has_function_privilege('aigateway_app', p.oid, 'EXECUTE') ORDER BY 1`,
    );
    // Each of these is reviewed: scope plumbing, or host/slug resolution returning public facts.
    // child_tenant_ids(parent): the ids of a parent's sub-resellers, only when the scope holds the parent.
    expect(definers.map((r) => r.fn)).toEqual([
      'tenancy.channel_routing_table()',
      'tenancy.child_tenant_ids(uuid)',
      'tenancy.current_tenant_id()',
      'tenancy.enter_scope(uuid,uuid[],boolean)',
      'tenancy.resolve_domain(text)',
      'tenancy.resolve_slug(text)',
      'tenancy.scope_is_all()',
      'tenancy.scope_tenant_ids()',
    ]);

    await inTransaction(app, { tenantId: a.id }, async () => {
      const { rows, fields } = await app.query(`SELECT * FROM tenancy.resolve_domain($1)`, [b.domain]);
      expect(fields.map((f) => f.name)).toEqual(['tenant_id', 'slug', 'type', 'status', 'name']);
      expect(rows).toHaveLength(1);
      // The planner's statistics would show sampled values; pg_stats hides RLS tables from us.
      await admin.query('ANALYZE users');
      const stats = await app.query(`SELECT * FROM pg_stats WHERE tablename = 'users'`);
      expect(stats.rowCount).toBe(0);
    });
  });

  it('never leaks a scope to the next transaction on the same connection', async () => {
    await app.query('BEGIN');
    await app.query('SELECT tenancy.enter_scope($1::uuid)', [a.id]);
    expect((await app.query('SELECT count(*)::int AS n FROM users')).rows[0].n).toBeGreaterThan(0);
    await app.query('COMMIT');
    // Same connection, no scope: nothing.
    expect((await app.query('SELECT count(*)::int AS n FROM users')).rows[0].n).toBe(0);
    await inTransaction(app, null, async () => {
      expect((await app.query('SELECT count(*)::int AS n FROM users')).rows[0].n).toBe(0);
      expect((await app.query(`SELECT current_setting('app.tenant_ids', true) AS v`)).rows[0].v).toBe('');
    });
    // And the next transaction may enter a different scope.
    await inTransaction(app, { tenantId: b.id }, async () => {
      const { rows } = await app.query('SELECT DISTINCT tenant_id FROM users');
      expect(rows.map((r) => r.tenant_id)).toEqual([b.id]);
    });
  });

  it('widens reads to a set of tenants, or to all, only through enter_scope', async () => {
    await inTransaction(app, { tenantId: a.id, also: [b.id] }, async () => {
      const { rows } = await app.query('SELECT id FROM tenants WHERE id = ANY($1::uuid[]) ORDER BY id', [[a.id, b.id]]);
      expect(rows.map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    });
    await inTransaction(app, { tenantId: a.id, all: true }, async () => {
      const { rows } = await app.query('SELECT count(DISTINCT tenant_id)::int AS n FROM users WHERE tenant_id = ANY($1::uuid[])', [
        [a.id, b.id],
      ]);
      expect(rows[0].n).toBe(2);
    });
  });

  it('lets the system role work across tenants, on its own login only', async () => {
    const { rows } = await system.query('SELECT count(*)::int AS n FROM tenants WHERE id = ANY($1::uuid[])', [[a.id, b.id]]);
    expect(rows[0].n).toBe(2);
    const { rows: membership } = await admin.query(
      `SELECT pg_has_role('aigateway_app', 'aigateway_system', 'MEMBER') AS app_is_system`,
    );
    expect(membership[0].app_is_system).toBe(false);
  });
});
