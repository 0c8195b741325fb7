import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Usage is posted to the ledger per metering batch and tenant (DESIGN.md "Money"): one ledger
 * transaction carries the legs of many customers' wallets, so a customer's transactions are read
 * from their wallet's entries (an entry is dated like its transaction: both are written at the
 * same now()). This index serves that listing, newest first with a (created_at, transaction) cursor.
 */
export class UsagePostedPerBatch1763769602900 implements MigrationInterface {
  name = 'UsagePostedPerBatch1763769602900';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX ledger_entries_account_time_idx ON ledger_entries (account_id, created_at, transaction_id)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX ledger_entries_account_time_idx`);
  }
}
