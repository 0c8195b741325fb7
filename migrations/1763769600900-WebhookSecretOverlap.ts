import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A rotated webhook secret keeps signing for a grace period: deliveries carry both signatures
 * (`v1,<new> v1,<old>`, as Standard Webhooks allows), so a receiver can switch without losing
 * one. The previous secret is sealed like the current one (CHANNEL_ENCRYPTION_KEYS, bound to the
 * endpoint) and stops being used at `previous_secret_expires_at`.
 */
export class WebhookSecretOverlap1763769600900 implements MigrationInterface {
  name = 'WebhookSecretOverlap1763769600900';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE webhook_endpoints
        ADD COLUMN previous_secret_ciphertext text,
        ADD COLUMN previous_secret_expires_at timestamptz,
        ADD CONSTRAINT webhook_endpoints_previous_secret CHECK ((previous_secret_ciphertext IS NULL) = (previous_secret_expires_at IS NULL))`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_previous_secret, DROP COLUMN previous_secret_expires_at, DROP COLUMN previous_secret_ciphertext`,
    );
  }
}
