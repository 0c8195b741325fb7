import { getQueueToken, WorkerHost } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, ModuleRef } from '@nestjs/core';
import { Queue } from 'bullmq';
import { ALL_QUEUES } from './queues';

const REPORT_EVERY_MS = 30_000;

/**
 * BullMQ queues and workers emit 'error' on every failed reconnect; without a listener BullMQ
 * prints each one raw to stderr (outside the JSON logs), every couple of seconds while Redis is
 * away. An outage is already reported by readiness and `aigateway_dependency_up`, so here each
 * queue and worker logs one warning per 30 s.
 */
@Injectable()
export class QueueErrorLog implements OnApplicationBootstrap {
  private readonly logger = new Logger('Queue');
  private readonly lastReported = new Map<string, number>();

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly discovery: DiscoveryService,
  ) {}

  onApplicationBootstrap(): void {
    for (const name of ALL_QUEUES) {
      const queue = this.moduleRef.get<Queue>(getQueueToken(name), { strict: false });
      queue.on('error', (error) => this.report(`queue ${name}`, error));
    }
    for (const { instance } of this.discovery.getProviders()) {
      if (!(instance instanceof WorkerHost)) continue;
      try {
        const worker = instance.worker;
        worker.on('error', (error: Error) => this.report(`worker ${worker.name}`, error));
      } catch {
        // A processor registered manually has no worker yet; BullMQ reports it itself.
      }
    }
  }

  private report(source: string, error: Error): void {
    const now = Date.now();
    if (now - (this.lastReported.get(source) ?? 0) < REPORT_EVERY_MS) return;
    this.lastReported.set(source, now);
    this.logger.warn(`${source}: ${error.message}`);
  }
}
