import { DynamicModule, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { IncomingMessage } from 'node:http';
import { AppConfig, ConfigError, loadConfig } from '@app/config';
import { ProblemFilter, strictValidationPipe } from '@app/errors';
import { requestIdFor } from '@app/observability';
import { installHostTenantHook, TenantResolver } from '@app/tenancy';

/** Builds a Nest application on Fastify with the shared request id, errors and validation. */
export async function createHttpApp(
  module: DynamicModule,
  config: AppConfig,
  options: { resolveTenants?: boolean } = {},
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    trustProxy: config.TRUST_PROXY,
    genReqId: (req: IncomingMessage) => requestIdFor(req),
    bodyLimit: 1024 * 1024,
    // While closing, new requests get 503 and idle keep-alive sockets are closed; in-flight
    // requests are allowed to finish.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  // Registered before Nest adds its middleware, so the request context sees the Host's tenant.
  const bindResolver = options.resolveTenants ? installHostTenantHook(adapter.getInstance()) : undefined;
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, { bufferLogs: true });
  bindResolver?.(app.get(TenantResolver));
  app.useLogger(app.get(Logger));
  app.useGlobalFilters(new ProblemFilter());
  app.useGlobalPipes(strictValidationPipe());
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onSend', async (request, reply) => {
      reply.header('x-request-id', String(request.id));
    });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  return app;
}

/**
 * Reads the configuration or stops the process with a message naming each bad variable.
 */
export function configOrExit(): AppConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

/**
 * SIGTERM starts Nest's graceful close (in-flight requests and jobs finish); if that takes longer
 * than SHUTDOWN_GRACE_MS the process exits anyway rather than hang a rollout.
 */
export function boundShutdown(config: AppConfig): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      setTimeout(() => {
        process.stderr.write(`shutdown took longer than ${config.SHUTDOWN_GRACE_MS} ms; exiting\n`);
        process.exit(1);
      }, config.SHUTDOWN_GRACE_MS).unref();
    });
  }
}

export async function startOrExit(start: () => Promise<INestApplication>, name: string): Promise<void> {
  try {
    await start();
  } catch (error) {
    process.stderr.write(`${name} failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
