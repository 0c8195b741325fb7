import { getQueueToken } from '@nestjs/bullmq';
import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import { Queue } from 'bullmq';
import type { Gauge } from 'prom-client';
import { ALL_QUEUES } from './queues';

const STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized'] as const;

/** The queues of the running worker(s) of this process, read at each scrape. */
const sources = new Set<Queue>();

/** Queue depth by state, read from Redis at each scrape (worker only), registered through @willsoto/nestjs-prometheus. */
export const queueMetricProviders = [
  makeGaugeProvider({
    name: 'aigateway_queue_jobs',
    help: 'BullMQ jobs by queue and state',
    labelNames: ['queue', 'state'] as const,
    async collect(this: Gauge<'queue' | 'state'>) {
      await Promise.all(
        [...sources].map(async (queue) => {
          const counts = await Promise.race([
            queue.getJobCounts(...STATES),
            new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1000).unref()),
          ]).catch(() => undefined);
          // While Redis is away the series disappear rather than report stale numbers.
          for (const state of STATES) {
            if (counts) this.set({ queue: queue.name, state }, counts[state] ?? 0);
            else this.remove({ queue: queue.name, state });
          }
        }),
      );
    },
  }),
];

/** Hands the worker's queues to the gauge above while the worker runs. */
@Injectable()
export class QueueMetrics implements OnModuleInit, OnModuleDestroy {
  private queues: Queue[] = [];

  constructor(private readonly moduleRef: ModuleRef) {}

  onModuleInit(): void {
    this.queues = ALL_QUEUES.map((name) => this.moduleRef.get<Queue>(getQueueToken(name), { strict: false }));
    for (const queue of this.queues) sources.add(queue);
  }

  onModuleDestroy(): void {
    for (const queue of this.queues) sources.delete(queue);
  }
}
