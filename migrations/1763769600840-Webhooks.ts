import { MigrationInterface, QueryRunner } from 'typeorm';
import { APP_ROLE, enableTenantRls } from './lib/rls';

/**
 * Webhook endpoints and their deliveries (issue 13).
 *
 * - `webhook_endpoints`: a tenant's receiver: URL, subscribed event types, the signing secret
 *   (AES-256-GCM under CHANNEL_ENCRYPTION_KEYS, bound to the endpoint's id), enabled.
 * - `webhook_deliveries`: one event to one endpoint. The relay creates at most one per (endpoint,
 *   event) (the partial unique index); a redelivery asked for by the owner is a new row that
 *   names the delivery it repeats.
 * - `webhook_attempts`: the log, one row per HTTP attempt (status or error, latency, snippet).
 *
 * A delivery and its attempts always belong to the tenant of their endpoint (composite keys), so
 * no row can point across tenants even if a bug tried.
 */
export class Webhooks1763769600840 implements MigrationInterface {
  name = 'Webhooks1763769600840';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE webhook_endpoints (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        url text NOT NULL CHECK (length(url) BETWEEN 8 AND 2048 AND url ~ '^https?://'),
        events text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 64),
        secret_ciphertext text NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        description text CHECK (length(description) <= 500),
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, id)
      )`);
    await queryRunner.query(`CREATE INDEX webhook_endpoints_tenant_idx ON webhook_endpoints (tenant_id, created_at DESC)`);
    await enableTenantRls(queryRunner, 'webhook_endpoints');

    await queryRunner.query(`
      CREATE TABLE webhook_deliveries (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        endpoint_id uuid NOT NULL,
        event_id uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
        redelivery_of uuid REFERENCES webhook_deliveries (id) ON DELETE SET NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
        attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at timestamptz,
        last_status_code integer,
        last_error text,
        last_latency_ms integer,
        last_response_snippet text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        UNIQUE (tenant_id, id),
        FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
      )`);
    // The relay's guarantee: one first delivery per endpoint and event, however often it runs.
    await queryRunner.query(`CREATE UNIQUE INDEX webhook_deliveries_once_key ON webhook_deliveries (endpoint_id, event_id) WHERE redelivery_of IS NULL`);
    await queryRunner.query(`CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC)`);
    await queryRunner.query(`CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`);
    await queryRunner.query(`CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id)`);
    await queryRunner.query(`CREATE INDEX webhook_deliveries_redelivery_idx ON webhook_deliveries (redelivery_of) WHERE redelivery_of IS NOT NULL`);
    // The api adds redeliveries and test pings; the worker (in the tenant's scope) records attempts.
    // A policy per command (the RLS structure test requires them all), but the application may not
    // delete a delivery: they go only with their endpoint (ON DELETE CASCADE).
    await enableTenantRls(queryRunner, 'webhook_deliveries');
    await queryRunner.query(`REVOKE DELETE, TRUNCATE ON webhook_deliveries FROM ${APP_ROLE}`);

    await queryRunner.query(`
      CREATE TABLE webhook_attempts (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL DEFAULT tenancy.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
        delivery_id uuid NOT NULL,
        attempt integer NOT NULL CHECK (attempt >= 1),
        status_code integer,
        error text CHECK (length(error) <= 500),
        latency_ms integer NOT NULL CHECK (latency_ms >= 0),
        response_snippet text CHECK (length(response_snippet) <= 1024),
        succeeded boolean NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (delivery_id, attempt),
        FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries (tenant_id, id) ON DELETE CASCADE
      )`);
    // The log is append-only for the application.
    await enableTenantRls(queryRunner, 'webhook_attempts', { commands: ['select', 'insert'] });
    await queryRunner.query(`COMMENT ON TABLE webhook_attempts IS 'append-only'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE webhook_attempts`);
    await queryRunner.query(`DROP TABLE webhook_deliveries`);
    await queryRunner.query(`DROP TABLE webhook_endpoints`);
  }
}
