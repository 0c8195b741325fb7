import { Counter, Gauge, Histogram, register } from 'prom-client';

function once<T>(name: string, create: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? create();
}

/**
 * Per-channel metrics. Labels are bounded: the channel's id and name (a few dozen channels at
 * most), never the tenant, the key or the model the client sent.
 */
export const channelRequestsTotal = once(
  'aigateway_channel_requests_total',
  () => new Counter({ name: 'aigateway_channel_requests_total', help: 'Upstream requests by channel and outcome (ok or error)', labelNames: ['channel_id', 'channel', 'outcome'] as const }),
);

export const channelErrorsTotal = once(
  'aigateway_channel_errors_total',
  () => new Counter({ name: 'aigateway_channel_errors_total', help: 'Upstream errors by channel and kind (connect, timeout_*, http_5xx, http_429, auth, protocol...)', labelNames: ['channel_id', 'channel', 'kind'] as const }),
);

export const channelLatency = once(
  'aigateway_channel_latency_seconds',
  () =>
    new Histogram({
      name: 'aigateway_channel_latency_seconds',
      help: 'Time from sending the upstream request to its first byte (status line), by channel',
      labelNames: ['channel_id', 'channel'] as const,
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    }),
);

export const channelBreakerState = once(
  'aigateway_channel_breaker_state',
  () => new Gauge({ name: 'aigateway_channel_breaker_state', help: 'Circuit breaker of each channel on this instance: 0 closed, 1 half-open, 2 open', labelNames: ['channel_id', 'channel'] as const }),
);

export const channelUp = once(
  'aigateway_channel_up',
  () => new Gauge({ name: 'aigateway_channel_up', help: '1 when the last scheduled health check of the channel succeeded, else 0', labelNames: ['channel_id', 'channel'] as const }),
);

export const BREAKER_STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;
