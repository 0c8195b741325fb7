import { getQueueToken } from '@nestjs/bullmq';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Queue } from 'bullmq';
import { Gauge, register } from 'prom-client';
import { ALL_QUEUES } from './queues';

const STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized'] as const;

/** Queue depth by state, read from Redis at each scrape (worker only). */
@Injectable()
export class QueueMetrics implements OnModuleInit {
  constructor(private readonly moduleRef: ModuleRef) {}

  onModuleInit(): void {
    const queues = ALL_QUEUES.map((name) => this.moduleRef.get<Queue>(getQueueToken(name), { strict: false }));
    if (register.getSingleMetric('aigateway_queue_jobs')) register.removeSingleMetric('aigateway_queue_jobs');
    new Gauge({
      name: 'aigateway_queue_jobs',
      help: 'BullMQ jobs by queue and state',
      labelNames: ['queue', 'state'] as const,
      async collect() {
        await Promise.all(
          queues.map(async (queue) => {
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
    });
  }
}
