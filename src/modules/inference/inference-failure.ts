import type { Logger } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { ClientProtocol, InferenceError } from './openai-error';

/**
 * Answers a failed inference request in its protocol's error shape (OpenAI's; Anthropic's on /v1/messages), on the raw response: unknown errors
 * are logged and answered 500 with the request id to quote; an upstream error keeps its status and
 * body (keys scrubbed by the providers library). After the headers went out (a stream), the
 * response is only ended.
 */
export function writeInferenceFailure(logger: Logger, error: unknown, requestId: string, res: ServerResponse, protocol: ClientProtocol = 'openai'): void {
  const failure = toInferenceError(logger, error, requestId);
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  if (res.destroyed) return;
  const payload = JSON.stringify(protocol === 'anthropic' ? failure.anthropicBody(requestId) : failure.body());
  res.writeHead(failure.status, { 'content-type': 'application/json', 'x-request-id': requestId, ...failure.headers, 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

export function toInferenceError(logger: Logger, error: unknown, requestId: string): InferenceError {
  if (error instanceof InferenceError) return error;
  if (isUpstreamError(error)) {
    const e = error.body.error;
    return new InferenceError(error.status, e.type, e.code, e.message, e.param, error.retryAfterSeconds ? { 'retry-after': String(error.retryAfterSeconds) } : {});
  }
  logger.error({ err: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) }, 'inference request failed');
  return new InferenceError(500, 'server_error', 'internal_error', `The gateway failed; quote request id ${requestId}.`);
}

function isUpstreamError(error: unknown): error is { status: number; retryAfterSeconds?: number; body: { error: { message: string; type: string; param: string | null; code: string | null } } } {
  return Boolean(error && typeof error === 'object' && (error as { name?: string }).name === 'UpstreamError');
}
