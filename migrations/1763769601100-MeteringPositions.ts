import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, enableTenantRls } from './lib/rls';

/**
 * Metering bookkeeping (DESIGN.md "Metering and settlement"):
 * - `metering_positions`: per tenant usage stream (shard), the highest stream entry id whose usage
 *   is in the ledger, written in the same transaction as each metering batch. Reconciliation
 *   compares the ledger with Redis at that position (one consistent cut) instead of at two
 *   different moments.
 * - `api_keys.last_used_at`: when the key was last used (the newest event time metering saw),
 *   shown by the keys API.
 */
export class MeteringPositions1763769601100 implements MigrationInterface {
  name = 'MeteringPositions1763769601100';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE metering_positions (
        tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
        -- Stream entry id <ms>-<seq>, as two integers so that ids compare in order.
        last_ms bigint NOT NULL,
        last_seq bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await enableTenantRls(queryRunner, 'metering_positions');
    // Only metering (the system role) writes positions; the application may read its tenant's.
    await queryRunner.query(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON metering_positions FROM ${APP_ROLE}`);
    await queryRunner.query(`ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE api_keys DROP COLUMN last_used_at`);
    await queryRunner.query(`DROP TABLE metering_positions`);
  }
}
