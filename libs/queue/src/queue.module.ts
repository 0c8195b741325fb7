import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AppConfig, APP_CONFIG } from '@app/config';
import { redisOptions } from '@app/redis';
import { QueueErrorLog } from './queue-errors';
import { BoundedWorkerClose, QueueConnectionsClose } from './queue-shutdown';
import { ALL_QUEUES, DEFAULT_JOB_OPTIONS, QUEUE_PREFIX } from './queues';

@Module({})
export class QueueModule {
  /**
   * BullMQ's connection, configured once from REDIS_URL, and every queue registered for producers.
   * Producers fail fast while Redis is down (`enableOfflineQueue: false`) instead of waiting.
   * Processors are declared only in the worker's module.
   */
  static forRoot(options: { role: 'producer' | 'worker' }): DynamicModule {
    return {
      module: QueueModule,
      global: true,
      imports: [
        BullModule.forRootAsync({
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => ({
            connection: {
              ...redisOptions(config),
              maxRetriesPerRequest: null,
              enableOfflineQueue: options.role === 'worker',
            },
            defaultJobOptions: DEFAULT_JOB_OPTIONS,
          }),
        }),
        BullModule.registerQueue(...ALL_QUEUES.map((name) => (QUEUE_PREFIX[name] ? { name, prefix: QUEUE_PREFIX[name] } : { name }))),
        DiscoveryModule,
      ],
      providers: options.role === 'worker' ? [QueueErrorLog, BoundedWorkerClose, QueueConnectionsClose] : [QueueErrorLog, QueueConnectionsClose],
      exports: [BullModule],
    };
  }
}
