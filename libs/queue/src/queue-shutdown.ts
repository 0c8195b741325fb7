import { WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { AppConfig, APP_CONFIG } from '@app/config';
import { Worker } from 'bullmq';

/**
 * Bounds the close of the BullMQ workers (worker process only).
 *
 * Cause of the stall seen after a Redis restart: `Worker.close()` waits for its connections to
 * end, and BullMQ's `RedisConnection.disconnect()`/`close()` await an ioredis `end` event (or the
 * client's initialising promise) that a client left in the `reconnecting` state never emits
 * (taskforcesh/bullmq#4656 and #4065, open upstream at 5.61). @nestjs/bullmq then awaits that
 * close in `onApplicationShutdown` without a limit, and the process only ends at
 * SHUTDOWN_GRACE_MS with exit code 1.
 *
 * Here, before that hook, each worker is closed gracefully (running jobs finish); a close still
 * pending after half of SHUTDOWN_GRACE_MS has its ioredis clients disconnected outright, which
 * rejects what they wait for and lets the close finish. A job cut this way is not lost: BullMQ
 * redelivers it (stalled job), and every job here is idempotent. The metering consumer is not a
 * BullMQ worker: it stops earlier (onModuleDestroy), between batches.
 */
@Injectable()
export class BoundedWorkerClose implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Queue');

  constructor(
    private readonly discovery: DiscoveryService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async beforeApplicationShutdown(): Promise<void> {
    const bound = Math.floor(this.config.SHUTDOWN_GRACE_MS / 2);
    const workers: Worker[] = [];
    for (const { instance } of this.discovery.getProviders()) {
      if (!(instance instanceof WorkerHost)) continue;
      try {
        workers.push(instance.worker);
      } catch {
        // not started (registered manually): nothing to close
      }
    }
    await Promise.all(workers.map((worker) => this.close(worker, bound)));
  }

  private async close(worker: Worker, bound: number): Promise<void> {
    const closed = worker.close().then(
      () => true,
      () => true,
    );
    if (await Promise.race([closed, delay(bound, false)])) return;
    this.logger.warn(`worker ${worker.name}: close still pending after ${bound} ms; disconnecting its Redis clients`);
    const internals = worker as unknown as { blockingConnection?: { _client?: { disconnect(): void } }; connection?: { _client?: { disconnect(): void } } };
    internals.blockingConnection?._client?.disconnect();
    internals.connection?._client?.disconnect();
    if (!(await Promise.race([closed, delay(2000, false)]))) this.logger.warn(`worker ${worker.name}: still not closed; leaving it to the process exit`);
  }
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}
