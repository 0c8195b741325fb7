import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Hourly and daily windows besides the minute (issue 26): requests and tokens per clock hour and
 * per day (the tenant's time-zone day), for tenants, customers and API keys. NULL: no limit (these
 * windows have no platform default).
 */
export class RateWindows1763769603700 implements MigrationInterface {
  name = 'RateWindows1763769603700';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['tenant_limits', 'customer_limits']) {
      await queryRunner.query(
        `ALTER TABLE ${table} ADD COLUMN rph integer CHECK (rph > 0), ADD COLUMN rpd integer CHECK (rpd > 0),
                              ADD COLUMN tph bigint CHECK (tph > 0), ADD COLUMN tpd bigint CHECK (tpd > 0)`,
      );
    }
    await queryRunner.query(
      `ALTER TABLE api_keys ADD COLUMN rph_limit integer CHECK (rph_limit > 0), ADD COLUMN rpd_limit integer CHECK (rpd_limit > 0),
                            ADD COLUMN tph_limit bigint CHECK (tph_limit > 0), ADD COLUMN tpd_limit bigint CHECK (tpd_limit > 0)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['tenant_limits', 'customer_limits']) {
      await queryRunner.query(`ALTER TABLE ${table} DROP COLUMN rph, DROP COLUMN rpd, DROP COLUMN tph, DROP COLUMN tpd`);
    }
    await queryRunner.query(`ALTER TABLE api_keys DROP COLUMN rph_limit, DROP COLUMN rpd_limit, DROP COLUMN tph_limit, DROP COLUMN tpd_limit`);
  }
}
