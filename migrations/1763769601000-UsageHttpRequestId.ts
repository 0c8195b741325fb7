import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The `x-request-id` an inference answer carried (the client's own, or the one the gateway made)
 * is stored on its usage record, so support can find the record of a disputed request. Searched
 * within a tenant, hence the index leads with tenant_id (RLS and the usage scope filter on it). The
 * table's grants and row-level security are table-wide; a new column needs none of its own.
 */
export class UsageHttpRequestId1763769601000 implements MigrationInterface {
  name = 'UsageHttpRequestId1763769601000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE usage_records ADD COLUMN http_request_id text`);
    await queryRunner.query(
      `CREATE INDEX usage_records_http_request_id_idx ON usage_records (tenant_id, http_request_id) WHERE http_request_id IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX usage_records_http_request_id_idx`);
    await queryRunner.query(`ALTER TABLE usage_records DROP COLUMN http_request_id`);
  }
}
