import { OpenAIErrorBody } from './types';

/**
 * Why a call to an upstream failed. `connect`, `timeout`, `http_5xx` and `http_429` before the
 * first byte reached the client are retried on the next channel; `auth` disables the key.
 */
export type UpstreamErrorKind =
  | 'connect'
  | 'blocked_address'
  | 'timeout_connect'
  | 'timeout_first_byte'
  | 'timeout_total'
  | 'http_4xx'
  | 'http_429'
  | 'http_5xx'
  | 'auth'
  | 'protocol'
  | 'aborted'
  /** The upstream account is out of quota or balance (OpenAI's 429 insufficient_quota, a 402): the channel is skipped until enabled again. */
  | 'quota'
  /** The channel is at one of its own limits (requests or tokens per minute, daily spend): skipped without calling it. */
  | 'capacity';

export const UPSTREAM_ERROR_KINDS: readonly UpstreamErrorKind[] = [
  'connect',
  'blocked_address',
  'timeout_connect',
  'timeout_first_byte',
  'timeout_total',
  'http_4xx',
  'http_429',
  'http_5xx',
  'auth',
  'protocol',
  'aborted',
  'quota',
  'capacity',
];

const RETRYABLE: ReadonlySet<UpstreamErrorKind> = new Set(['connect', 'timeout_connect', 'timeout_first_byte', 'http_5xx', 'http_429', 'auth', 'quota', 'capacity']);

/**
 * A failed upstream call, already in the form the client may see: `status` and `body` never carry
 * the upstream's key, host or address. `detail` is for logs (also scrubbed).
 */
export class UpstreamError extends Error {
  /** When the client may try again (sent as Retry-After), if known. */
  retryAfterSeconds?: number;

  constructor(
    readonly kind: UpstreamErrorKind,
    readonly status: number,
    readonly body: OpenAIErrorBody,
    readonly upstreamStatus: number | null = null,
  ) {
    super(body.error.message);
    this.name = 'UpstreamError';
  }

  /** Worth trying the next channel (when nothing reached the client yet). */
  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }

  /**
   * Counts against the channel's health (a client's bad request does not; an exhausted quota and
   * the channel's own limits are handled by skipping the channel, not by its breaker).
   */
  get channelFault(): boolean {
    return this.kind !== 'http_4xx' && this.kind !== 'aborted' && this.kind !== 'quota' && this.kind !== 'capacity';
  }
}

export function openAIError(message: string, type: string, code: string | null, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;
const IPV4_PATTERN = /\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g;
const HOST_PATTERN = /\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|ai|dev|cloud|internal|local|localhost|cn|app|co)(?::\d+)?\b/gi;
const KEY_PATTERN = /\b(?:sk|pk|rk|key|AIza)[-_A-Za-z0-9]{12,}\b/g;

/** Removes URLs, host names, addresses and anything that looks like a key from upstream text. */
export function scrub(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  return out.replace(URL_PATTERN, '[upstream]').replace(KEY_PATTERN, '[redacted]').replace(IPV4_PATTERN, '[upstream]').replace(HOST_PATTERN, '[upstream]').slice(0, 1000);
}

/** The upstream's own message, if its error body has one in any of the providers' shapes. */
function upstreamMessage(text: string): string | null {
  try {
    const parsed = JSON.parse(text) as unknown;
    const candidate = Array.isArray(parsed) ? parsed[0] : parsed;
    const error = (candidate as { error?: unknown })?.error;
    if (typeof error === 'string') return error;
    const message = (error as { message?: unknown })?.message;
    return typeof message === 'string' ? message : null;
  } catch {
    return null;
  }
}

/** What an upstream's error body says: its message, code and type, whatever shape it has. */
function upstreamErrorFields(text: string): { message: string; code: string; type: string } {
  try {
    const parsed = JSON.parse(text) as unknown;
    const candidate = (Array.isArray(parsed) ? parsed[0] : parsed) as Record<string, unknown> | null;
    const error = candidate?.error;
    const fields = (typeof error === 'object' && error !== null ? error : candidate ?? {}) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
    return { message: typeof error === 'string' ? error : str(fields.message), code: str(fields.code), type: str(fields.type) };
  } catch {
    return { message: text.slice(0, 500), code: '', type: '' };
  }
}

