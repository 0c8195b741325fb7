import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `key.expiring`: the worker tells a tenant's webhooks, once, that an active key expires within
 * KEY_EXPIRY_NOTICE_DAYS. `expiry_notified_at` marks the notice; changing the key's expiry clears
 * it (a new date gets its own notice). The partial index holds only the keys still to notify.
 */
export class KeyExpiryNotice1763769600890 implements MigrationInterface {
  name = 'KeyExpiryNotice1763769600890';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE api_keys ADD COLUMN expiry_notified_at timestamptz`);
    await queryRunner.query(
      `CREATE INDEX api_keys_expiry_notice_idx ON api_keys (expires_at) WHERE expires_at IS NOT NULL AND expiry_notified_at IS NULL AND status = 'active'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX api_keys_expiry_notice_idx`);
    await queryRunner.query(`ALTER TABLE api_keys DROP COLUMN expiry_notified_at`);
  }
}
