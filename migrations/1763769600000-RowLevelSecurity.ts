import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, SYSTEM_ROLE } from './lib/rls';

/**
 * The roles and the tenant-scope machinery that every tenant table's policies rely on.
 *
 * - `aigateway_app`: what the api and worker connect as (through a login role that is, or is a
 *   member of, it). Not a superuser, no BYPASSRLS, owns nothing.
 * - `aigateway_system`: cross-tenant system work. It has no BYPASSRLS either; each tenant table
 *   carries an explicit permissive policy for it, so it can be granted to a separate login and
 *   never to the application role.
 * - The scope of a transaction is set only through `tenancy.enter_scope`, once per transaction
 *   (an advisory transaction lock marks it, and such a lock cannot be released early), and is
 *   signed with a secret the application role cannot read. The policies trust the scope only if
 *   the signature matches, so `set_config`/`SET LOCAL` by the application role cannot widen or
 *   switch it: a tampered scope matches no row.
 */
export class RowLevelSecurity1763769600000 implements MigrationInterface {
  name = 'RowLevelSecurity1763769600000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DO $$
      DECLARE
        can_create boolean := (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user);
        wanted text;
      BEGIN
        FOREACH wanted IN ARRAY ARRAY['${APP_ROLE}', '${SYSTEM_ROLE}'] LOOP
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = wanted) THEN
            IF NOT can_create THEN
              RAISE EXCEPTION 'role % does not exist and % may not create roles', wanted, current_user
                USING HINT = 'Create the roles ${APP_ROLE} and ${SYSTEM_ROLE} (NOLOGIN NOSUPERUSER NOBYPASSRLS) as a superuser, or give the migration role CREATEROLE, then migrate again.';
            END IF;
            EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT', wanted);
          END IF;
        END LOOP;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname IN ('${APP_ROLE}', '${SYSTEM_ROLE}') AND (rolsuper OR rolbypassrls)) THEN
          RAISE EXCEPTION 'roles ${APP_ROLE} and ${SYSTEM_ROLE} must not be superusers or have BYPASSRLS';
        END IF;
        -- The migration role hands definer functions to the system role, which needs membership.
        -- (PostgreSQL 16+ gives a role's creator ADMIN but not SET on it, so check SET there.)
        IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
           AND NOT pg_has_role(current_user, '${SYSTEM_ROLE}',
                               CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END) THEN
          EXECUTE format('GRANT %I TO %I', '${SYSTEM_ROLE}', current_user);
        END IF;
      END
      $$;
    `);

    await queryRunner.query(`CREATE SCHEMA tenancy`);
    await queryRunner.query(`REVOKE ALL ON SCHEMA tenancy FROM PUBLIC`);
    await queryRunner.query(`GRANT USAGE ON SCHEMA tenancy TO ${APP_ROLE}, ${SYSTEM_ROLE}`);
    await queryRunner.query(`GRANT USAGE ON SCHEMA public TO ${APP_ROLE}, ${SYSTEM_ROLE}`);
    await queryRunner.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA tenancy REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC`);
    await queryRunner.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC`);

    // 256 bits from the server's CSPRNG (gen_random_uuid), never leaves this table.
    await queryRunner.query(`
      CREATE TABLE tenancy.scope_secret (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        secret bytea NOT NULL
      )`);
    await queryRunner.query(`REVOKE ALL ON tenancy.scope_secret FROM PUBLIC`);
    await queryRunner.query(`
      INSERT INTO tenancy.scope_secret (secret)
      SELECT sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8'))`);

    // The signature binds the scope to this backend and this transaction (its start time, as an
    // epoch so that TimeZone/DateStyle changes cannot matter), so a captured value is useless later.
    await queryRunner.query(`
      CREATE FUNCTION tenancy.scope_signature(p_tenant text, p_ids text, p_all text) RETURNS text
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        SELECT encode(sha256(s.secret || convert_to(concat_ws('|',
                 pg_backend_pid()::text, extract(epoch FROM transaction_timestamp())::text,
                 p_tenant, p_ids, p_all), 'UTF8') || s.secret), 'hex')
        FROM tenancy.scope_secret s
      $$`);

    await queryRunner.query(`
      CREATE FUNCTION tenancy.enter_scope(p_tenant uuid, p_also uuid[] DEFAULT '{}', p_all boolean DEFAULT false)
      RETURNS void
      LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
      DECLARE
        ids text;
        all_flag text := CASE WHEN p_all THEN 'on' ELSE 'off' END;
      BEGIN
        IF p_tenant IS NULL THEN
          RAISE EXCEPTION 'a tenant scope needs a tenant id' USING ERRCODE = '22004';
        END IF;
        IF EXISTS (SELECT 1 FROM pg_locks
                   WHERE locktype = 'advisory' AND pid = pg_backend_pid()
                     AND classid = 1095321431 AND objid = 1 AND objsubid = 2) THEN
          RAISE EXCEPTION 'the tenant scope of a transaction is set once and cannot be changed'
            USING ERRCODE = '42501';
        END IF;
        PERFORM pg_advisory_xact_lock_shared(1095321431, 1);
        SELECT string_agg(DISTINCT x::text, ',' ORDER BY x::text) INTO ids
          FROM unnest(array_append(coalesce(p_also, '{}'), p_tenant)) AS x WHERE x IS NOT NULL;
        PERFORM set_config('app.tenant_id', p_tenant::text, true);
        PERFORM set_config('app.tenant_ids', ids, true);
        PERFORM set_config('app.tenant_all', all_flag, true);
        PERFORM set_config('app.scope_sig', tenancy.scope_signature(p_tenant::text, ids, all_flag), true);
      END
      $$`);

    // NULLIF: a reused connection can return '' rather than NULL for a setting it once had.
    await queryRunner.query(`
      CREATE FUNCTION tenancy.scope_is_valid() RETURNS boolean
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        SELECT coalesce(
          NULLIF(current_setting('app.scope_sig', true), '') = tenancy.scope_signature(
            NULLIF(current_setting('app.tenant_id', true), ''),
            NULLIF(current_setting('app.tenant_ids', true), ''),
            NULLIF(current_setting('app.tenant_all', true), '')),
          false)
      $$`);

    await queryRunner.query(`
      CREATE FUNCTION tenancy.scope_tenant_ids() RETURNS uuid[]
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        SELECT CASE WHEN tenancy.scope_is_valid()
                    THEN string_to_array(current_setting('app.tenant_ids', true), ',')::uuid[]
                    ELSE '{}'::uuid[] END
      $$`);

    await queryRunner.query(`
      CREATE FUNCTION tenancy.scope_is_all() RETURNS boolean
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        SELECT tenancy.scope_is_valid() AND current_setting('app.tenant_all', true) = 'on'
      $$`);

    /** The acting tenant of the current (valid) scope, or NULL: used as a column default. */
    await queryRunner.query(`
      CREATE FUNCTION tenancy.current_tenant_id() RETURNS uuid
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        SELECT CASE WHEN tenancy.scope_is_valid()
                    THEN NULLIF(current_setting('app.tenant_id', true), '')::uuid END
      $$`);

    for (const fn of [
      'tenancy.scope_signature(text, text, text)',
      'tenancy.enter_scope(uuid, uuid[], boolean)',
      'tenancy.scope_is_valid()',
      'tenancy.scope_tenant_ids()',
      'tenancy.scope_is_all()',
      'tenancy.current_tenant_id()',
    ]) {
      await queryRunner.query(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
    }
    for (const fn of [
      'tenancy.enter_scope(uuid, uuid[], boolean)',
      'tenancy.scope_tenant_ids()',
      'tenancy.scope_is_all()',
      'tenancy.current_tenant_id()',
    ]) {
      await queryRunner.query(`GRANT EXECUTE ON FUNCTION ${fn} TO ${APP_ROLE}, ${SYSTEM_ROLE}`);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP SCHEMA tenancy CASCADE`);
  }
}
