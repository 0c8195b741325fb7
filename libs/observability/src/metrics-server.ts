import { DynamicModule, Inject, Injectable, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { AddressInfo } from 'node:net';
import { register } from 'prom-client';
import { AppConfig, APP_CONFIG } from '@app/config';

/**
 * The small Nest app that serves /metrics (PrometheusModule's controller, prom-client's default
 * registry: every metric the process's providers registered, plus the default process metrics).
 * It has nothing else: no tenants, no auth, no other route.
 */
@Module({})
export class MetricsAppModule {
  static forRoot(): DynamicModule {
    return {
      module: MetricsAppModule,
      imports: [
        PrometheusModule.register({
          path: '/metrics',
          // Once per process (tests run api and worker side by side in one process).
          defaultMetrics: { enabled: !register.getSingleMetric('process_cpu_user_seconds_total') },
        }),
      ],
    };
  }
}

/**
 * /metrics on a port of its own (METRICS_PORT), never on the traffic port: the labels name every
 * tenant, so the exposition must not answer at a reseller's domain. Only Prometheus (the chart's
 * metrics Service and NetworkPolicy, the compose stack's scrape config) reaches this port. The
 * api and the worker each start it when they start, and close it when they close.
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private app?: NestFastifyApplication;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async onApplicationBootstrap(): Promise<void> {
    // No `logger` option: Nest would make it the process-wide logger and silence (or buffer) the
    // logs of the api or worker that starts this app. Its few start-up lines go to that app's logger.
    const app = await NestFactory.create<NestFastifyApplication>(MetricsAppModule.forRoot(), new FastifyAdapter(), { abortOnError: false });
    await app.listen(this.config.METRICS_PORT, '0.0.0.0');
    this.app = app;
  }

  /** The metrics app itself (tests look inside it). */
  get application(): NestFastifyApplication | undefined {
    return this.app;
  }

  /** The port it listens on (METRICS_PORT, or the one picked for 0). */
  get port(): number | undefined {
    return (this.app?.getHttpServer().address() as AddressInfo | null)?.port;
  }

  async onApplicationShutdown(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    await app?.close();
  }
}
