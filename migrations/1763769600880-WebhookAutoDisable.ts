import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Endpoints that keep failing are disabled by the worker (WEBHOOK_DISABLE_AFTER_FAILURES
 * deliveries in a row failed for good): `disabled_reason` says why ('failing'; NULL when the
 * owner disabled it or it is enabled) and `disabled_at` since when. Enabling it again clears both.
 */
export class WebhookAutoDisable1763769600880 implements MigrationInterface {
  name = 'WebhookAutoDisable1763769600880';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE webhook_endpoints
        ADD COLUMN disabled_reason text CHECK (disabled_reason IN ('failing')),
        ADD COLUMN disabled_at timestamptz,
        ADD CONSTRAINT webhook_endpoints_disabled_state CHECK (NOT (enabled AND (disabled_reason IS NOT NULL OR disabled_at IS NOT NULL)))`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_disabled_state, DROP COLUMN disabled_at, DROP COLUMN disabled_reason`);
  }
}
