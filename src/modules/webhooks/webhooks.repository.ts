import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { WebhookAttemptView, WebhookDeliveryView, WebhookView } from './dto/webhook.dto';

interface EndpointRow {
  id: string;
  tenant_id: string;
  url: string;
  events: string[];
  enabled: boolean;
  description: string | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  disabled_reason: 'failing' | null;
  disabled_at: Date | null;
  previous_secret_expires_at: Date | null;
  secret_ciphertext?: string;
}

// The previous secret's expiry only while it still signs.
const ENDPOINT_COLUMNS = `id, tenant_id, url, events, enabled, description, created_by, created_at, updated_at, disabled_reason, disabled_at,
  CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END AS previous_secret_expires_at`;

const toEndpoint = (r: EndpointRow): WebhookView => ({
  id: r.id,
  tenantId: r.tenant_id,
  url: r.url,
  events: r.events,
  enabled: r.enabled,
  description: r.description,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  disabledReason: r.disabled_reason,
  disabledAt: r.disabled_at,
  rotationGraceUntil: r.previous_secret_expires_at,
});

export interface EndpointChanges {
  url?: string;
  events?: string[];
  enabled?: boolean;
  description?: string | null;
  secret_ciphertext?: string;
}

/** What the delivery processor needs to send one delivery. */
export interface DeliveryWork {
  deliveryId: string;
  tenantId: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  endpointId: string;
  url: string;
  enabled: boolean;
  secretCiphertext: string;
  /** The secret a rotation replaced, while its grace period lasts (it signs too). */
  previousSecretCiphertext: string | null;
  eventId: string;
  eventType: string;
  eventData: unknown;
  eventCreatedAt: Date;
}

export interface AttemptRecord {
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  snippet: string | null;
  succeeded: boolean;
}

/** Every query of webhook endpoints, deliveries and attempts; callers pass the transaction's manager. */
@Injectable()
export class WebhooksRepository {
  async insertEndpoint(m: EntityManager, row: { id: string; tenantId: string; url: string; events: string[]; enabled: boolean; description: string | null; secretCiphertext: string; createdBy: string }): Promise<void> {
    await m.query(
      `INSERT INTO webhook_endpoints (id, tenant_id, url, events, enabled, description, secret_ciphertext, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [row.id, row.tenantId, row.url, row.events, row.enabled, row.description, row.secretCiphertext, row.createdBy],
    );
  }

  async endpoint(m: EntityManager, id: string, options: { lock?: boolean } = {}): Promise<WebhookView | null> {
    const rows: EndpointRow[] = await m.query(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1${options.lock ? ' FOR UPDATE' : ''}`, [id]);
    return rows[0] ? toEndpoint(rows[0]) : null;
  }

  async listEndpoints(m: EntityManager, tenantId: string, offset: number, limit: number): Promise<{ items: WebhookView[]; total: number }> {
    const rows: Array<EndpointRow & { total: string }> = await m.query(
      `SELECT ${ENDPOINT_COLUMNS}, count(*) OVER () AS total FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT $3`,
      [tenantId, offset, limit],
    );
    const total = rows[0] ? Number(rows[0].total) : Number((await m.query(`SELECT count(*)::int AS n FROM webhook_endpoints WHERE tenant_id = $1`, [tenantId]))[0].n);
    return { items: rows.map(toEndpoint), total };
  }

  async updateEndpoint(m: EntityManager, id: string, changes: EndpointChanges): Promise<void> {
    const entries = Object.entries(changes).filter(([, v]) => v !== undefined);
    if (!entries.length) return;
    // Column names come from EndpointChanges' keys only, never from input.
    const sets = entries.map(([column], i) => `${column} = $${i + 2}`);
    // The owner enabling or disabling it decides: an automatic disabling's reason goes.
    if (changes.enabled !== undefined) sets.push(`disabled_reason = NULL, disabled_at = CASE WHEN enabled = $${sets.length + 2} THEN disabled_at WHEN $${sets.length + 2} THEN NULL ELSE now() END`);
    const values = entries.map(([, v]) => v);
    if (changes.enabled !== undefined) values.push(changes.enabled);
    await m.query(`UPDATE webhook_endpoints SET ${sets.join(', ')}, updated_at = now() WHERE id = $1`, [id, ...values]);
  }

