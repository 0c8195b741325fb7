import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Metering throughput (issue 29): every usage record maintains each index of usage_records, and
 * their maintenance is most of PostgreSQL's CPU per metered event. `usage_records_model_time_idx`
 * (tenant, model, time) served only an optional model filter of the usage reports and request
 * logs, which always bound the tenant and the time as well: those queries use
 * `usage_records_tenant_time_idx` (tenant, time) and filter the model on the rows of that range
 * (EXPLAIN in docs/profile.md, section Metering). One index less per record.
 */
export class UsageRecordsModelIndex1763769603800 implements MigrationInterface {
  name = 'UsageRecordsModelIndex1763769603800';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX IF EXISTS usage_records_model_time_idx`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX usage_records_model_time_idx ON usage_records (tenant_id, model, created_at)`);
  }
}
