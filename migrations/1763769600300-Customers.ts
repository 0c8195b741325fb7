import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, enableTenantRls, SYSTEM_ROLE, tenantPredicate } from './lib/rls';

/**
 * Customers (users holding the `user` role), their sales bindings, platform sales bound to
 * reseller tenants, and the usage records the metering pipeline writes.
 *
 * Bindings are periods: a row per (customer, salesperson) from `bound_at` to `unbound_at`; the
 * current one has `unbound_at IS NULL`, and a partial unique index allows at most one current
 * row per customer (per reseller for platform sales). Every row is history: past usage is credited
 * to the salesperson of its time by joining on the period.
 *
 * `sales_user_id` deliberately has no foreign key: the periods must outlive a salesperson who is
 * removed (members are deleted), or past usage could no longer be credited to them. Removing or
 * disabling a salesperson closes their current bindings first (MembersService), and binding checks
 * the salesperson (same tenant, `sales` role, active) under a row lock in the same transaction.
 */
export class Customers1763769600300 implements MigrationInterface {
  name = 'Customers1763769600300';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // Last use of the API (the metering pipeline sets it); sign-ins keep last_login_at.
    await queryRunner.query(`ALTER TABLE users ADD COLUMN last_active_at timestamptz`);

    await queryRunner.query(`
      CREATE TABLE customer_bindings (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        customer_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        sales_user_id uuid NOT NULL,
        bound_at timestamptz NOT NULL DEFAULT now(),
        unbound_at timestamptz,
        bound_by uuid,
        unbound_by uuid,
        unbind_reason text CHECK (unbind_reason IS NULL OR length(unbind_reason) <= 500),
        FOREIGN KEY (customer_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE,
        CONSTRAINT customer_bindings_period CHECK (unbound_at IS NULL OR unbound_at >= bound_at),
        CONSTRAINT customer_bindings_not_self CHECK (customer_id <> sales_user_id)
      )`);
    // At most one current salesperson per customer.
    await queryRunner.query(
      `CREATE UNIQUE INDEX customer_bindings_current_key ON customer_bindings (customer_id) WHERE unbound_at IS NULL`,
    );
    // "My customers" (the CASL condition on salesUserId becomes a lookup here).
    await queryRunner.query(
      `CREATE INDEX customer_bindings_sales_current_idx ON customer_bindings (sales_user_id, customer_id) WHERE unbound_at IS NULL`,
    );
    await queryRunner.query(`CREATE INDEX customer_bindings_history_idx ON customer_bindings (tenant_id, customer_id, bound_at)`);
    await enableTenantRls(queryRunner, 'customer_bindings');

    // Platform sales -> reseller tenants. The binding belongs to the platform tenant (tenant_id),
    // so a platform salesperson's own scope can read it when their principal is loaded.
    await queryRunner.query(`
      CREATE TABLE tenant_sales_bindings (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        reseller_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        sales_user_id uuid NOT NULL,
        bound_at timestamptz NOT NULL DEFAULT now(),
        unbound_at timestamptz,
        bound_by uuid,
        unbound_by uuid,
        unbind_reason text CHECK (unbind_reason IS NULL OR length(unbind_reason) <= 500),
        CONSTRAINT tenant_sales_bindings_period CHECK (unbound_at IS NULL OR unbound_at >= bound_at),
        CONSTRAINT tenant_sales_bindings_not_self CHECK (reseller_id <> tenant_id)
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX tenant_sales_bindings_current_key ON tenant_sales_bindings (reseller_id) WHERE unbound_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX tenant_sales_bindings_sales_current_idx ON tenant_sales_bindings (sales_user_id, reseller_id) WHERE unbound_at IS NULL`,
    );
    await queryRunner.query(`CREATE INDEX tenant_sales_bindings_history_idx ON tenant_sales_bindings (reseller_id, bound_at)`);
    await enableTenantRls(queryRunner, 'tenant_sales_bindings');

    // One row per inference request, partitioned by month. Exactly-once: the primary key is
    // (request_id, created_at) and created_at is the time carried by the usage event (never the
    // time of insertion), so a redelivered event hits the same key and `ON CONFLICT DO NOTHING`
    // drops it. No foreign keys: the metering processor writes thousands of rows a second, and
    // keys/channels live in tables of their own lifecycles.
    await queryRunner.query(`
      CREATE TABLE usage_records (
        request_id uuid NOT NULL,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id(),
        customer_id uuid NOT NULL,
        api_key_id uuid,
        channel_id uuid,
        model text NOT NULL,
        upstream_model text,
        pool text NOT NULL DEFAULT 'standard',
        input_tokens bigint NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
        output_tokens bigint NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
        cache_read_tokens bigint NOT NULL DEFAULT 0 CHECK (cache_read_tokens >= 0),
        cache_write_tokens bigint NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0),
        retail_charge numeric(30, 9) NOT NULL DEFAULT 0,
        wholesale_cost numeric(30, 9) NOT NULL DEFAULT 0,
        upstream_cost numeric(30, 9) NOT NULL DEFAULT 0,
        status text NOT NULL,
        error_code text,
        latency_ms integer NOT NULL DEFAULT 0,
        ttft_ms integer,
        stream boolean NOT NULL DEFAULT false,
        client_ip inet,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (request_id, created_at)
      ) PARTITION BY RANGE (created_at)`);
    await queryRunner.query(`CREATE INDEX usage_records_tenant_time_idx ON usage_records (tenant_id, created_at)`);
    await queryRunner.query(`CREATE INDEX usage_records_customer_time_idx ON usage_records (tenant_id, customer_id, created_at)`);
    await queryRunner.query(
      `CREATE INDEX usage_records_key_time_idx ON usage_records (tenant_id, api_key_id, created_at) WHERE api_key_id IS NOT NULL`,
    );
    await queryRunner.query(`CREATE INDEX usage_records_model_time_idx ON usage_records (tenant_id, model, created_at)`);
    // Policies on the parent govern every query through it; each partition gets the same forced
    // policies, so a query naming a partition directly is scoped exactly the same way.
    await enableTenantRls(queryRunner, 'usage_records');

