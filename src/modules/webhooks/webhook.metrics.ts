import { makeCounterProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';

export const WEBHOOK_METRIC = {
  attemptsTotal: 'aigateway_webhook_attempts_total',
  deliveriesTotal: 'aigateway_webhook_deliveries_total',
  attemptDuration: 'aigateway_webhook_attempt_duration_seconds',
  relayedEventsTotal: 'aigateway_webhook_relayed_events_total',
  endpointsDisabledTotal: 'aigateway_webhook_endpoints_disabled_total',
} as const;

/**
 * Webhook delivery metrics (worker), registered through @willsoto/nestjs-prometheus by the
 * webhooks worker module. Labels are bounded: outcomes and error kinds only, never the tenant or the URL.
 */
export const webhookMetricProviders = [
  makeCounterProvider({
    name: WEBHOOK_METRIC.attemptsTotal,
    help: 'Webhook delivery attempts by result (succeeded, or the error kind: http_error, timeout, blocked_address...)',
    labelNames: ['result'] as const,
  }),
  makeCounterProvider({
    name: WEBHOOK_METRIC.deliveriesTotal,
    help: 'Webhook deliveries that ended, by final status (succeeded, failed)',
    labelNames: ['status'] as const,
  }),
  makeHistogramProvider({
    name: WEBHOOK_METRIC.attemptDuration,
    help: 'Time of one webhook attempt, from the request until the response was read or the attempt failed',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  }),
  makeCounterProvider({ name: WEBHOOK_METRIC.relayedEventsTotal, help: 'Webhook events fanned out by the relay (each to zero or more endpoints)' }),
  makeCounterProvider({
    name: WEBHOOK_METRIC.endpointsDisabledTotal,
    help: 'Webhook endpoints the worker disabled because their last deliveries all failed (WEBHOOK_DISABLE_AFTER_FAILURES)',
  }),
];
