import { WebhookEventType } from '../webhooks/webhook-outbox';

export type BalanceEventType = Extract<WebhookEventType, 'billing.low_balance' | 'billing.balance_depleted'>;

/**
 * The balance events one change of a wallet (from `before` to `after`, nano-units) publishes:
 * `billing.low_balance` when it crosses down to or below a positive threshold
 * (before > threshold >= after), `billing.balance_depleted` when it crosses down to zero or below
 * (before > 0 >= after). A wallet that was already low or empty publishes nothing more until a
 * credit lifts it back above; a threshold of 0 means the low-balance event is off.
 */
export function balanceCrossings(before: bigint, after: bigint, threshold: bigint): BalanceEventType[] {
  const events: BalanceEventType[] = [];
  if (threshold > 0n && before > threshold && after <= threshold) events.push('billing.low_balance');
  if (before > 0n && after <= 0n) events.push('billing.balance_depleted');
  return events;
}
