import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppConfig, loadConfig } from '@app/config';
import { MetricsServer } from '@app/observability';
import { startApi } from '../../src/main';
import { startWorker } from '../../src/worker';

export interface RunningApp {
  baseUrl: string;
  /** Where /metrics answers: its own port (METRICS_PORT), not baseUrl's. */
  metricsUrl: string;
  app: NestFastifyApplication;
  config: AppConfig;
  close(): Promise<void>;
}

/**
 * The configuration of the test run (global-setup exported the URLs), with overrides. The metrics
 * port is a free one, so processes side by side do not clash.
 */
export function testConfig(overrides: Record<string, string> = {}): AppConfig {
  return loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent', METRICS_PORT: '0', ...overrides });
}

async function running(app: NestFastifyApplication, config: AppConfig): Promise<RunningApp> {
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const metricsUrl = `http://127.0.0.1:${app.get(MetricsServer).port}/metrics`;
  return { baseUrl: `http://127.0.0.1:${port}`, metricsUrl, app, config, close: () => app.close() };
}

/** Boots the real api (all modules, real PostgreSQL and Redis) on a free port. */
export async function startTestApi(overrides: Record<string, string> = {}): Promise<RunningApp> {
  const config = testConfig(overrides);
  return running(await startApi(config, 0), config);
}

/** Boots the real worker (processors, health and metrics) on a free port. */
export async function startTestWorker(overrides: Record<string, string> = {}): Promise<RunningApp> {
  const config = testConfig(overrides);
  return running(await startWorker(config, 0), config);
}
