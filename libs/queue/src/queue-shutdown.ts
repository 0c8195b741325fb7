import { WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { AppConfig, APP_CONFIG } from '@app/config';
import { ClosableClient, closeRedisClient } from '@app/redis';
import { Queue, Worker } from 'bullmq';

/**
 * Bounds the close of the BullMQ workers (worker process only).
 *
 * Cause of the stall seen after a Redis restart (reproduced: Redis stopped, then close): the
 * worker's connections use `maxRetriesPerRequest: null` with the offline queue on, so a command
 * the main loop sends while Redis is away waits in ioredis' offline queue for ever.
 * `Worker.close()` awaits that main loop, and disconnecting a client that is `reconnecting` (no
 * socket) emits no 'close', so the queue is never flushed (the same root as
 * taskforcesh/bullmq#4656, open upstream at 5.61). @nestjs/bullmq awaits that close in
 * `onApplicationShutdown` without a limit, so the process only ended at SHUTDOWN_GRACE_MS, exit 1.
 *
 * Here, before that hook, each worker is closed gracefully (running jobs finish); a close still
 * pending after half of SHUTDOWN_GRACE_MS has its ioredis clients disconnected and their queues
 * flushed, which rejects what the main loop waits for and lets the close finish. A job cut this way is not lost: BullMQ
 * redelivers it (stalled job), and every job here is idempotent. This frees a worker waiting
 * for its next job (reproduced: mail and maintenance then close at once); a worker whose running
 * job's completion is itself queued can still wait, and is then ended by SHUTDOWN_GRACE_MS in
 * serveUntilSignalled (exit 1). A running metering drain job was told to stop earlier
 * (onModuleDestroy) and ends between batches, so no metering batch is ever half-written.
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
    type Client = { disconnect(): void; flushQueue?(error: Error): void };
    const internals = worker as unknown as { blockingConnection?: { _client?: Client }; connection?: { _client?: Client } };
    for (const client of [internals.blockingConnection?._client, internals.connection?._client]) {
      if (!client) continue;
      client.disconnect();
      // A client that was reconnecting has no socket whose 'close' would flush its offline queue:
      // commands queued while Redis was away (maxRetriesPerRequest: null) would wait for ever.
      client.flushQueue?.(new Error('Connection is closed.'));
    }
    if (!(await Promise.race([closed, delay(2000, false)]))) this.logger.warn(`worker ${worker.name}: still not closed; leaving it to the process exit`);
  }
}

/**
 * Closes the queues' Redis connections without waiting on a Redis that is away (api and worker).
 *
 * @nestjs/bullmq closes every queue at shutdown with QUIT. A producer's client has no offline
 * queue, so while Redis is away (or the client is still reconnecting after Redis came back) QUIT
 * is refused ("Stream isn't writeable"), BullMQ does not take that for a connection error, and the
 * rejection ended the application's close half-way: the HTTP server and the other Redis and
 * PostgreSQL clients stayed open (reproduced in test/e2e/shutdown.spec.ts). A worker's client
 * would wait in its offline queue instead.
 *
 * Here, before that hook, each queue's client is closed by closeRedisClient (disconnected at once
 * when not ready, else QUIT bounded to two seconds), and BullMQ's wrapper is marked closed, so its
 * own close then finds the connection already closing and returns.
 */
@Injectable()
export class QueueConnectionsClose implements BeforeApplicationShutdown {
  constructor(private readonly discovery: DiscoveryService) {}

  async beforeApplicationShutdown(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const { instance } of this.discovery.getProviders()) {
      if (!(instance instanceof Queue)) continue;
      const connection = (instance as unknown as { connection?: QueueConnection }).connection;
      // A shared client (Redis Cluster: one for every queue and worker) is closed by RedisConnections
      // at application shutdown, after the workers (closed above) no longer need it.
      if (connection?._client && !connection.extraOptions?.shared) closing.push(closeConnection(connection));
    }
    await Promise.all(closing);
  }
}

type QueueConnection = { close(force?: boolean): Promise<void>; _client?: ClosableClient; extraOptions?: { shared?: boolean } };

/** The client is closed as any other (QUIT, bounded); BullMQ's wrapper then only marks itself closed. */
async function closeConnection(connection: QueueConnection): Promise<void> {
  await closeRedisClient(connection._client!);
  await connection.close(true).catch(() => undefined);
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}
