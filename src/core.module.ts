import { DynamicModule, Module } from '@nestjs/common';
import { ClsModule } from 'nestjs-cls';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig, APP_CONFIG, ConfigModule } from '@app/config';
import { AuthorizationModule } from '@app/authorization';
import { storableText } from '@app/errors';
import { DatabaseModule } from '@app/database';
import { loggerParams, MetricsServer, ObservabilityModule, requestIdFor } from '@app/observability';
import { QueueModule } from '@app/queue';
import { RedisModule } from '@app/redis';
import { clientIpOf, hostTenantOf, TenancyModule } from '@app/tenancy';
import { HealthModule } from './modules/health/health.module';
import { WebhookOutboxModule } from './modules/webhooks/webhook-outbox';

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
            setup: (cls, req) => {
              cls.set('hostTenant', hostTenantOf(req));
              cls.set('clientIp', clientIpOf(req));
              // Stored in the audit log: no NUL or unpaired surrogate may reach PostgreSQL.
              cls.set('userAgent', storableText(String(req.headers['user-agent'] ?? '').slice(0, 500)) || null);
            },
          },
        }),
        DatabaseModule.forRoot({ processName, system: processName !== 'api' }),
        RedisModule,
        TenancyModule,
        AuthorizationModule,
        ObservabilityModule.forProcess(processName),
        QueueModule.forRoot({ role: processName === 'worker' ? 'worker' : 'producer' }),
        WebhookOutboxModule,
        ...(http
          ? [HealthModule]
          : []),
      ],
      // /metrics on METRICS_PORT, apart from the traffic port (api and worker).
      providers: http ? [MetricsServer] : [],
    };
  }
}
