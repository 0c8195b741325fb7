import { MigrationInterface, QueryRunner } from 'typeorm';
import { enableTenantRls } from './lib/rls';

/**
 * Running totals of the risk rules' windows (issue 29, metering cost): each metering batch used to
 * recount every window it touched from usage_records (a busy key's hour of records, every batch);
 * now a window's total is counted from the records once, when a batch first touches it, and then
 * moved by each batch's own new records. The distinct client addresses of a key's hour are kept as
 * a set (one row per address). Both are the rule's working state, not a record: a rule turned on
 * again starts from the records, and windows two days old are removed.
 */
export class RiskWindowTotals1763769603850 implements MigrationInterface {
  name = 'RiskWindowTotals1763769603850';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE risk_window_totals (
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        rule text NOT NULL,
        subject_id uuid NOT NULL,
        window_start timestamptz NOT NULL,
        total numeric(38,9) NOT NULL,
        PRIMARY KEY (tenant_id, rule, subject_id, window_start)
      )`);
    await enableTenantRls(queryRunner, 'risk_window_totals');
    await queryRunner.query(`
      CREATE TABLE risk_window_addresses (
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        api_key_id uuid NOT NULL,
        window_start timestamptz NOT NULL,
        client_ip inet NOT NULL,
        PRIMARY KEY (tenant_id, api_key_id, window_start, client_ip)
      )`);
    await enableTenantRls(queryRunner, 'risk_window_addresses');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE risk_window_addresses`);
    await queryRunner.query(`DROP TABLE risk_window_totals`);
  }
}