  /** A new current secret; the old one keeps signing for `graceSeconds` (0: it stops at once). */
  async rotateSecret(m: EntityManager, id: string, ciphertext: string, graceSeconds: number): Promise<void> {
    await m.query(
      `UPDATE webhook_endpoints
          SET previous_secret_ciphertext = CASE WHEN $3 > 0 THEN secret_ciphertext END,
              previous_secret_expires_at = CASE WHEN $3 > 0 THEN now() + make_interval(secs => $3) END,
              secret_ciphertext = $2, updated_at = now()
        WHERE id = $1`,
      [id, ciphertext, graceSeconds],
    );
  }

  async deleteEndpoint(m: EntityManager, id: string): Promise<void> {
    await m.query(`DELETE FROM webhook_endpoints WHERE id = $1`, [id]);
  }

  async deliveries(m: EntityManager, endpointId: string, status: string | undefined, offset: number, limit: number): Promise<{ items: WebhookDeliveryView[]; total: number }> {
    const rows: Array<Record<string, any>> = await m.query(
      `SELECT d.id, d.endpoint_id, d.event_id, e.type AS event_type, d.redelivery_of, d.status, d.attempts, d.next_attempt_at, d.last_status_code,
              d.last_error, d.last_latency_ms, d.created_at, d.completed_at, count(*) OVER () AS total
         FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
        WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
        ORDER BY d.created_at DESC, d.id DESC OFFSET $3 LIMIT $4`,
      [endpointId, status ?? null, offset, limit],
    );
    const attempts = rows.length ? await this.attemptsOf(m, rows.map((r) => r.id)) : new Map<string, WebhookAttemptView[]>();
    return { items: rows.map((r) => toDelivery(r, attempts.get(r.id) ?? [])), total: rows[0] ? Number(rows[0].total) : 0 };
  }

  async delivery(m: EntityManager, endpointId: string, deliveryId: string): Promise<WebhookDeliveryView | null> {
    const rows: Array<Record<string, any>> = await m.query(
      `SELECT d.id, d.endpoint_id, d.event_id, e.type AS event_type, d.redelivery_of, d.status, d.attempts, d.next_attempt_at, d.last_status_code,
              d.last_error, d.last_latency_ms, d.created_at, d.completed_at
         FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
        WHERE d.id = $1 AND d.endpoint_id = $2`,
      [deliveryId, endpointId],
    );
    if (!rows[0]) return null;
    return toDelivery(rows[0], (await this.attemptsOf(m, [deliveryId])).get(deliveryId) ?? []);
  }

  private async attemptsOf(m: EntityManager, deliveryIds: string[]): Promise<Map<string, WebhookAttemptView[]>> {
    const rows: Array<Record<string, any>> = await m.query(
      `SELECT delivery_id, attempt, status_code, error, succeeded, latency_ms, response_snippet, created_at
         FROM webhook_attempts WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id, attempt`,
      [deliveryIds],
    );
    const out = new Map<string, WebhookAttemptView[]>();
    for (const r of rows) {
      const list = out.get(r.delivery_id) ?? [];
      list.push({ attempt: r.attempt, statusCode: r.status_code, error: r.error, succeeded: r.succeeded, latencyMs: r.latency_ms, responseSnippet: r.response_snippet, at: r.created_at });
      out.set(r.delivery_id, list);
    }
    return out;
  }

  /** A new delivery of an existing event to one endpoint (redelivery or test ping). */
  async insertDelivery(m: EntityManager, row: { tenantId: string; endpointId: string; eventId: string; redeliveryOf: string | null }): Promise<string> {
    const id = uuidv7();
    await m.query(
      `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, redelivery_of, next_attempt_at) VALUES ($1, $2, $3, $4, $5, now())`,
      [id, row.tenantId, row.endpointId, row.eventId, row.redeliveryOf],
    );
    return id;
  }

