import type { Logger } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { ClientProtocol, InferenceError } from './openai-error';

/** Set on a traced request's response by InferenceService (see RESPONSE_TRACE_ID there). */
export const RESPONSE_TRACE_ID = Symbol.for('aigateway.responseTraceId');

/**
 * Answers a failed inference request in its protocol's error shape (OpenAI's; Anthropic's on /v1/messages), on the raw response: unknown errors
 * are logged and answered 500 with the request id to quote; an upstream error keeps its status and
 * body (keys scrubbed by the providers library). After the headers went out (a stream), the
 * response is only ended.
 */
export function writeInferenceFailure(logger: Logger, error: unknown, requestId: string, res: ServerResponse, protocol: ClientProtocol = 'openai'): void {
  const failure = toInferenceError(logger, error, requestId, (res as unknown as Record<symbol, string | undefined>)[RESPONSE_TRACE_ID]);
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  if (res.destroyed) return;
  const payload = JSON.stringify(protocol === 'anthropic' ? failure.anthropicBody(requestId) : failure.body());
  res.writeHead(failure.status, { 'content-type': 'application/json', 'x-request-id': requestId, ...failure.headers, 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

export function toInferenceError(logger: Logger, error: unknown, requestId: string, traceId?: string): InferenceError {
  if (error instanceof InferenceError) return error;
  if (isUpstreamError(error)) {
    const e = error.body.error;
    return new InferenceError(error.status, e.type, e.code, e.message, e.param, error.retryAfterSeconds ? { 'retry-after': String(error.retryAfterSeconds) } : {});
  }
  const err = error instanceof Error ? { message: error.message, stack: error.stack } : String(error);
  // A traced request's failure names its trace (the log line and the trace are found from each other).
  logger.error(traceId ? { err, requestId, traceId } : { err }, 'inference request failed');
  return new InferenceError(500, 'server_error', 'internal_error', `The gateway failed; quote request id ${requestId}.`);
}

function isUpstreamError(error: unknown): error is { status: number; retryAfterSeconds?: number; body: { error: { message: string; type: string; param: string | null; code: string | null } } } {
  return Boolean(error && typeof error === 'object' && (error as { name?: string }).name === 'UpstreamError');
}
