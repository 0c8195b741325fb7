import { MigrationInterface, QueryRunner } from 'typeorm';
import { enableTenantRls } from './lib/rls';

/**
 * Request logs (issue 27).
 * - `usage_records_time_idx`: the records list pages newest first by (created_at, request_id)
 *   across tenants (platform monitoring) and across monthly partitions; per partition this index
 *   lets PostgreSQL merge the partitions in order instead of sorting them.
 * - Optional content logging, per tenant, off by default: `content_logging_settings` (the owner
 *   turns it on, with a retention in days) and `request_contents` (prompts and completions, kept
 *   apart from usage records, deleted by the worker once expired or once logging is turned off).
 *   Both tenant-owned with forced RLS.
 */
export class RequestLogs1763769602700 implements MigrationInterface {
  name = 'RequestLogs1763769602700';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX usage_records_time_idx ON usage_records (created_at, request_id)`);

    await queryRunner.query(`
      CREATE TABLE content_logging_settings (
        tenant_id uuid PRIMARY KEY DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        enabled boolean NOT NULL DEFAULT false,
        retention_days integer NOT NULL DEFAULT 7 CHECK (retention_days BETWEEN 1 AND 365),
        updated_by uuid,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await enableTenantRls(queryRunner, 'content_logging_settings');

    await queryRunner.query(`
      CREATE TABLE request_contents (
        request_id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id(),
        customer_id uuid NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        prompt text NOT NULL,
        completion text
      )`);
    await queryRunner.query(`CREATE INDEX request_contents_expiry_idx ON request_contents (expires_at)`);
    await queryRunner.query(`CREATE INDEX request_contents_tenant_idx ON request_contents (tenant_id, created_at)`);
    await enableTenantRls(queryRunner, 'request_contents');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE request_contents`);
    await queryRunner.query(`DROP TABLE content_logging_settings`);
    await queryRunner.query(`DROP INDEX usage_records_time_idx`);
  }
}
