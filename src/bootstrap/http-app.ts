import { DynamicModule, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AppConfig, ConfigError, loadConfig, requireSettings } from '@app/config';
import { ProblemFilter, strictValidationPipe } from '@app/errors';
import { requestIdFor } from '@app/observability';
import { installHostTenantHook, TenantResolver } from '@app/tenancy';
import { clientErrorHandler, frameworkErrors, installEdgeGuards } from './edge-guards';
import { FRONT_DOOR, FrontDoor } from '../modules/inference/inference-front-door';

/** Builds a Nest application on Fastify with the shared request id, errors and validation. */
export async function createHttpApp(
  module: DynamicModule,
  config: AppConfig,
  options: { resolveTenants?: boolean; frontDoor?: boolean } = {},
): Promise<NestFastifyApplication> {
  // The inference hot path answers its routes before Fastify when the module provides a front
  // door (InferenceFrontDoor); every other request goes to Fastify as usual.
  let frontDoor: FrontDoor | undefined;
  const adapter = new FastifyAdapter({
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void, opts: Record<string, unknown>) => {
      const settings = opts as unknown as ServerSettings;
      const server = createServer((req, res) => {
        if (!frontDoor?.take(req, res)) handler(req, res);
      });
      // What Fastify sets on a server it creates itself.
      server.keepAliveTimeout = settings.keepAliveTimeout;
      server.requestTimeout = settings.requestTimeout;
      server.setTimeout(settings.connectionTimeout);
      if (settings.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = settings.maxRequestsPerSocket;
      return server;
    },
    trustProxy: config.TRUST_PROXY,
    genReqId: (req: IncomingMessage) => requestIdFor(req),
    bodyLimit: 1024 * 1024,
    // Errors Node and Fastify raise before routing answer in problem+json too.
    clientErrorHandler,
    frameworkErrors,
    // While closing, new requests get 503 and idle keep-alive sockets are closed; in-flight
    // requests are allowed to finish.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  // Registered before Nest adds its middleware, so the request context sees the Host's tenant.
  const bindResolver = options.resolveTenants ? installHostTenantHook(adapter.getInstance()) : undefined;
  // Nest's own parsers (JSON, form-encoded) are off: installEdgeGuards registers the only one.
  installEdgeGuards(adapter.getInstance(), { apiBodyLimit: config.API_BODY_LIMIT_BYTES });
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, { bufferLogs: true, bodyParser: false });
  bindResolver?.(app.get(TenantResolver));
  if (options.frontDoor) frontDoor = app.get<FrontDoor>(FRONT_DOOR, { strict: false });
  app.useLogger(app.get(Logger));
  app.useGlobalFilters(new ProblemFilter());
  app.useGlobalPipes(strictValidationPipe());
  const fastify = app.getHttpAdapter().getInstance();
  let closing = false;
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', String(request.id));
    if (closing) reply.header('connection', 'close');
  });
  fastify.addHook('preClose', async () => {
    closing = true;
    frontDoor?.closing();
    reapIdleConnectionsUntilClosed(fastify.server);
  });
  return app;
}

/** The server settings Fastify hands a server factory (its defaults filled in). */
interface ServerSettings {
  keepAliveTimeout: number;
  requestTimeout: number;
  connectionTimeout: number;
  maxRequestsPerSocket: number;
}

/**
 * `server.close()` closes the connections idle at that moment, but a keep-alive connection whose
 * request was in flight stays open after its response until the client or keepAliveTimeout (72 s
 * in Fastify) ends it, so one proxy connection would hold a rollout until SHUTDOWN_GRACE_MS. While
 * closing, responses say `Connection: close`, and connections that have gone idle are closed.
 */
function reapIdleConnectionsUntilClosed(server: Server): void {
  const reaper = setInterval(() => server.closeIdleConnections(), 100);
  reaper.unref();
  server.once('close', () => clearInterval(reaper));
}

/**
 * Reads the configuration or stops the process with a message naming each bad variable.
 */
export function configOrExit(needs: ReadonlyArray<keyof AppConfig> = [], who = 'this process'): AppConfig {
  try {
    return requireSettings(loadConfig(), needs, who);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

/**
 * Starts the process's application and stops it gracefully on SIGTERM or SIGINT: the listener
 * closes, in-flight requests and jobs finish, connections close, then the process exits 0. (Nest's
 * own shutdown hooks would re-raise the signal after closing, so a clean stop would look like a
 * kill.) If stopping takes longer than SHUTDOWN_GRACE_MS the process exits 1 rather than hang a
 * rollout; a second signal changes nothing.
 */
export function serveUntilSignalled(start: () => Promise<INestApplication>, name: string, config: AppConfig): void {
  const fail = (what: string, error: unknown): never => {
    process.stderr.write(`${name} ${what}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  };
  const starting = start().catch((error: unknown) => fail('failed to start', error));
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => fail('did not stop in time', `shutdown took longer than ${config.SHUTDOWN_GRACE_MS} ms`), config.SHUTDOWN_GRACE_MS).unref();
    starting
      .then((app) => app.close())
      .then(
        () => process.exit(0),
        (error: unknown) => fail('failed to shut down cleanly', error),
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
