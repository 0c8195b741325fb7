import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppConfig, APP_CONFIG } from '@app/config';
import { AppException, assertStorableText, CommonErrorCode, openAiErrorType, parseJsonObjectBody } from '@app/errors';
import { requestIdFor } from '@app/observability';
import type { Endpoint } from '@app/providers';
import { ResolvedTenant, TenantResolver, UNKNOWN_HOST_DETAIL } from '@app/tenancy';
import { writeInferenceFailure } from './inference-failure';
import { InferenceError } from './openai-error';
import { InferenceMetrics, ResponseCode } from './inference.metrics';
import { InferenceService } from './inference.service';

/** The hot routes this door serves; everything else (GET /v1/models included) goes to Fastify. */
const ENDPOINTS = new Map<string, Endpoint | 'count_tokens'>([
  ['/v1/chat/completions', 'chat'],
  ['/v1/completions', 'completions'],
  ['/v1/embeddings', 'embeddings'],
  ['/v1/messages', 'messages'],
  ['/v1/messages/count_tokens', 'count_tokens'],
  ['/v1/responses', 'responses'],
]);

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/** Takes requests before the web framework sees them (see `createHttpApp`'s front door). */
export interface FrontDoor {
  /** True when it took the request (it then answers it); false to leave it to Fastify. */
  take(req: IncomingMessage, res: ServerResponse): boolean;
  /** The server is closing: new requests get 503 and `Connection: close`. */
  closing(): void;
}

export const FRONT_DOOR = Symbol('FRONT_DOOR');

/**
 * The inference hot path's way in (issue 14). POST /v1/chat/completions, /v1/completions,
 * /v1/embeddings, and the coding agents' /v1/messages (with count_tokens) and /v1/responses are answered straight from Node's HTTP server, before Fastify's hooks, Nest's
 * middleware (request context, access log) and the router: what they do for the admin API the
 * hot path does not need, and the benchmark's profile showed them as a good share of its CPU.
 *
 * What the edge gives every route is done here too, in the same way and with the same helpers:
 * the request id (`X-Request-Id` echoed when sane), the Host's tenant, the client address
 * (`X-Forwarded-For` only with TRUST_PROXY), only `application/json` (415), the body limit (413),
 * the one JSON parser with its nesting and text checks (400), the text check on query strings, 503
 * while closing, and every error in OpenAI's shape. The same routes stay registered on Fastify (and
 * documented in OpenAPI): requests this door does not take still work there.
 */