    const predicate = tenantPredicate('tenant_id');
    await queryRunner.query(`
      CREATE FUNCTION usage_records_secure_partition(p_table text) RETURNS void
      LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
      BEGIN
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', p_table);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', p_table);
        EXECUTE format('CREATE POLICY tenant_select ON %I AS PERMISSIVE FOR SELECT TO ${APP_ROLE} USING ${predicate.replace(/'/g, "''")}', p_table);
        EXECUTE format('CREATE POLICY tenant_insert ON %I AS PERMISSIVE FOR INSERT TO ${APP_ROLE} WITH CHECK ${predicate.replace(/'/g, "''")}', p_table);
        EXECUTE format('CREATE POLICY tenant_update ON %I AS PERMISSIVE FOR UPDATE TO ${APP_ROLE} USING ${predicate.replace(/'/g, "''")} WITH CHECK ${predicate.replace(/'/g, "''")}', p_table);
        EXECUTE format('CREATE POLICY tenant_delete ON %I AS PERMISSIVE FOR DELETE TO ${APP_ROLE} USING ${predicate.replace(/'/g, "''")}', p_table);
        EXECUTE format('CREATE POLICY system_all ON %I AS PERMISSIVE FOR ALL TO ${SYSTEM_ROLE} USING (true) WITH CHECK (true)', p_table);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO ${APP_ROLE}, ${SYSTEM_ROLE}', p_table);
      END
      $fn$`);

    // Creates the monthly partitions from the month of p_from through p_months months after it
    // (idempotent). Rows that fell into the default partition for such a month are moved into it.
    // The worker's scheduler calls this ahead of time (as the system role).
    await queryRunner.query(`
      CREATE FUNCTION usage_records_ensure_partitions(p_from timestamptz, p_months integer) RETURNS integer
      LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $fn$
      DECLARE
        month_start timestamptz;
        month_end timestamptz;
        part text;
        created integer := 0;
      BEGIN
        IF p_months < 0 OR p_months > 120 THEN
          RAISE EXCEPTION 'p_months must be between 0 and 120' USING ERRCODE = '22023';
        END IF;
        FOR i IN 0..p_months LOOP
          month_start := (date_trunc('month', p_from AT TIME ZONE 'UTC') + make_interval(months => i)) AT TIME ZONE 'UTC';
          month_end := (date_trunc('month', p_from AT TIME ZONE 'UTC') + make_interval(months => i + 1)) AT TIME ZONE 'UTC';
          part := 'usage_records_' || to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM');
          CONTINUE WHEN to_regclass(part) IS NOT NULL;
          EXECUTE format('CREATE TABLE %I (LIKE usage_records INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
          EXECUTE format('WITH moved AS (DELETE FROM usage_records_default WHERE created_at >= $1 AND created_at < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved', part)
            USING month_start, month_end;
          EXECUTE format('ALTER TABLE usage_records ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, month_start, month_end);
          PERFORM usage_records_secure_partition(part);
          created := created + 1;
        END LOOP;
        RETURN created;
      END
      $fn$`);

    // A row whose month has no partition yet is never refused (usage must not be lost); the next
    // ensure_partitions run moves it into its month.
    await queryRunner.query(`CREATE TABLE usage_records_default PARTITION OF usage_records DEFAULT`);
    await queryRunner.query(`SELECT usage_records_secure_partition('usage_records_default')`);
    await queryRunner.query(`SELECT usage_records_ensure_partitions(now() - interval '2 months', 5)`);

    await queryRunner.query(`REVOKE ALL ON FUNCTION usage_records_secure_partition(text) FROM PUBLIC`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION usage_records_ensure_partitions(timestamptz, integer) FROM PUBLIC`);
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION usage_records_ensure_partitions(timestamptz, integer) TO ${SYSTEM_ROLE}`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE usage_records`);
    await queryRunner.query(`DROP FUNCTION usage_records_ensure_partitions(timestamptz, integer)`);
    await queryRunner.query(`DROP FUNCTION usage_records_secure_partition(text)`);
    await queryRunner.query(`DROP TABLE tenant_sales_bindings`);
    await queryRunner.query(`DROP TABLE customer_bindings`);
    await queryRunner.query(`ALTER TABLE users DROP COLUMN last_active_at`);
  }
}
