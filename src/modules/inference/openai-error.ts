/**
 * Errors of the inference API in OpenAI's shape, `{"error":{"message","type","param","code"}}`, so
 * the official SDKs raise their typed errors (DESIGN.md step 7). Messages never carry upstream
 * keys, hosts or internal addresses.
 */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Anthropic's error object (`{"type":"error","error":{"type","message"}}`). */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id?: string;
}

/** The protocols clients speak to the gateway, for the shape of its errors. */
export type ClientProtocol = 'openai' | 'anthropic';

/** Anthropic's error type for a status (its API reference's list; 402 is a billing error). */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
    case 415:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    case 529:
    case 503:
      return 'overloaded_error';
    default:
      return status < 500 ? 'invalid_request_error' : 'api_error';
  }
}

export class InferenceError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string | null,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'InferenceError';
  }

  body(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  /** The same error in Anthropic's shape, for /v1/messages: its SDK raises the typed error of the status. */
  anthropicBody(requestId?: string): AnthropicErrorBody {
    return { type: 'error', error: { type: anthropicErrorType(this.status), message: this.message }, ...(requestId ? { request_id: requestId } : {}) };
  }

  static invalidKey(): InferenceError {
    return new InferenceError(401, 'invalid_request_error', 'invalid_api_key', 'Incorrect API key provided.');
  }

  static invalidRequest(message: string, param: string | null = null, code: string | null = null): InferenceError {
    return new InferenceError(400, 'invalid_request_error', code, message, param);
  }

  static modelNotFound(model: string): InferenceError {
    return new InferenceError(404, 'invalid_request_error', 'model_not_found', `The model \`${model}\` does not exist or you do not have access to it.`, 'model');
  }

  static insufficientQuota(message: string): InferenceError {
    // The SDKs retry 402 unless told not to: an empty wallet will not fill itself in a second.
    return new InferenceError(402, 'insufficient_quota', 'insufficient_quota', message, null, { 'x-should-retry': 'false' });
  }

  static rateLimited(message: string, retryAfterSeconds: number, headers: Record<string, string>): InferenceError {
    return new InferenceError(429, 'rate_limit_error', 'rate_limit_exceeded', message, null, { 'retry-after': String(retryAfterSeconds), ...headers });
  }

  static unavailable(message: string, code = 'service_unavailable'): InferenceError {
    return new InferenceError(503, 'server_error', code, message, null, { 'retry-after': '1' });
  }

  static forbidden(message: string, code: string): InferenceError {
    return new InferenceError(403, 'permission_error', code, message);
  }
}
