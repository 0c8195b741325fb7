import { MigrationInterface, QueryRunner } from 'typeorm';

const UNITS = `('token', 'image', 'second', 'character', 'search_unit', 'request')`;

/**
 * Price units (issue 24): every price version says what it counts (tokens, images, seconds of
 * audio, characters, search units, requests), and an image price may be a table by size and
 * quality (`image_prices`: `{"1024x1024/hd": "0.08", "1024x1024": "0.04"}`, decimal strings per
 * image). Every usage record and statement line by model says its unit and the quantity billed in
 * it. Existing rows are tokens. Grants and row-level security are table-wide: new columns need
 * none of their own.
 */
export class PriceUnits1763769603100 implements MigrationInterface {
  name = 'PriceUnits1763769603100';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['platform_prices', 'tenant_prices', 'price_overrides']) {
      await queryRunner.query(`ALTER TABLE ${table} ADD COLUMN unit text NOT NULL DEFAULT 'token' CHECK (unit IN ${UNITS})`);
      await queryRunner.query(`ALTER TABLE ${table} ADD COLUMN image_prices jsonb CHECK (image_prices IS NULL OR jsonb_typeof(image_prices) = 'object')`);
    }
    await queryRunner.query(`ALTER TABLE usage_records ADD COLUMN unit text NOT NULL DEFAULT 'token' CHECK (unit IN ${UNITS})`);
    await queryRunner.query(`ALTER TABLE usage_records ADD COLUMN quantity bigint NOT NULL DEFAULT 0 CHECK (quantity >= 0)`);
    await queryRunner.query(`ALTER TABLE statement_lines ADD COLUMN unit text CHECK (unit IS NULL OR unit IN ${UNITS})`);
    await queryRunner.query(`ALTER TABLE statement_lines ADD COLUMN quantity bigint`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE statement_lines DROP COLUMN quantity, DROP COLUMN unit`);
    await queryRunner.query(`ALTER TABLE usage_records DROP COLUMN quantity, DROP COLUMN unit`);
    for (const table of ['platform_prices', 'tenant_prices', 'price_overrides']) {
      await queryRunner.query(`ALTER TABLE ${table} DROP COLUMN image_prices, DROP COLUMN unit`);
    }
  }
}