/**
 * Whether an upstream's error says its account is out of money or quota: OpenAI's 429
 * `insufficient_quota`, Moonshot's `exceeded_current_quota_error`, Zhipu's code 1113, DeepSeek's
 * and OpenRouter's 402, Anthropic's "credit balance is too low". A plain 429 (rate limit) is not.
 */
export function isQuotaExhausted(status: number, text: string): boolean {
  if (status === 402) return true;
  if (status !== 429 && status !== 400 && status !== 403) return false;
  const { message, code, type } = upstreamErrorFields(text);
  if (code === 'insufficient_quota' || type === 'insufficient_quota' || type === 'exceeded_current_quota_error' || code === '1113') return true;
  return /credit balance is too low|insufficient (balance|credits|quota)|exceeded your current quota/i.test(message);
}

/** The client's answer when an upstream account ran out (not the client's own wallet: that is the gateway's 402). */
export function quotaExhaustedError(upstreamStatus: number | null): UpstreamError {
  return new UpstreamError('quota', 503, openAIError('No upstream is available for this model right now; retry shortly.', 'api_error', 'no_available_channel'), upstreamStatus);
}

/**
 * Maps an upstream's non-2xx answer to what the client sees. Client errors keep the upstream's
 * (scrubbed) message, since it says what to fix (context too long, bad parameter); server-side
 * failures and the upstream's auth problems say only that the upstream failed.
 */
export function mapUpstreamHttpError(status: number, text: string, secrets: readonly string[] = []): UpstreamError {
  const message = upstreamMessage(text);
  if (isQuotaExhausted(status, text)) return quotaExhaustedError(status);
  if (status === 401 || status === 403) {
    return new UpstreamError('auth', 502, openAIError('The upstream provider refused the gateway’s credentials.', 'api_error', 'upstream_auth_failed'), status);
  }
  if (status === 429) {
    return new UpstreamError('http_429', 429, openAIError('The upstream provider is rate limiting; retry shortly.', 'rate_limit_error', 'rate_limit_exceeded'), status);
  }
  if (status >= 500 || status < 400) {
    return new UpstreamError('http_5xx', 502, openAIError('The upstream provider failed to answer.', 'api_error', 'upstream_error'), status);
  }
  if (status === 404) {
    return new UpstreamError('http_4xx', 404, openAIError(message ? scrub(message, secrets) : 'The model does not exist upstream.', 'invalid_request_error', 'model_not_found'), status);
  }
  return new UpstreamError(
    'http_4xx',
    400,
    openAIError(message ? scrub(message, secrets) : 'The upstream provider refused the request.', 'invalid_request_error', 'invalid_request'),
    status,
  );
}

export function protocolError(what: string): UpstreamError {
  return new UpstreamError('protocol', 502, openAIError(`The upstream provider sent an invalid response (${what}).`, 'api_error', 'upstream_invalid_response'));
}

export function timeoutError(kind: 'timeout_connect' | 'timeout_first_byte' | 'timeout_total'): UpstreamError {
  const what = { timeout_connect: 'connecting', timeout_first_byte: 'waiting for the first byte', timeout_total: 'waiting for the answer' }[kind];
  return new UpstreamError(kind, 504, openAIError(`The upstream provider timed out ${what}.`, 'api_error', 'upstream_timeout'));
}

export function connectError(): UpstreamError {
  return new UpstreamError('connect', 502, openAIError('The upstream provider could not be reached.', 'api_error', 'upstream_unreachable'));
}

/** The upstream answered, then its connection failed (reset, closed) before the answer was complete. */
export function interruptedError(): UpstreamError {
  return new UpstreamError('connect', 502, openAIError('The upstream provider interrupted its answer.', 'api_error', 'upstream_interrupted'));
}

export function blockedAddressError(): UpstreamError {
  return new UpstreamError('blocked_address', 502, openAIError('The upstream provider could not be reached.', 'api_error', 'upstream_unreachable'));
}