  /** A `webhook.test` event that the relay never fans out (it is born dispatched). */
  async insertTestEvent(m: EntityManager, tenantId: string, data: Record<string, unknown>): Promise<string> {
    const id = uuidv7();
    await m.query(`INSERT INTO webhook_events (id, tenant_id, type, data, dispatched_at) VALUES ($1, $2, 'webhook.test', $3, now())`, [id, tenantId, JSON.stringify(data)]);
    return id;
  }

  // ---- worker side ----

  /**
   * The relay's step, on the system role: takes up to `limit` undispatched events (skipping those
   * another worker holds), creates one delivery per subscribed, enabled endpoint of the event's
   * tenant (at most one per endpoint and event, whatever happens), marks the events dispatched.
   * Returns the new deliveries, to be enqueued after commit.
   */
  async relayBatch(m: EntityManager, limit: number): Promise<{ events: number; deliveries: Array<{ id: string; tenantId: string }> }> {
    const events: Array<{ id: string }> = await m.query(
      `SELECT id FROM webhook_events WHERE dispatched_at IS NULL ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    if (!events.length) return { events: 0, deliveries: [] };
    const ids = events.map((e) => e.id);
    const pairs: Array<{ tenant_id: string; endpoint_id: string; event_id: string }> = await m.query(
      `SELECT e.tenant_id, ep.id AS endpoint_id, e.id AS event_id
         FROM webhook_events e
         JOIN webhook_endpoints ep ON ep.tenant_id = e.tenant_id AND ep.enabled AND e.type = ANY (ep.events)
        WHERE e.id = ANY ($1::uuid[])
        ORDER BY e.created_at, e.id, ep.id`,
      [ids],
    );
    const deliveries: Array<{ id: string; tenant_id: string }> = pairs.length
      ? await m.query(
          `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, next_attempt_at)
           SELECT id, tenant_id, endpoint_id, event_id, now() FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[]) AS p (id, tenant_id, endpoint_id, event_id)
           ON CONFLICT (endpoint_id, event_id) WHERE redelivery_of IS NULL DO NOTHING
           RETURNING id, tenant_id`,
          [pairs.map(() => uuidv7()), pairs.map((p) => p.tenant_id), pairs.map((p) => p.endpoint_id), pairs.map((p) => p.event_id)],
        )
      : [];
    await m.query(`UPDATE webhook_events SET dispatched_at = now() WHERE id = ANY ($1::uuid[])`, [ids]);
    return { events: ids.length, deliveries: deliveries.map((d) => ({ id: d.id, tenantId: d.tenant_id })) };
  }

  /** Pending deliveries that made no progress for a while: their job may be gone (Redis lost it). */
  async stalledDeliveries(m: EntityManager, olderThanMs: number, limit: number): Promise<Array<{ id: string; tenantId: string }>> {
    const rows: Array<{ id: string; tenant_id: string }> = await m.query(
      `SELECT id, tenant_id FROM webhook_deliveries
        WHERE status = 'pending' AND COALESCE(next_attempt_at, created_at) < now() - ($1::int * interval '1 millisecond')
        ORDER BY next_attempt_at NULLS FIRST LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows.map((r) => ({ id: r.id, tenantId: r.tenant_id }));
  }

  async work(m: EntityManager, deliveryId: string): Promise<DeliveryWork | null> {
    const rows: Array<Record<string, any>> = await m.query(
      `SELECT d.id, d.tenant_id, d.status, d.attempts, ep.id AS endpoint_id, ep.url, ep.enabled, ep.secret_ciphertext,
              CASE WHEN ep.previous_secret_expires_at > now() THEN ep.previous_secret_ciphertext END AS previous_secret_ciphertext,
              e.id AS event_id, e.type, e.data, e.created_at AS event_created_at
         FROM webhook_deliveries d
         JOIN webhook_endpoints ep ON ep.id = d.endpoint_id
         JOIN webhook_events e ON e.id = d.event_id
        WHERE d.id = $1
          FOR UPDATE OF d`,
      [deliveryId],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      deliveryId: r.id,
      tenantId: r.tenant_id,
      status: r.status,
      attempts: r.attempts,
      endpointId: r.endpoint_id,
      url: r.url,
      enabled: r.enabled,
      secretCiphertext: r.secret_ciphertext,
      previousSecretCiphertext: r.previous_secret_ciphertext,
      eventId: r.event_id,
      eventType: r.type,
      eventData: r.data,
      eventCreatedAt: r.event_created_at,
    };
  }

  /** Counts the attempt before it is made, so a crash mid-attempt still counts against the limit. */
  async startAttempt(m: EntityManager, deliveryId: string): Promise<number> {
    // TypeORM answers an UPDATE ... RETURNING with [rows, affected].
    const [rows] = await m.query(`UPDATE webhook_deliveries SET attempts = attempts + 1, updated_at = now() WHERE id = $1 RETURNING attempts`, [deliveryId]);
    return rows[0].attempts;
  }

  async recordAttempt(
    m: EntityManager,
    work: { deliveryId: string; tenantId: string },
    attempt: number,
    result: AttemptRecord,
    outcome: { status: 'pending' | 'succeeded' | 'failed'; nextAttemptAt: Date | null },
  ): Promise<void> {
    await m.query(
      `INSERT INTO webhook_attempts (id, tenant_id, delivery_id, attempt, status_code, error, latency_ms, response_snippet, succeeded)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (delivery_id, attempt) DO NOTHING`,
      [uuidv7(), work.tenantId, work.deliveryId, attempt, result.statusCode, result.error, result.latencyMs, result.snippet, result.succeeded],
    );
    await m.query(
      `UPDATE webhook_deliveries
          SET status = $2, next_attempt_at = $3, last_status_code = $4, last_error = $5, last_latency_ms = $6, last_response_snippet = $7,
              updated_at = now(), completed_at = CASE WHEN $2 = 'pending' THEN NULL ELSE now() END
        WHERE id = $1`,
      [work.deliveryId, outcome.status, outcome.nextAttemptAt, result.statusCode, result.error, result.latencyMs, result.snippet],
    );
  }

  /**
   * Disables the endpoint when its last `failures` finished deliveries all failed for good (none
   * succeeded), and records it in the tenant's audit log as done by the system. True if it did.
   */
  async disableIfFailing(m: EntityManager, endpointId: string, failures: number): Promise<boolean> {
    const [rows] = await m.query(
      `UPDATE webhook_endpoints e SET enabled = false, disabled_reason = 'failing', disabled_at = now(), updated_at = now()
        WHERE e.id = $1 AND e.enabled
          AND (SELECT count(*) FILTER (WHERE last.status = 'failed') FROM (
                 SELECT d.status FROM webhook_deliveries d
                  WHERE d.endpoint_id = e.id AND d.status <> 'pending'
                  ORDER BY d.completed_at DESC LIMIT $2) last) = $2
        RETURNING e.tenant_id`,
      [endpointId, failures],
    );
    if (rows.length === 0) return false;
    await m.query(
      `INSERT INTO audit_log (id, tenant_id, actor_user_id, actor_tenant_id, action, subject_type, subject_id, changes)
       VALUES ($1, $2, NULL, NULL, 'webhook.disabled_failing', 'WebhookEndpoint', $3, $4)`,
      [uuidv7(), rows[0].tenant_id, endpointId, JSON.stringify({ enabled: { from: true, to: false }, disabledReason: { to: 'failing' }, failedInARow: { to: failures } })],
    );
    return true;
  }

  /** Ends a delivery without an attempt (its endpoint was disabled meanwhile). */
  async abandon(m: EntityManager, deliveryId: string, reason: string): Promise<void> {
    await m.query(
      `UPDATE webhook_deliveries SET status = 'failed', last_error = $2, next_attempt_at = NULL, updated_at = now(), completed_at = now() WHERE id = $1`,
      [deliveryId, reason],
    );
  }
}

function toDelivery(r: Record<string, any>, attemptLog: WebhookAttemptView[]): WebhookDeliveryView {
  return {
    id: r.id,
    endpointId: r.endpoint_id,
    eventId: r.event_id,
    eventType: r.event_type,
    redeliveryOf: r.redelivery_of,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastStatusCode: r.last_status_code,
    lastError: r.last_error,
    lastLatencyMs: r.last_latency_ms,
    createdAt: r.created_at,
    completedAt: r.completed_at,
    attemptLog,
  };
}
