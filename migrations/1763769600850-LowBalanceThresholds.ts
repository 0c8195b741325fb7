import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Low-balance thresholds (issue 13, events `billing.low_balance` and `billing.balance_depleted`).
 *
 * A customer's wallet is "low" once its balance is at or below its threshold: the customer's own
 * (`users.low_balance_threshold`), else the tenant's default (`tenants.low_balance_threshold`),
 * else the platform-wide `LOW_BALANCE_DEFAULT_THRESHOLD`. NULL means "inherit"; 0 turns the
 * low-balance event off at that level (the depleted event does not depend on a threshold).
 *
 * No new table and no new policy: both columns live on rows that are already tenant-scoped
 * (RLS on `users` by tenant_id and on `tenants` by id), and the application role already
 * updates those rows.
 */
export class LowBalanceThresholds1763769600850 implements MigrationInterface {
  name = 'LowBalanceThresholds1763769600850';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['users', 'tenants']) {
      await queryRunner.query(`
        ALTER TABLE ${table} ADD COLUMN low_balance_threshold numeric(30, 9)
          CONSTRAINT ${table}_low_balance_threshold_check CHECK (low_balance_threshold >= 0)`);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE users DROP COLUMN low_balance_threshold`);
    await queryRunner.query(`ALTER TABLE tenants DROP COLUMN low_balance_threshold`);
  }
}
