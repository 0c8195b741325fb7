import { MigrationInterface, QueryRunner } from 'typeorm';
import { enableTenantRls } from './lib/rls';

export class TenantsAndUsers1763769600100 implements MigrationInterface {
  name = 'TenantsAndUsers1763769600100';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE tenants (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        type text NOT NULL CHECK (type IN ('platform', 'reseller')),
        parent_id uuid REFERENCES tenants (id) ON DELETE RESTRICT,
        slug text NOT NULL CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
        name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
        branding jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(branding) = 'object'),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT tenants_platform_has_no_parent CHECK (type = 'reseller' OR parent_id IS NULL)
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX tenants_slug_key ON tenants (slug)`);
    await queryRunner.query(`CREATE UNIQUE INDEX tenants_single_platform ON tenants (type) WHERE type = 'platform'`);
    await queryRunner.query(`CREATE INDEX tenants_parent_id_idx ON tenants (parent_id)`);
    // A tenant's own row is scoped by its id.
    await enableTenantRls(queryRunner, 'tenants', { column: 'id' });

    await queryRunner.query(`
      CREATE TABLE tenant_domains (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        domain text NOT NULL CHECK (domain = lower(domain) AND length(domain) <= 253),
        is_primary boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Domains are unique across the platform: one host, one tenant.
    await queryRunner.query(`CREATE UNIQUE INDEX tenant_domains_domain_key ON tenant_domains (domain)`);
    await queryRunner.query(`CREATE INDEX tenant_domains_tenant_id_idx ON tenant_domains (tenant_id)`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX tenant_domains_one_primary ON tenant_domains (tenant_id) WHERE is_primary`,
    );
    await enableTenantRls(queryRunner, 'tenant_domains');

    await queryRunner.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        email text NOT NULL CHECK (length(email) BETWEEN 3 AND 320 AND position('@' in email) > 1),
        display_name text,
        password_hash text,
        status text NOT NULL DEFAULT 'invited' CHECK (status IN ('invited', 'active', 'disabled')),
        last_login_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Uniqueness is checked outside RLS, so it is per tenant: the same person may belong to two
    // resellers, and one reseller cannot learn that an address exists at another.
    await queryRunner.query(`CREATE UNIQUE INDEX users_tenant_email_key ON users (tenant_id, lower(email))`);
    await enableTenantRls(queryRunner, 'users');

    await queryRunner.query(`
      CREATE TABLE user_roles (
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('owner', 'operator', 'sales', 'finance', 'tech', 'user')),
        granted_by uuid REFERENCES users (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, role)
      )`);
    await queryRunner.query(`CREATE INDEX user_roles_tenant_id_idx ON user_roles (tenant_id, role)`);
    await enableTenantRls(queryRunner, 'user_roles');

    // A role row must belong to the same tenant as its user (RLS alone would not catch a mismatch
    // written by the system role).
    await queryRunner.query(`ALTER TABLE users ADD CONSTRAINT users_id_tenant_key UNIQUE (id, tenant_id)`);
    await queryRunner.query(`
      ALTER TABLE user_roles ADD CONSTRAINT user_roles_user_same_tenant
        FOREIGN KEY (user_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE`);

    // Host resolution happens before any scope is known: a narrow definer function, owned by the
    // system role, returns only what a Host header may learn about its own tenant.
    await queryRunner.query(`
      CREATE FUNCTION tenancy.resolve_domain(p_domain text)
      RETURNS TABLE (tenant_id uuid, slug text, type text, status text, name text)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        SELECT t.id, t.slug, t.type, t.status, t.name
        FROM public.tenant_domains d JOIN public.tenants t ON t.id = d.tenant_id
        WHERE d.domain = lower(p_domain)
      $$`);
    await queryRunner.query(`
      CREATE FUNCTION tenancy.resolve_slug(p_slug text)
      RETURNS TABLE (tenant_id uuid, slug text, type text, status text, name text)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        SELECT t.id, t.slug, t.type, t.status, t.name FROM public.tenants t WHERE t.slug = lower(p_slug)
      $$`);
    // A new owner must hold CREATE on the function's schema, only for the hand-over.
    await queryRunner.query(`GRANT CREATE ON SCHEMA tenancy TO aigateway_system`);
    for (const fn of ['tenancy.resolve_domain(text)', 'tenancy.resolve_slug(text)']) {
      await queryRunner.query(`ALTER FUNCTION ${fn} OWNER TO aigateway_system`);
      await queryRunner.query(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
      await queryRunner.query(`GRANT EXECUTE ON FUNCTION ${fn} TO aigateway_app`);
    }
    await queryRunner.query(`REVOKE CREATE ON SCHEMA tenancy FROM aigateway_system`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION tenancy.resolve_slug(text)`);
    await queryRunner.query(`DROP FUNCTION tenancy.resolve_domain(text)`);
    await queryRunner.query(`DROP TABLE user_roles`);
    await queryRunner.query(`DROP TABLE users`);
    await queryRunner.query(`DROP TABLE tenant_domains`);
    await queryRunner.query(`DROP TABLE tenants`);
  }
}
