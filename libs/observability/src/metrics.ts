import { Counter, Gauge, Histogram, register } from 'prom-client';

/**
 * Every metric the processes export is declared here, so dashboards and alerts have one list to
 * follow (the chart's checks compare them with a live /metrics). Adding a metric is one entry.
 */
function once<T>(name: string, create: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? create();
}

export const httpRequestDuration = once(
  'http_request_duration_seconds',
  () =>
    new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route template, method and status',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
);

export const httpRequestsTotal = once(
  'http_requests_total',
  () =>
    new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route template, method, status and tenant',
      labelNames: ['method', 'route', 'status_code', 'tenant'] as const,
    }),
);

export const dependencyUp = once(
  'aigateway_dependency_up',
  () =>
    new Gauge({
      name: 'aigateway_dependency_up',
      help: '1 when the dependency answered its last readiness probe, else 0',
      labelNames: ['dependency'] as const,
    }),
);

export type PoolStats = { pool: string; total: number; idle: number; waiting: number };

let poolSources: Array<() => PoolStats | undefined> = [];

/** Registers a connection pool whose size is reported at every scrape; returns the unregister. */
export function reportPool(source: () => PoolStats | undefined): () => void {
  poolSources.push(source);
  return () => {
    poolSources = poolSources.filter((s) => s !== source);
  };
}

export const dbPoolConnections = once(
  'aigateway_db_pool_connections',
  () =>
    new Gauge({
      name: 'aigateway_db_pool_connections',
      help: 'PostgreSQL pool connections by pool and state (total, idle, waiting clients)',
      labelNames: ['pool', 'state'] as const,
      collect() {
        this.reset();
        for (const source of poolSources) {
          const stats = source();
          if (!stats) continue;
          this.set({ pool: stats.pool, state: 'total' }, stats.total);
          this.set({ pool: stats.pool, state: 'idle' }, stats.idle);
          this.set({ pool: stats.pool, state: 'waiting' }, stats.waiting);
        }
      },
    }),
);

/** Usage events handled by the metering processor, by outcome (written, duplicate, dead_letter). */
export const meteringEventsTotal = once(
  'aigateway_metering_events_total',
  () =>
    new Counter({
      name: 'aigateway_metering_events_total',
      help: 'Usage events handled by the metering processor by outcome (written, duplicate, dead_letter)',
      labelNames: ['outcome'] as const,
    }),
);
for (const outcome of ['written', 'duplicate', 'dead_letter']) meteringEventsTotal.inc({ outcome }, 0);

export const meteringBatchDuration = once(
  'aigateway_metering_batch_duration_seconds',
  () =>
    new Histogram({
      name: 'aigateway_metering_batch_duration_seconds',
      help: 'Time to write one batch of usage events (usage records and ledger) in PostgreSQL',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
);

/** Usage events waiting in the tenants' streams (not yet metered), at the last pass of the processor. */
export const meteringBacklog = once(
  'aigateway_metering_backlog_events',
  () => new Gauge({ name: 'aigateway_metering_backlog_events', help: 'Usage events not yet metered (all tenant streams)' }),
);

/** Dead letters waiting for inspection (all tenants). */
export const meteringDeadLetters = once(
  'aigateway_metering_dead_letter_events',
  () => new Gauge({ name: 'aigateway_metering_dead_letter_events', help: 'Usage events in the dead-letter streams (all tenants)' }),
);

/** Result of the last balance reconciliation: the summed absolute drift (currency units) and the wallets drifting. */
export const balanceDrift = once(
  'aigateway_balance_drift',
  () =>
    new Gauge({
      name: 'aigateway_balance_drift',
      help: 'Last reconciliation: summed absolute drift between Redis balances and the ledger (currency units)',
    }),
);
export const balanceDriftWallets = once(
  'aigateway_balance_drift_wallets',
  () => new Gauge({ name: 'aigateway_balance_drift_wallets', help: 'Last reconciliation: wallets whose Redis balance drifted from the ledger' }),
);
export const balanceCorrectionsTotal = once(
  'aigateway_balance_corrections_total',
  () => new Counter({ name: 'aigateway_balance_corrections_total', help: 'Redis balances corrected by reconciliation after a persistent drift' }),
);
export const holdsExpiredTotal = once(
  'aigateway_holds_expired_total',
  () => new Counter({ name: 'aigateway_holds_expired_total', help: 'Balance holds released after their expiry (left by a crashed api instance)' }),
);
