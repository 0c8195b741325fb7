import { Global, Injectable, Module } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';

/** Every event a tenant's webhook endpoint can subscribe to (issue 13). */
export const WEBHOOK_EVENT_TYPES = [
  'billing.low_balance',
  'billing.balance_depleted',
  'key.created',
  'key.disabled',
  'key.revoked',
  'key.rotated',
  'key.expiring',
  'credit.created',
  'account.status_changed',
  'statement.closed',
  'withdrawal.updated',
  /** Platform only: an upstream channel's account ran out of quota or balance; the channel is skipped until enabled again. */
  'provider.quota_exhausted',
  /** A risk rule triggered (issue 26): the flag, and the API keys it suspended, if any. */
  'risk.flagged',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * Records a webhook event inside the caller's transaction (the transactional outbox): the event
 * commits or rolls back with the change it reports. Delivery happens later, in the worker, which
 * reads `webhook_events` and fans each event out to the tenant's subscribed endpoints.
 *
 * `data` is the event's public payload as the receiver will see it: ids, amounts as decimal
 * strings, states; never secrets.
 */
@Injectable()
export class WebhookOutbox {
  async publish(manager: EntityManager, tenantId: string, type: WebhookEventType, data: Record<string, unknown>): Promise<string> {
    const id = uuidv7();
    await manager.query(`INSERT INTO webhook_events (id, tenant_id, type, data) VALUES ($1, $2, $3, $4)`, [id, tenantId, type, JSON.stringify(data)]);
    return id;
  }
}

/** Global, so any module's service can publish without importing the webhooks module. */
@Global()
@Module({ providers: [WebhookOutbox], exports: [WebhookOutbox] })
export class WebhookOutboxModule {}
