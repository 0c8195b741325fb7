import { MigrationInterface, QueryRunner } from 'typeorm';
import { enableTenantRls } from './lib/rls';

/**
 * Limits stored in the database (issue 26), in place of the process-wide environment values,
 * which remain the defaults: NULL in a column means "the default".
 *
 * - `tenant_limits`: a tenant's requests and tokens per minute across its customers (the platform
 *   sets them).
 * - `customer_limits`: a customer's requests and tokens per minute and requests in flight at once
 *   across its keys (the reseller's owner sets them).
 * - `api_keys.concurrency_limit`: requests of one key in flight at once.
 * A 0 is "no limit", explicitly (overriding a non-zero default).
 */
export class ConsumptionLimits1763769602610 implements MigrationInterface {
  name = 'ConsumptionLimits1763769602610';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE tenant_limits (
        tenant_id uuid PRIMARY KEY DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        rpm integer CHECK (rpm >= 0),
        tpm integer CHECK (tpm >= 0),
        updated_by uuid,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await enableTenantRls(queryRunner, 'tenant_limits');

    await queryRunner.query(`
      CREATE TABLE customer_limits (
        customer_id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        rpm integer CHECK (rpm >= 0),
        tpm integer CHECK (tpm >= 0),
        concurrency integer CHECK (concurrency >= 0),
        updated_by uuid,
        updated_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (customer_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX customer_limits_tenant_idx ON customer_limits (tenant_id)`);
    await enableTenantRls(queryRunner, 'customer_limits');

    await queryRunner.query(`ALTER TABLE api_keys ADD COLUMN concurrency_limit integer CHECK (concurrency_limit > 0)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE api_keys DROP COLUMN concurrency_limit`);
    await queryRunner.query(`DROP TABLE customer_limits`);
    await queryRunner.query(`DROP TABLE tenant_limits`);
  }
}
