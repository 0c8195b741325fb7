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
