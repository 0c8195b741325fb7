import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { REDIS } from '@app/redis';
import Redis, { Cluster } from 'ioredis';
import type { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { METRIC, reportPool } from './metrics';

export type Dependency = 'postgres' | 'redis';
export interface ProbeResult {
  up: boolean;
  error?: string;
}

const PROBE_TIMEOUT_MS = 2000;
const PROBE_INTERVAL_MS = 10_000;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    work.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}

/**
 * Pings PostgreSQL and Redis for readiness and keeps `aigateway_dependency_up` current even when
 * nobody asks (every 10 s). The clients reconnect on their own, so a dependency that comes back is
 * reported up again without a restart.
 */
@Injectable()
export class DependencyProbe implements OnModuleInit, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private unreportPool?: () => void;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    @InjectMetric(METRIC.dependencyUp) private readonly dependencyUp: Gauge<'dependency'>,
  ) {}

  onModuleInit(): void {
    this.unreportPool = reportPool(() => {
      const pool = (this.dataSource.driver as unknown as { master?: { totalCount: number; idleCount: number; waitingCount: number } }).master;
      return pool ? { pool: 'app', total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } : undefined;
    });
    this.timer = setInterval(() => void this.probeAll(), PROBE_INTERVAL_MS);
    this.timer.unref();
    void this.probeAll();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
    this.unreportPool?.();
  }

  async probe(dependency: Dependency): Promise<ProbeResult> {
    try {
      if (dependency === 'postgres') await withTimeout(this.dataSource.query('SELECT 1'), PROBE_TIMEOUT_MS);
      else if (this.redis instanceof Cluster) await withTimeout(this.clusterServes(), PROBE_TIMEOUT_MS);
      else await withTimeout(this.redis.ping(), PROBE_TIMEOUT_MS);
      this.dependencyUp.set({ dependency }, 1);
      return { up: true };
    } catch (error) {
      this.dependencyUp.set({ dependency }, 0);
      // The message names the dependency and the failure class, never a connection string.
      const reason = error instanceof Error && /timeout|within/.test(error.message) ? 'timed out' : 'unreachable';
      return { up: false, error: `${dependency} ${reason}` };
    }
  }

  /**
   * A Cluster node answers PING while the cluster refuses commands (slots without a master), so the
   * cluster's own verdict is asked: `cluster_state:ok`.
   */
  private async clusterServes(): Promise<void> {
    const info = String(await (this.redis as unknown as Cluster).cluster('INFO'));
    if (!/^cluster_state:ok\s*$/m.test(info)) throw new Error('redis cluster state is not ok');
  }

  probeAll(): Promise<ProbeResult[]> {
    return Promise.all([this.probe('postgres'), this.probe('redis')]);
  }
}
