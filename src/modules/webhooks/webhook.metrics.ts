import { Counter, Histogram, register } from 'prom-client';

function once<T>(name: string, create: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? create();
}

/** Labels are bounded: outcomes and error kinds only, never the tenant or the URL. */
export const webhookAttemptsTotal = once(
  'aigateway_webhook_attempts_total',
  () =>
    new Counter({
      name: 'aigateway_webhook_attempts_total',
      help: 'Webhook delivery attempts by result (succeeded, or the error kind: http_error, timeout, blocked_address...)',
      labelNames: ['result'] as const,
    }),
);

export const webhookDeliveriesTotal = once(
  'aigateway_webhook_deliveries_total',
  () =>
    new Counter({
      name: 'aigateway_webhook_deliveries_total',
      help: 'Webhook deliveries that ended, by final status (succeeded, failed)',
      labelNames: ['status'] as const,
    }),
);

export const webhookAttemptDuration = once(
  'aigateway_webhook_attempt_duration_seconds',
  () =>
    new Histogram({
      name: 'aigateway_webhook_attempt_duration_seconds',
      help: 'Time of one webhook attempt, from the request until the response was read or the attempt failed',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
);

export const webhookRelayedEventsTotal = once(
  'aigateway_webhook_relayed_events_total',
  () => new Counter({ name: 'aigateway_webhook_relayed_events_total', help: 'Webhook events fanned out by the relay (each to zero or more endpoints)' }),
);

export const webhookEndpointsDisabledTotal = once(
  'aigateway_webhook_endpoints_disabled_total',
  () =>
    new Counter({
      name: 'aigateway_webhook_endpoints_disabled_total',
      help: 'Webhook endpoints the worker disabled because their last deliveries all failed (WEBHOOK_DISABLE_AFTER_FAILURES)',
    }),
);
