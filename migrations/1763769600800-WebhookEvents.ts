import { MigrationInterface, QueryRunner } from 'typeorm';
import { enableTenantRls } from './lib/rls';

/**
 * The webhook outbox: an event is a row written in the same transaction as the change it reports
 * (a key revoked, a statement closed, a withdrawal paid...), so an event exists if and only if its
 * change committed. The worker's relay fans each undispatched event out to the tenant's matching
 * endpoints and marks it dispatched. The application may only add events and read them.
 */
export class WebhookEvents1763769600800 implements MigrationInterface {
  name = 'WebhookEvents1763769600800';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE webhook_events (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        type text NOT NULL CHECK (type ~ '^[a-z_]+\\.[a-z_]+$' AND length(type) <= 64),
        data jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        dispatched_at timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX webhook_events_pending_idx ON webhook_events (created_at, id) WHERE dispatched_at IS NULL`);
    await queryRunner.query(`CREATE INDEX webhook_events_tenant_idx ON webhook_events (tenant_id, created_at DESC)`);
    await enableTenantRls(queryRunner, 'webhook_events', { commands: ['select', 'insert'] });
    // For the application role; the worker's relay (system role) marks events dispatched.
    await queryRunner.query(`COMMENT ON TABLE webhook_events IS 'append-only'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE webhook_events`);
  }
}
