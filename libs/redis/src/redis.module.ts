import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import Redis from 'ioredis';
import { closeRedisClient } from './close-client';
import { createRedisClient } from './redis-options';

/** The shared client for application commands (caches, rate limits, revocations). */
export const REDIS = Symbol('REDIS');

/**
 * Creates extra connections (a subscriber cannot run other commands) and closes them all. With
 * REDIS_CLUSTER_NODES each is an ioredis Cluster (subscribers then listen on one node: PUBLISH
 * reaches every node of a cluster).
 */
@Injectable()
export class RedisConnections implements OnApplicationShutdown {
  private readonly opened: Redis[] = [];

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  open(purpose: string, overrides: Partial<Redis['options']> = {}): Redis {
    const client = createRedisClient(this.config, {
      connectionName: `aigateway-${purpose}`,
      // Fail fast while Redis is down instead of queueing commands without limit.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      ...overrides,
    });
    // Errors are reported by readiness; without a listener ioredis would print each reconnect.
    client.on('error', () => undefined);
    this.opened.push(client);
    return client;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.opened.map((client) => closeRedisClient(client)));
  }
}

@Global()
@Module({
  providers: [
    RedisConnections,
    { provide: REDIS, inject: [RedisConnections], useFactory: (c: RedisConnections) => c.open('main') },
  ],
  exports: [REDIS, RedisConnections],
})
export class RedisModule {}
