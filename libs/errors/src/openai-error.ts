/**
 * OpenAI's error shape, which the inference API under /v1 answers in (clients written for OpenAI
 * read `error.message`, `error.type`, `error.param` and `error.code`). The admin API answers
 * `application/problem+json` instead; `errorShapeFor` picks one by the URL.
 */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export type ErrorShape = 'openai' | 'problem';

/** `/v1/...` is the OpenAI-compatible API; everything else (admin, auth, health) is problem+json. */
export function errorShapeFor(url: string | undefined): ErrorShape {
  return url !== undefined && (url === '/v1' || url.startsWith('/v1/') || url.startsWith('/v1?')) ? 'openai' : 'problem';
}

/** OpenAI's error `type` for an HTTP status. */
export function openAiErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status === 402) return 'insufficient_quota';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** The body of an error in OpenAI's shape. */
export function openAiError(status: number, message: string, code: string | null = null, param: string | null = null): OpenAiErrorBody {
  return { error: { message, type: openAiErrorType(status), param, code } };
}
