import { makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import type { Gauge } from 'prom-client';

/**
 * The shared metrics of every process, registered as providers through @willsoto/nestjs-prometheus
 * (ObservabilityModule provides and exports them; inject one with `@InjectMetric(name)`). The
 * feature modules declare their own the same way (inference, channels, webhooks). They are served
 * on METRICS_PORT by the small metrics app (MetricsServer), never on the traffic port.
 */
export const METRIC = {
  httpRequestDuration: 'http_request_duration_seconds',
  httpRequestsTotal: 'http_requests_total',
  dependencyUp: 'aigateway_dependency_up',
  dbPoolConnections: 'aigateway_db_pool_connections',
  meteringEventsTotal: 'aigateway_metering_events_total',
  meteringBatchDuration: 'aigateway_metering_batch_duration_seconds',
  meteringBacklog: 'aigateway_metering_backlog_events',
  meteringLag: 'aigateway_metering_lag_seconds',
  meteringDeadLetters: 'aigateway_metering_dead_letter_events',
  balanceDrift: 'aigateway_balance_drift',
  balanceDriftWallets: 'aigateway_balance_drift_wallets',
  balanceCorrectionsTotal: 'aigateway_balance_corrections_total',
  holdsExpiredTotal: 'aigateway_holds_expired_total',
} as const;

export type PoolStats = { pool: string; total: number; idle: number; waiting: number };

let poolSources: Array<() => PoolStats | undefined> = [];

/** Registers a connection pool whose size is reported at every scrape; returns the unregister. */
export function reportPool(source: () => PoolStats | undefined): () => void {
  poolSources.push(source);
  return () => {
    poolSources = poolSources.filter((s) => s !== source);
  };
}

export const observabilityMetricProviders = [
  makeHistogramProvider({
    name: METRIC.httpRequestDuration,
    help: 'HTTP request duration by route template, method and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  }),
  makeCounterProvider({
    name: METRIC.httpRequestsTotal,
    help: 'HTTP requests by route template, method, status and tenant',
    labelNames: ['method', 'route', 'status_code', 'tenant'] as const,
  }),
  makeGaugeProvider({
    name: METRIC.dependencyUp,
    help: '1 when the dependency answered its last readiness probe, else 0',
    labelNames: ['dependency'] as const,
  }),
  makeGaugeProvider({
    name: METRIC.dbPoolConnections,
    help: 'PostgreSQL pool connections by pool and state (total, idle, waiting clients)',
    labelNames: ['pool', 'state'] as const,
    // Read at each scrape from the pools registered with reportPool (api and worker, system role).
    collect(this: Gauge<'pool' | 'state'>) {
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
  /** Usage events handled by the metering processor, by outcome (written, duplicate, dead_letter). */
  makeCounterProvider({
    name: METRIC.meteringEventsTotal,
    help: 'Usage events handled by the metering processor by outcome (written, duplicate, dead_letter)',
    labelNames: ['outcome'] as const,
  }),
  makeHistogramProvider({
    name: METRIC.meteringBatchDuration,
    help: 'Time to write one batch of usage events (usage records and ledger) in PostgreSQL',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  }),
  /** Usage events waiting in the tenants' streams (not yet metered), at the last pass of the processor. */
  makeGaugeProvider({ name: METRIC.meteringBacklog, help: 'Usage events not yet metered (all tenant streams)' }),
  /** Age of the oldest usage event not yet metered (0 when none waits), at the last pass of the processor. */
  makeGaugeProvider({ name: METRIC.meteringLag, help: 'Age in seconds of the oldest usage event not yet metered (all tenant streams)' }),
  /** Dead letters waiting for inspection (all tenants). */
  makeGaugeProvider({ name: METRIC.meteringDeadLetters, help: 'Usage events in the dead-letter streams (all tenants)' }),
  /** Result of the last balance reconciliation: the summed absolute drift (currency units) and the wallets drifting. */
  makeGaugeProvider({
    name: METRIC.balanceDrift,
    help: 'Last reconciliation: summed absolute drift between Redis balances and the ledger (currency units)',
  }),
  makeGaugeProvider({ name: METRIC.balanceDriftWallets, help: 'Last reconciliation: wallets whose Redis balance drifted from the ledger' }),
  makeCounterProvider({ name: METRIC.balanceCorrectionsTotal, help: 'Redis balances corrected by reconciliation after a persistent drift' }),
  makeCounterProvider({ name: METRIC.holdsExpiredTotal, help: 'Balance holds released after their expiry (left by a crashed api instance)' }),
];
