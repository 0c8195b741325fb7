import { makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';

export const CHANNEL_METRIC = {
  requestsTotal: 'aigateway_channel_requests_total',
  errorsTotal: 'aigateway_channel_errors_total',
  latency: 'aigateway_channel_latency_seconds',
  breakerState: 'aigateway_channel_breaker_state',
  up: 'aigateway_channel_up',
} as const;

export type ChannelLabels = 'channel_id' | 'channel';

/**
 * Per-channel metrics, registered through @willsoto/nestjs-prometheus by the modules that use them
 * (the api's channel runtime, the worker's health checks). Labels are bounded: the channel's id
 * and name (a few dozen channels at most), never the tenant, the key or the model the client sent.
 */
export const channelMetricProviders = [
  makeCounterProvider({ name: CHANNEL_METRIC.requestsTotal, help: 'Upstream requests by channel and outcome (ok or error)', labelNames: ['channel_id', 'channel', 'outcome'] as const }),
  makeCounterProvider({
    name: CHANNEL_METRIC.errorsTotal,
    help: 'Upstream errors by channel and kind (connect, timeout_*, http_5xx, http_429, auth, protocol...)',
    labelNames: ['channel_id', 'channel', 'kind'] as const,
  }),
  makeHistogramProvider({
    name: CHANNEL_METRIC.latency,
    help: 'Time from sending the upstream request to its first byte (status line), by channel',
    labelNames: ['channel_id', 'channel'] as const,
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
  }),
  makeGaugeProvider({ name: CHANNEL_METRIC.breakerState, help: 'Circuit breaker of each channel on this instance: 0 closed, 1 half-open, 2 open', labelNames: ['channel_id', 'channel'] as const }),
  makeGaugeProvider({ name: CHANNEL_METRIC.up, help: '1 when the last scheduled health check of the channel succeeded, else 0', labelNames: ['channel_id', 'channel'] as const }),
];

export const BREAKER_STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;
