import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Two more priced buckets (issue 23): prompt tokens written to the one-hour cache (Anthropic's
 * `cache_control.ttl: "1h"`, twice input there, against 1.25x for the five-minute kind) and
 * reasoning tokens. NULL keeps the default: twice the input price, and the output price. Both
 * price lists get them; the tables' grants and row-level security are table-wide.
 */
export class PriceBucketsForAgents1763769601600 implements MigrationInterface {
  name = 'PriceBucketsForAgents1763769601600';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['platform_prices', 'tenant_prices']) {
      await queryRunner.query(
        `ALTER TABLE ${table}
           ADD COLUMN cache_write_1h_per_million numeric(30,9) CHECK (cache_write_1h_per_million >= 0),
           ADD COLUMN reasoning_per_million numeric(30,9) CHECK (reasoning_per_million >= 0)`,
      );
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['platform_prices', 'tenant_prices']) {
      await queryRunner.query(`ALTER TABLE ${table} DROP COLUMN cache_write_1h_per_million, DROP COLUMN reasoning_per_million`);
    }
  }
}
