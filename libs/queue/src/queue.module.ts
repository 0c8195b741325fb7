import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AppConfig, APP_CONFIG } from '@app/config';
import { isRedisCluster, RedisConnections, redisOptions } from '@app/redis';
import { QueueErrorLog } from './queue-errors';
import { BoundedWorkerClose, QueueConnectionsClose } from './queue-shutdown';
import { ALL_QUEUES, DEFAULT_JOB_OPTIONS, queuePrefix } from './queues';

@Module({})
export class QueueModule {
  /**
   * BullMQ's connection, configured once from the Redis settings, and every queue registered for producers.
   * Producers fail fast while Redis is down (`enableOfflineQueue: false`) instead of waiting.
   * Processors are declared only in the worker's module.
   */
  static forRoot(options: { role: 'producer' | 'worker' }): DynamicModule {
    return {
      module: QueueModule,
      global: true,
      imports: [
        BullModule.forRootAsync({
          inject: [APP_CONFIG, RedisConnections],
          useFactory: (config: AppConfig, connections: RedisConnections) => {
            const settings = { maxRetriesPerRequest: null, enableOfflineQueue: options.role === 'worker' };
            return {
              // BullMQ builds a client from options, never a cluster one: on a Cluster every queue and
              // worker of the process shares this client (a worker duplicates it for its blocking
              // reads), closed with the process' other Redis clients.
              connection: isRedisCluster(config) ? connections.open('bullmq', settings) : { ...redisOptions(config), ...settings },
              defaultJobOptions: DEFAULT_JOB_OPTIONS,
            };
          },
        }),
        BullModule.registerQueueAsync(
          ...ALL_QUEUES.map((name) => ({ name, inject: [APP_CONFIG], useFactory: (config: AppConfig) => ({ prefix: queuePrefix(name, isRedisCluster(config)) }) })),
        ),
        DiscoveryModule,
      ],
      providers: options.role === 'worker' ? [QueueErrorLog, BoundedWorkerClose, QueueConnectionsClose] : [QueueErrorLog, QueueConnectionsClose],
      exports: [BullModule],
    };
  }
}
