/**
 * Errors of the inference API in OpenAI's shape, `{"error":{"message","type","param","code"}}`, so
 * the official SDKs raise their typed errors (DESIGN.md step 7). Messages never carry upstream
 * keys, hosts or internal addresses.
 */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
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