@Injectable()
export class InferenceFrontDoor implements FrontDoor {
  private readonly logger = new Logger(InferenceFrontDoor.name);
  private isClosing = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly inference: InferenceService,
    private readonly tenants: TenantResolver,
    private readonly metrics: InferenceMetrics,
  ) {}

  take(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const endpoint = ENDPOINTS.get(q === -1 ? url : url.slice(0, q));
    if (!endpoint) return false;
    void this.serve(endpoint, req, res, q === -1 ? null : url.slice(q + 1)).finally(() => this.metrics.responded(endpoint, responseCode(res)));
    return true;
  }

  closing(): void {
    this.isClosing = true;
  }

  private async serve(endpoint: Endpoint | 'count_tokens', req: IncomingMessage, res: ServerResponse, query: string | null): Promise<void> {
    const requestId = requestIdFor(req);
    try {
      if (this.isClosing) {
        res.setHeader('connection', 'close');
        throw InferenceError.unavailable('The server is shutting down; retry.');
      }
      // A Host that is no tenant's domain is answered 404 before anything else, as on every route.
      const tenant = await this.tenantOf(req);
      if (!tenant) throw new InferenceError(404, 'not_found_error', CommonErrorCode.UnknownTenant, UNKNOWN_HOST_DETAIL);
      if (query !== null) assertStorableText(Object.fromEntries(new URLSearchParams(query)));
      const contentType = req.headers['content-type'];
      if (!contentType || !JSON_TYPE.test(contentType)) {
        throw new InferenceError(415, 'invalid_request_error', CommonErrorCode.UnsupportedMediaType, 'Send the body as application/json.');
      }
      const text = await this.readBody(req, res);
      if (text === null) return; // the client went away, or the body was refused
      const body = parseJsonObjectBody(text);
      if (endpoint === 'count_tokens') {
        await this.inference.countTokens({ tenant, headers: req.headers, body, clientIp: this.clientIp(req), requestId, res });
        return;
      }
      await this.inference.handle({
        endpoint,
        tenant,
        headers: req.headers,
        body,
        bodyBytes: Buffer.byteLength(text),
        clientIp: this.clientIp(req),
        requestId,
        res,
      });
    } catch (error) {
      writeInferenceFailure(this.logger, asInferenceError(error), requestId, res, endpoint === 'messages' || endpoint === 'count_tokens' ? 'anthropic' : 'openai');
    }
  }

  /** The Host's tenant (X-Forwarded-Host only with TRUST_PROXY), from the resolver's cache. */
  private async tenantOf(req: IncomingMessage): Promise<ResolvedTenant | null> {
    const forwarded = this.config.TRUST_PROXY ? lastEntry(req.headers['x-forwarded-host']) : undefined;
    try {
      return await this.tenants.resolveHost(forwarded || req.headers.host);
    } catch {
      throw InferenceError.unavailable('The tenant directory is unavailable; retry shortly.');
    }
  }

  /** The client address: the left-most X-Forwarded-For entry with TRUST_PROXY (as Fastify), else the socket's. */
  private clientIp(req: IncomingMessage): string | null {
    if (this.config.TRUST_PROXY) {
      const header = req.headers['x-forwarded-for'];
      const first = (Array.isArray(header) ? header.join(',') : header)?.split(',')[0]?.trim();
      if (first) return first;
    }
    return req.socket.remoteAddress ?? null;
  }

  /** The body as text, within the limit; null when the request was answered (413) or abandoned. */
  private readBody(req: IncomingMessage, res: ServerResponse): Promise<string | null> {
    const limit = this.config.INFERENCE_BODY_LIMIT_BYTES;
    const declared = Number(req.headers['content-length']);
    if (declared > limit) return Promise.reject(tooLarge(res));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let refused = false;
      req.on('data', (chunk: Buffer) => {
        if (refused) return;
        size += chunk.length;
        if (size > limit) {
          refused = true;
          reject(tooLarge(res));
          return;
        }
        chunks.push(chunk);
      });
      req.once('end', () => {
        if (!refused) resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks, size).toString('utf8'));
      });
      req.once('aborted', () => resolve(null));
      req.once('error', () => resolve(null));
    });
  }
}

/** The status class the client got (a stream ended early still got its 200). */
function responseCode(res: ServerResponse): ResponseCode {
  if (!res.headersSent) return 'closed';
  const status = res.statusCode;
  return status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx';
}

function tooLarge(res: ServerResponse): InferenceError {
  // The rest of the body is not read: the connection closes after the answer.
  res.setHeader('connection', 'close');
  return new InferenceError(413, 'invalid_request_error', CommonErrorCode.PayloadTooLarge, 'The body is too large.');
}

function lastEntry(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[value.length - 1] : value;
  if (!text) return undefined;
  const comma = text.lastIndexOf(',');
  return (comma === -1 ? text : text.slice(comma + 1)).trim();
}

/** The edge's own checks raise AppException (problem codes): the same code, in OpenAI's shape. */
export function asInferenceError(error: unknown): unknown {
  if (!(error instanceof AppException)) return error;
  const field = error.extras.errors?.[0];
  const message = error.extras.errors?.length ? error.extras.errors.flatMap((e) => e.messages).join('; ') : (error.detail ?? error.title);
  return new InferenceError(error.status, openAiErrorType(error.status), error.code, message, field?.field ?? null, error.extras.headers ?? {});
}
