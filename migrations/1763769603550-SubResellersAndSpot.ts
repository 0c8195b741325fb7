import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, enableTenantRls, SYSTEM_ROLE } from './lib/rls';

/**
 * Issue 26, part B.
 *
 * - `usage_resale`: for a request of a sub-reseller's customer, one row per ancestor reseller that
 *   sold the model down the chain (its tenant_id is that seller): what its child paid it
 *   (`revenue`) and what it paid its own parent (`cost`), in the units charged when the request was
 *   metered (never recomputed). Inserted by metering in the same transaction as the usage record,
 *   only when that record was new (a replay inserts nothing). It carries no customer: a parent
 *   sees its children's business, never their customers. `recorded_at` is set after the usage
 *   insert took the cutoff lock (see the Statements migration), so statements see both together.
 * - `spot_price_factors` (a reseller's) and `platform_spot_factors` (the platform's): a per-model discount factor for requests served by the spot pool,
 *   versioned by effective time like every price. The platform's rows scale the platform list and
 *   the wholesale it gives resellers; a reseller's rows scale its retail and what it gives its
 *   sub-resellers (absent: it inherits its parent's factor). factor NULL clears it.
 * - A sub-reseller's parent must be a reseller (checked by trigger: the platform's resellers keep
 *   parent_id NULL).
 */
export class SubResellersAndSpot1763769603550 implements MigrationInterface {
  name = 'SubResellersAndSpot1763769603550';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE usage_resale (
        tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        buyer_tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        request_id uuid NOT NULL,
        created_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        model text NOT NULL,
        unit text NOT NULL DEFAULT 'token',
        quantity bigint NOT NULL DEFAULT 0 CHECK (quantity >= 0),
        input_tokens bigint NOT NULL DEFAULT 0,
        output_tokens bigint NOT NULL DEFAULT 0,
        cache_read_tokens bigint NOT NULL DEFAULT 0,
        cache_write_tokens bigint NOT NULL DEFAULT 0,
        revenue numeric(30, 9) NOT NULL,
        cost numeric(30, 9) NOT NULL,
        PRIMARY KEY (tenant_id, request_id, created_at)
      )`);
    await queryRunner.query(`CREATE INDEX usage_resale_tenant_recorded_idx ON usage_resale (tenant_id, recorded_at)`);
    await queryRunner.query(`CREATE INDEX usage_resale_tenant_created_idx ON usage_resale (tenant_id, created_at)`);
    // Append-only, written by metering (the system role): the application role reads its own rows;
    // its insert policy exists (scoped like every table's) but the privilege is not granted.
    await enableTenantRls(queryRunner, 'usage_resale', { commands: ['select', 'insert'] });
    await queryRunner.query(`REVOKE INSERT ON usage_resale FROM ${APP_ROLE}`);
    await queryRunner.query(`COMMENT ON TABLE usage_resale IS 'append-only'`);

    await queryRunner.query(`
      CREATE TABLE spot_price_factors (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        model text NOT NULL,
        factor numeric(12, 9) CHECK (factor IS NULL OR (factor > 0 AND factor <= 1)),
        effective_from timestamptz NOT NULL,
        set_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, model, effective_from)
      )`);
    await enableTenantRls(queryRunner, 'spot_price_factors', { commands: ['select', 'insert'] });
    await queryRunner.query(`COMMENT ON TABLE spot_price_factors IS 'append-only'`);
    // The platform's factors: read by every scoped transaction (a reseller's price book needs them,
    // as it needs the platform list), written by platform-wide scopes only, like platform_prices.
    await queryRunner.query(`
      CREATE TABLE platform_spot_factors (
        id uuid PRIMARY KEY,
        model text NOT NULL,
        factor numeric(12, 9) CHECK (factor IS NULL OR (factor > 0 AND factor <= 1)),
        effective_from timestamptz NOT NULL,
        set_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (model, effective_from)
      )`);
    await queryRunner.query(`ALTER TABLE platform_spot_factors ENABLE ROW LEVEL SECURITY`);
    await queryRunner.query(`ALTER TABLE platform_spot_factors FORCE ROW LEVEL SECURITY`);
    await queryRunner.query(
      `CREATE POLICY scoped_select ON platform_spot_factors FOR SELECT TO ${APP_ROLE} USING ((SELECT tenancy.current_tenant_id()) IS NOT NULL)`,
    );
    await queryRunner.query(`CREATE POLICY platform_insert ON platform_spot_factors FOR INSERT TO ${APP_ROLE} WITH CHECK ((SELECT tenancy.scope_is_all()))`);
    await queryRunner.query(`CREATE POLICY system_all ON platform_spot_factors FOR ALL TO ${SYSTEM_ROLE} USING (true) WITH CHECK (true)`);
    await queryRunner.query(`GRANT SELECT, INSERT ON platform_spot_factors TO ${APP_ROLE}`);
    await queryRunner.query(`GRANT SELECT, INSERT ON platform_spot_factors TO ${SYSTEM_ROLE}`);

    await queryRunner.query(`
      CREATE FUNCTION tenants_parent_is_reseller() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.parent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tenants p WHERE p.id = NEW.parent_id AND p.type = 'reseller') THEN
          RAISE EXCEPTION 'the parent of a sub-reseller must be a reseller' USING ERRCODE = '23514';
        END IF;
        IF NEW.parent_id = NEW.id THEN
          RAISE EXCEPTION 'a tenant cannot be its own parent' USING ERRCODE = '23514';
        END IF;
        RETURN NEW;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER tenants_parent_is_reseller BEFORE INSERT OR UPDATE OF parent_id ON tenants
        FOR EACH ROW EXECUTE FUNCTION tenants_parent_is_reseller()`);

    // A parent's sub-resellers: their ids only, and only for a parent the transaction's scope holds
    // (definer, owned by the system role like tenancy.resolve_domain): the parent then widens a
    // short transaction's scope to exactly those children for their tenant record and discount.
    await queryRunner.query(`
      CREATE FUNCTION tenancy.child_tenant_ids(p_parent uuid) RETURNS uuid[]
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        SELECT coalesce(array_agg(t.id ORDER BY t.id), '{}'::uuid[]) FROM public.tenants t
         WHERE t.parent_id = p_parent
           AND (p_parent = ANY ((SELECT tenancy.scope_tenant_ids())::uuid[]) OR (SELECT tenancy.scope_is_all()))
      $$`);
    await queryRunner.query(`GRANT CREATE ON SCHEMA tenancy TO ${SYSTEM_ROLE}`);
    await queryRunner.query(`ALTER FUNCTION tenancy.child_tenant_ids(uuid) OWNER TO ${SYSTEM_ROLE}`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION tenancy.child_tenant_ids(uuid) FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION tenancy.child_tenant_ids(uuid) TO ${APP_ROLE}`);
    await queryRunner.query(`REVOKE CREATE ON SCHEMA tenancy FROM ${SYSTEM_ROLE}`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION tenancy.child_tenant_ids(uuid)`);
    await queryRunner.query(`DROP TRIGGER tenants_parent_is_reseller ON tenants`);
    await queryRunner.query(`DROP FUNCTION tenants_parent_is_reseller()`);
    await queryRunner.query(`DROP TABLE platform_spot_factors`);
    await queryRunner.query(`DROP TABLE spot_price_factors`);
    await queryRunner.query(`DROP TABLE usage_resale`);
  }
}
