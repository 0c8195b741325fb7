import { isIP } from 'node:net';
import { guardedLookup, isPublicAddress } from '@app/providers';
import { storableText } from '@app/errors';
import { Agent, Dispatcher, request } from 'undici';

export const SNIPPET_BYTES = 1024;
const BLOCKED = 'ERR_WEBHOOK_BLOCKED_ADDRESS';

export type AttemptError = 'blocked_address' | 'timeout' | 'connection_refused' | 'dns_error' | 'connection_error' | 'redirect_not_followed' | 'http_error';

export interface AttemptResult {
  statusCode: number | null;
  /** null on success. */
  error: AttemptError | null;
  /** Human-readable detail for the log (never the resolved address). */
  detail: string | null;
  latencyMs: number;
  snippet: string | null;
  succeeded: boolean;
  /** Not worth retrying: the address is refused by policy. */
  final: boolean;
}

export interface SenderOptions {
  allowPrivateNetworks: boolean;
  timeoutMs: number;
  responseLimitBytes: number;
}

function blocked(): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error('the webhook URL resolves to an address that is not allowed');
  error.code = BLOCKED;
  return error;
}

/**
 * The DNS lookup the socket itself uses (the providers' guard, with this module's error), so the
 * check holds for the address actually connected to: every resolved address must be public unless
 * private networks are allowed.
 */
export function webhookLookup(allowPrivate: boolean) {
  return guardedLookup(allowPrivate, blocked);
}

export function createWebhookAgent(options: SenderOptions): Agent {
  return new Agent({
    keepAliveTimeout: 10_000,
    connections: 64,
    connect: { timeout: options.timeoutMs, lookup: webhookLookup(options.allowPrivateNetworks) as never },
  });
}

function codeOf(error: unknown): string | undefined {
  const e = error as { code?: string; cause?: { code?: string; cause?: { code?: string } } };
  return e?.code ?? e?.cause?.code ?? e?.cause?.cause?.code;
}

/** The first bytes of a body as storable text (no NUL, no lone surrogate), at most SNIPPET_BYTES. */
export function snippetOf(bytes: Buffer): string | null {
  if (!bytes.length) return null;
  return storableText(bytes.subarray(0, SNIPPET_BYTES).toString('utf8')).slice(0, SNIPPET_BYTES);
}

/**
 * One POST of a signed payload. Never throws: every outcome is an AttemptResult for the log.
 * Redirects are not followed (undici's request never does; a 3xx is a failed attempt). The whole
 * exchange, body included, must end within timeoutMs, and at most responseLimitBytes are read.
 */
export async function sendWebhook(dispatcher: Dispatcher, url: string, headers: Record<string, string>, body: string, options: SenderOptions): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.max(0, Math.round(performance.now() - started));
  const fail = (error: AttemptError, detail: string, statusCode: number | null = null, snippet: string | null = null, final = false): AttemptResult => ({
    statusCode,
    error,
    detail,
    latencyMs: elapsed(),
    snippet,
    succeeded: false,
    final,
  });

  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return fail('connection_error', 'the URL cannot be parsed', null, null, true);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return fail('blocked_address', 'only http and https URLs are delivered to', null, null, true);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  // A literal address is not looked up by the socket: check it here.
  if (isIP(host) && !options.allowPrivateNetworks && !isPublicAddress(host)) {
    return fail('blocked_address', 'the URL points to a private, loopback or link-local address', null, null, true);
  }

  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, options.timeoutMs);
  try {
    const response = await request(target, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', 'user-agent': 'AIGateway-Webhooks/1', ...headers },
      body,
      signal: abort.signal,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    const chunks: Buffer[] = [];
    let read = 0;
    for await (const chunk of response.body) {
      const buffer = chunk as Buffer;
      if (read < SNIPPET_BYTES) chunks.push(buffer.subarray(0, SNIPPET_BYTES - read));
      read += buffer.length;
      if (read >= options.responseLimitBytes) {
        // Enough: the rest is neither read nor waited for.
        response.body.destroy();
        break;
      }
    }
    const status = response.statusCode;
    const snippet = snippetOf(Buffer.concat(chunks));
    if (status >= 200 && status < 300) return { statusCode: status, error: null, detail: null, latencyMs: elapsed(), snippet, succeeded: true, final: false };
    if (status >= 300 && status < 400) return fail('redirect_not_followed', `the receiver answered ${status}; redirects are not followed`, status, snippet);
    return fail('http_error', `the receiver answered ${status}`, status, snippet);
  } catch (error) {
    const code = codeOf(error);
    if (code === BLOCKED) return fail('blocked_address', 'the URL resolves to a private, loopback or link-local address', null, null, true);
    if (timedOut || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return fail('timeout', `no complete response within ${options.timeoutMs} ms`);
    }
    if (code === 'ECONNREFUSED') return fail('connection_refused', 'the connection was refused');
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return fail('dns_error', 'the host name does not resolve');
    return fail('connection_error', `the connection failed${code ? ` (${code})` : ''}`);
  } finally {
    clearTimeout(timer);
  }
}
