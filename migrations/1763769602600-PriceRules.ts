import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, enableTenantRls } from './lib/rls';

const NONE = `'00000000-0000-0000-0000-000000000000'::uuid`;

/**
 * Price rules of a tenant beyond its own list (issue 26):
 *
 * - `customer_groups`: tiers of customers; `customer_group_members` puts a customer in at most one.
 * - `price_factors`: versioned multipliers, append-only. `group_id` NULL is the tenant-wide markup
 *   (wholesale x factor for models without an explicit retail price); otherwise a group's
 *   multiplier on the customer's base price. A NULL factor is a version that clears the rule.
 * - `price_overrides`: versioned explicit prices of one model for a group or one customer,
 *   append-only; `cleared` is a version that removes the override from its time on.
 *
 * Versions are never updated or deleted (a past request keeps the price it was charged), exactly
 * like `tenant_prices`.
 */
export class PriceRules1763769602600 implements MigrationInterface {
  name = 'PriceRules1763769602600';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE customer_groups (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (id, tenant_id)
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX customer_groups_name_key ON customer_groups (tenant_id, lower(name))`);
    await enableTenantRls(queryRunner, 'customer_groups');

    await queryRunner.query(`
      CREATE TABLE customer_group_members (
        customer_id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        group_id uuid NOT NULL,
        set_by uuid,
        updated_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (customer_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE,
        FOREIGN KEY (group_id, tenant_id) REFERENCES customer_groups (id, tenant_id) ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX customer_group_members_tenant_idx ON customer_group_members (tenant_id, group_id)`);
    await enableTenantRls(queryRunner, 'customer_group_members');

    await queryRunner.query(`
      CREATE TABLE price_factors (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        group_id uuid,
        factor numeric(12,6) CHECK (factor > 0 AND factor <= 1000),
        effective_from timestamptz NOT NULL,
        set_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (group_id, tenant_id) REFERENCES customer_groups (id, tenant_id) ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX price_factors_version_key ON price_factors (tenant_id, coalesce(group_id, ${NONE}), effective_from)`);
    await enableTenantRls(queryRunner, 'price_factors', { commands: ['select', 'insert'] });
    await queryRunner.query(`REVOKE UPDATE, DELETE, TRUNCATE ON price_factors FROM ${APP_ROLE}`);

    await queryRunner.query(`
      CREATE TABLE price_overrides (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        group_id uuid,
        customer_id uuid,
        model text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
        cleared boolean NOT NULL DEFAULT false,
        input_per_million numeric(30,9) CHECK (input_per_million >= 0),
        output_per_million numeric(30,9) CHECK (output_per_million >= 0),
        cache_read_per_million numeric(30,9) CHECK (cache_read_per_million >= 0),
        cache_write_per_million numeric(30,9) CHECK (cache_write_per_million >= 0),
        cache_write_1h_per_million numeric(30,9) CHECK (cache_write_1h_per_million >= 0),
        reasoning_per_million numeric(30,9) CHECK (reasoning_per_million >= 0),
        per_request numeric(30,9) CHECK (per_request >= 0),
        effective_from timestamptz NOT NULL,
        set_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((group_id IS NULL) <> (customer_id IS NULL)),
        CHECK (cleared OR (input_per_million IS NOT NULL AND output_per_million IS NOT NULL)),
        FOREIGN KEY (group_id, tenant_id) REFERENCES customer_groups (id, tenant_id) ON DELETE CASCADE,
        FOREIGN KEY (customer_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX price_overrides_version_key ON price_overrides (tenant_id, coalesce(group_id, ${NONE}), coalesce(customer_id, ${NONE}), model, effective_from)`,
    );
    await enableTenantRls(queryRunner, 'price_overrides', { commands: ['select', 'insert'] });
    await queryRunner.query(`REVOKE UPDATE, DELETE, TRUNCATE ON price_overrides FROM ${APP_ROLE}`);
    await queryRunner.query(`COMMENT ON TABLE price_factors IS 'append-only'`);
    await queryRunner.query(`COMMENT ON TABLE price_overrides IS 'append-only'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE price_overrides`);
    await queryRunner.query(`DROP TABLE price_factors`);
    await queryRunner.query(`DROP TABLE customer_group_members`);
    await queryRunner.query(`DROP TABLE customer_groups`);
  }
}
