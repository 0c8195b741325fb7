import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, enableTenantRls, SYSTEM_ROLE } from './lib/rls';

const PRICE_COLUMNS = `
        input_per_million numeric(30,9) NOT NULL CHECK (input_per_million >= 0),
        output_per_million numeric(30,9) NOT NULL CHECK (output_per_million >= 0),
        cache_read_per_million numeric(30,9) CHECK (cache_read_per_million >= 0),
        cache_write_per_million numeric(30,9) CHECK (cache_write_per_million >= 0),
        per_request numeric(30,9) CHECK (per_request >= 0),
        effective_from timestamptz NOT NULL,
        set_by uuid,
        created_at timestamptz NOT NULL DEFAULT now()`;

/**
 * Price books and API keys.
 *
 * - `platform_prices`: the platform's list (retail for the platform's own customers, wholesale for
 *   resellers). Platform-owned, no tenant: every scoped transaction reads it; only a platform-wide
 *   scope (platform owner, finance) may add to it. Versioned by `effective_from`, append-only.
 * - `tenant_prices`: a reseller's own retail prices, same shape, tenant-scoped, append-only.
 * - `tenant_hidden_models`, `reseller_wholesale_discounts`: tenant-scoped settings.
 * - `api_keys`: only the SHA-256 of a secret is stored (current, and the previous one during a
 *   rotation's grace period).
 */
export class KeysAndPricing1763769600400 implements MigrationInterface {
  name = 'KeysAndPricing1763769600400';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE platform_prices (
        id uuid PRIMARY KEY,
        model text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),${PRICE_COLUMNS}
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX platform_prices_model_from_key ON platform_prices (model, effective_from)`);
    await queryRunner.query(`ALTER TABLE platform_prices ENABLE ROW LEVEL SECURITY`);
    await queryRunner.query(`ALTER TABLE platform_prices FORCE ROW LEVEL SECURITY`);
    await queryRunner.query(
      `CREATE POLICY scoped_select ON platform_prices FOR SELECT TO ${APP_ROLE} USING ((SELECT tenancy.current_tenant_id()) IS NOT NULL)`,
    );
    await queryRunner.query(`CREATE POLICY platform_insert ON platform_prices FOR INSERT TO ${APP_ROLE} WITH CHECK ((SELECT tenancy.scope_is_all()))`);
    await queryRunner.query(`CREATE POLICY system_all ON platform_prices FOR ALL TO ${SYSTEM_ROLE} USING (true) WITH CHECK (true)`);
    await queryRunner.query(`GRANT SELECT, INSERT ON platform_prices TO ${APP_ROLE}`);
    await queryRunner.query(`GRANT SELECT, INSERT ON platform_prices TO ${SYSTEM_ROLE}`);

    await queryRunner.query(`
      CREATE TABLE tenant_prices (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        model text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),${PRICE_COLUMNS}
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX tenant_prices_model_from_key ON tenant_prices (tenant_id, model, effective_from)`);
    // Prices are never changed or deleted, only superseded.
    await enableTenantRls(queryRunner, 'tenant_prices', { commands: ['select', 'insert'] });
    await queryRunner.query(`REVOKE UPDATE, DELETE, TRUNCATE ON tenant_prices FROM ${APP_ROLE}`);
    await queryRunner.query(`COMMENT ON TABLE tenant_prices IS 'append-only'`);

    await queryRunner.query(`
      CREATE TABLE tenant_hidden_models (
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        model text NOT NULL,
        hidden_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, model)
      )`);
    await enableTenantRls(queryRunner, 'tenant_hidden_models');

    await queryRunner.query(`
      CREATE TABLE reseller_wholesale_discounts (
        tenant_id uuid PRIMARY KEY DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        percent numeric(5,2) NOT NULL CHECK (percent >= 0 AND percent < 100),
        set_by uuid,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await enableTenantRls(queryRunner, 'reseller_wholesale_discounts');

    await queryRunner.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        customer_id uuid NOT NULL,
        name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
        prefix text NOT NULL,
        secret_hash bytea NOT NULL,
        previous_secret_hash bytea,
        previous_secret_expires_at timestamptz,
        allowed_models text[],
        rpm_limit integer CHECK (rpm_limit > 0),
        tpm_limit integer CHECK (tpm_limit > 0),
        spend_limit numeric(30,9) CHECK (spend_limit >= 0),
        spent numeric(30,9) NOT NULL DEFAULT 0,
        expires_at timestamptz,
        ip_allowlist text[],
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'revoked')),
        revoked_at timestamptz,
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (customer_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX api_keys_secret_hash_key ON api_keys (secret_hash)`);
    await queryRunner.query(`CREATE UNIQUE INDEX api_keys_previous_secret_hash_key ON api_keys (previous_secret_hash) WHERE previous_secret_hash IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX api_keys_customer_idx ON api_keys (tenant_id, customer_id)`);
    await enableTenantRls(queryRunner, 'api_keys');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE api_keys`);
    await queryRunner.query(`DROP TABLE reseller_wholesale_discounts`);
    await queryRunner.query(`DROP TABLE tenant_hidden_models`);
    await queryRunner.query(`DROP TABLE tenant_prices`);
    await queryRunner.query(`DROP TABLE platform_prices`);
  }
}
