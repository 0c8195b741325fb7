import { DynamicModule, Module } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { ClsModule } from 'nestjs-cls';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig, APP_CONFIG, ConfigModule } from '@app/config';
import { DatabaseModule } from '@app/database';
import { loggerParams, ObservabilityModule, requestIdFor } from '@app/observability';
import { QueueModule } from '@app/queue';
import { RedisModule } from '@app/redis';
import { hostTenantOf, TenancyModule } from '@app/tenancy';
import { HealthModule } from './modules/health/health.module';

export type ProcessName = 'api' | 'worker' | 'cli';

/** What every process shares: config, logs, request context, database, Redis, queues, health, metrics. */
@Module({})
export class CoreModule {
  static forProcess(processName: ProcessName, config?: AppConfig): DynamicModule {
    const http = processName !== 'cli';
    return {
      module: CoreModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRootAsync({
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => loggerParams(config, processName),
        }),
        ClsModule.forRoot({
          global: true,
          middleware: {
            mount: http,
            generateId: true,
            idGenerator: (req) => requestIdFor(req),
            setup: (cls, req) => cls.set('hostTenant', hostTenantOf(req)),
          },
        }),
        DatabaseModule.forRoot({ processName, system: processName !== 'api' }),
        RedisModule,
        TenancyModule,
        ObservabilityModule,
        QueueModule.forRoot({ role: processName === 'worker' ? 'worker' : 'producer' }),
        ...(http
          ? [PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } }), HealthModule]
          : []),
      ],
    };
  }
}
