import { AppConfig } from '@app/config';
import { DeliveryWork } from './webhooks.repository';

/** The body every receiver gets (docs/webhooks.md). */
export function payloadOf(work: Pick<DeliveryWork, 'eventId' | 'eventType' | 'eventCreatedAt' | 'tenantId' | 'eventData'>): string {
  return JSON.stringify({ id: work.eventId, type: work.eventType, createdAt: new Date(work.eventCreatedAt).toISOString(), tenantId: work.tenantId, data: work.eventData });
}

/** Delay before attempt n+1 after attempt n failed: base x 2^(n-1) (BullMQ's exponential backoff). */
export function retryDelayMs(base: number, failedAttempt: number): number {
  return base * 2 ** Math.max(0, failedAttempt - 1);
}

/** Job options of a delivery: its id is the delivery id, so adding it twice is a no-op. */
export function deliveryJobOptions(config: AppConfig, deliveryId: string) {
  return {
    jobId: deliveryId,
    attempts: config.WEBHOOK_MAX_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.WEBHOOK_RETRY_BASE_MS },
    removeOnComplete: { age: 3600, count: 1000 },
    removeOnFail: { age: 24 * 3600, count: 5000 },
  };
}
