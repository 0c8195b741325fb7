import { MigrationInterface, QueryRunner } from 'typeorm';
import { enableTenantRls } from './lib/rls';

/**
 * Budgets per day, week or month (issue 26) for a customer or one API key, counted in the tenant's
 * time zone (`tenants.time_zone`, an IANA name, UTC by default). The proxy checks them in the same
 * Redis step as the hold; the amounts here are the limits, the spending is counted in Redis.
 */
export class Budgets1763769602620 implements MigrationInterface {
  name = 'Budgets1763769602620';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE tenants ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC' CHECK (length(time_zone) BETWEEN 1 AND 64)`);
    await queryRunner.query(`
      CREATE TABLE budgets (
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        subject text NOT NULL CHECK (subject IN ('customer', 'key')),
        subject_id uuid NOT NULL,
        period text NOT NULL CHECK (period IN ('day', 'week', 'month')),
        amount numeric(30,9) NOT NULL CHECK (amount >= 0),
        set_by uuid,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, subject, subject_id, period)
      )`);
    await enableTenantRls(queryRunner, 'budgets');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE budgets`);
    await queryRunner.query(`ALTER TABLE tenants DROP COLUMN time_zone`);
  }
}
