import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhook history is not kept forever: the worker's maintenance job deletes events older than
 * WEBHOOK_RETENTION_DAYS once they were dispatched and none of their deliveries is still pending;
 * their deliveries and attempts go with them (ON DELETE CASCADE). This index lets the job find
 * them oldest first without reading the whole outbox.
 */
export class WebhookRetention1763769600870 implements MigrationInterface {
  name = 'WebhookRetention1763769600870';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX webhook_events_dispatched_idx ON webhook_events (created_at) WHERE dispatched_at IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX webhook_events_dispatched_idx`);
  }
}
