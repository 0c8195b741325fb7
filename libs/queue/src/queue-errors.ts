import { getQueueToken, WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, ModuleRef } from '@nestjs/core';
import { Queue } from 'bullmq';
import { ALL_QUEUES } from './queues';

const REPORT_EVERY_MS = 30_000;
/** How long a close waits for a queue's connection to finish starting (Redis may be away). */
const SETTLE_BEFORE_CLOSE_MS = 2_000;

/**
 * BullMQ queues and workers emit 'error' on every failed reconnect; without a listener BullMQ
 * prints each one raw to stderr (outside the JSON logs), every couple of seconds while Redis is
 * away. An outage is already reported by readiness and `aigateway_dependency_up`, so here each
 * queue and worker logs one warning per 30 s.
 */
@Injectable()
export class QueueErrorLog implements OnApplicationBootstrap, BeforeApplicationShutdown {
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

  /**
   * A process that closes right after it started (a cli command that fails at once) would close
   * each queue while its connection is still starting; BullMQ then rejects that start after the
   * queue has dropped its listeners, and the 'error' it emits has no listener: an unhandled error
   * that kills the process (seen in the cli spec). So the starts settle first, for a bounded time.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const ready = ALL_QUEUES.map((name) => this.moduleRef.get<Queue>(getQueueToken(name), { strict: false }).waitUntilReady().catch(() => undefined));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(ready), new Promise<void>((resolve) => (timer = setTimeout(resolve, SETTLE_BEFORE_CLOSE_MS)))]);
    clearTimeout(timer);
  }

  private report(source: string, error: Error): void {
    const now = Date.now();
    if (now - (this.lastReported.get(source) ?? 0) < REPORT_EVERY_MS) return;
    this.lastReported.set(source, now);
    this.logger.warn(`${source}: ${error.message}`);
  }
}
