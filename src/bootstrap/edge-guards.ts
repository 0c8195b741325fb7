import { IncomingMessage, ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import {
  assertStorableText,
  COMMON_ERROR_TITLES,
  CommonErrorCode,
  errorShapeFor,
  openAiError,
  parseJsonObjectBody,
  PROBLEM_CONTENT_TYPE,
} from '@app/errors';

export interface RegisteredRoute {
  method: string;
  url: string;
}

const REGISTERED_ROUTES = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route in the Fastify router, as registered (the OpenAPI check compares them with the document). */
export function registeredRoutes(fastify: FastifyInstance): readonly RegisteredRoute[] {
  return REGISTERED_ROUTES.get(fastify) ?? [];
}

/**
 * The checks every route gets at the edge, once, before any handler, guard or pipe sees the
 * request (issue 7). Errors they raise go through the one exception filter, so each route answers
 * in its own shape (problem+json, or OpenAI's under /v1).
 *
 * - Bodies: only `application/json` (415 otherwise), parsed with a nesting limit and no recursion,
 *   an object at the top, no NUL or unpaired surrogate anywhere (400 naming the field).
 * - Query strings and path parameters: the same text rule.
 * - Body size: routes under /api/ take at most `apiBodyLimit` bytes (they need little); others keep
 *   the server's limit unless the route sets its own.
 */
/** Admin routes that legitimately take more than the admin limit (bulk requests), in bytes. */
export const LARGER_BODY_ROUTES: Readonly<Record<string, number>> = {
  // up to 1,000 items of two UUIDs each, and a request just over the limit to refuse by name
  '/api/v1/customers/bindings': 512 * 1024,
};

export function installEdgeGuards(fastify: FastifyInstance, options: { apiBodyLimit: number }): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonObjectBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  const routes: RegisteredRoute[] = [];
  REGISTERED_ROUTES.set(fastify, routes);
  fastify.addHook('onRoute', (route) => {
    if (route.bodyLimit === undefined && route.url.startsWith('/api/')) route.bodyLimit = LARGER_BODY_ROUTES[route.url] ?? options.apiBodyLimit;
    for (const method of [route.method].flat()) routes.push({ method: String(method), url: route.url });
  });
  fastify.addHook('preValidation', async (request) => {
    assertStorableText(request.params);
    assertStorableText(request.query);
  });
}

function problemBody(code: CommonErrorCode, status: number, detail: string, instance?: string) {
  return { type: `urn:aigateway:problem:${code}`, title: COMMON_ERROR_TITLES[code], status, code, detail, ...(instance ? { instance } : {}) };
}

/**
 * Errors Fastify answers itself before routing (a URL that cannot be decoded, a parameter that is
 * too long): in the route's error shape, like every other error.
 */
export function frameworkErrors(_error: Error, request: { raw: IncomingMessage }, reply: { raw: ServerResponse }): void {
  const detail = 'The URL could not be read.';
  const url = request.raw.url;
  const [contentType, body] =
    errorShapeFor(url) === 'openai'
      ? ['application/json; charset=utf-8', openAiError(400, detail, CommonErrorCode.MalformedRequest)]
      : [PROBLEM_CONTENT_TYPE, problemBody(CommonErrorCode.MalformedRequest, 400, detail, url?.split('?')[0])];
  const text = JSON.stringify(body);
  reply.raw.writeHead(400, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) }).end(text);
}

/**
 * Errors Node's HTTP parser raises before there is a request (oversized headers: 431; a timeout:
 * 408; bad framing: 400): written to the socket as problem+json (the path is not known reliably
 * here, so the shape is the admin API's), then the connection is closed.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let code = CommonErrorCode.MalformedRequest;
  let detail = 'The request could not be read (bad HTTP framing).';
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    code = CommonErrorCode.HeadersTooLarge;
    detail = 'The request headers are too large.';
  } else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    detail = 'The request took too long to arrive.';
  }
  const body = JSON.stringify(problemBody(code, status, detail));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
