import { AppConfig } from '@app/config';
import type { Params } from 'nestjs-pino';
import { IncomingMessage } from 'node:http';
import { REQUEST_TENANT_SLUG } from './http-metrics';
import { requestIdFor } from './request-id';

export const REQUEST_TENANT_ID = Symbol.for('aigateway.request.tenantId');

/** JSON logs (pino): one line per request with its id and tenant; secrets redacted. */
export function loggerParams(config: AppConfig, processName: string): Params {
  return {
    pinoHttp: {
      level: config.LOG_LEVEL,
      base: { process: processName },
      genReqId: (req) => requestIdFor(req),
      customProps: (req: IncomingMessage) => {
        const raw = req as unknown as Record<symbol, string | undefined>;
        return { tenantId: raw[REQUEST_TENANT_ID] ?? null, tenant: raw[REQUEST_TENANT_SLUG] ?? null };
      },
      // Nest mounts pino-http as Fastify middleware, which sees `url` relative to the mount point:
      // the path as sent is `originalUrl`.
      autoLogging: {
        // Probes and scrapes; and the inference API, whose every request is recorded as a usage
        // record (status, error code, latency, tokens, money) by the metering pipeline: an access
        // log line per request would repeat it at the cost of a serialisation and a write on the
        // hot path. Its failures are still logged by the inference service.
        ignore: (req) => /^\/(health|metrics|v1\/)/.test((req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? ''),
      },
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]', 'res.headers["set-cookie"]'],
        censor: '[redacted]',
      },
      serializers: {
        req: (req: { id: string; method: string; url: string; headers: Record<string, string> }) => ({
          id: req.id,
          method: req.method,
          url: req.url,
          host: req.headers?.host,
          userAgent: req.headers?.['user-agent'],
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    },
  };
}
