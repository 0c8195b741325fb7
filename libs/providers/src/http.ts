import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import ipaddr from 'ipaddr.js';
import { Agent, Dispatcher } from 'undici';
import { blockedAddressError, connectError, timeoutError, UpstreamError } from './errors';
import { UpstreamRequest } from './types';

const BLOCKED_CODE = 'ERR_CHANNEL_BLOCKED_ADDRESS';

/** Only public unicast addresses; private, loopback, link-local, CGNAT, multicast and the like are not. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === 'unicast';
}

function blocked(): NodeJS.ErrnoException {
  // The message never names the address: it may end up in a log line next to a channel name.
  const error: NodeJS.ErrnoException = new Error('the upstream resolves to an address that is not allowed');
  error.code = BLOCKED_CODE;
  return error;
}

/** Every address of a host name (the system resolver by default; domain verification may ask given servers). */
export type AddressLookup = (hostname: string, options: object, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemLookup: AddressLookup = (hostname, options, callback) =>
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => callback(err, (addresses ?? []) as LookupAddress[]));

/**
 * A DNS lookup that refuses non-public addresses, used by the socket itself, so the check holds
 * for the address actually connected to (no window between a check and the connect, as with DNS
 * rebinding). `refusal` makes the error a refused lookup fails with (webhooks have their own).
 */
export function guardedLookup(allowPrivate: boolean, refusal: () => NodeJS.ErrnoException = blocked, resolve: AddressLookup = systemLookup) {
  return (hostname: string, options: object, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    resolve(hostname, options, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses as LookupAddress[];
      if (!allowPrivate && (list.length === 0 || list.some((a) => !isPublicAddress(a.address)))) return callback(refusal(), '');
      if ((options as { all?: boolean }).all) return callback(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };
}

export interface UpstreamAgentOptions {
  connectTimeoutMs: number;
  allowPrivateNetworks: boolean;
  /** Idle keep-alive connections are kept this long. */
  keepAliveTimeoutMs?: number;
  connections?: number;
}

/** A pooled keep-alive client for one channel; redirects are never followed (undici's request does not). */
export function createUpstreamAgent(options: UpstreamAgentOptions): Agent {
  return new Agent({
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    keepAliveMaxTimeout: 600_000,
    connections: options.connections ?? 256,
    pipelining: 1,
    connect: { timeout: options.connectTimeoutMs, lookup: guardedLookup(options.allowPrivateNetworks) as never },
  });
}

export interface SendOptions {
  /** Headers (the response's status line) must arrive within this. */
  firstByteMs: number;
  /** The whole exchange, body included, must end within this (from the call). */
  totalMs: number;
  /** The client went away, or the caller's own deadline. */
  signal?: AbortSignal;
  allowPrivateNetworks: boolean;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** Milliseconds from the call until the status line arrived. */
  firstByteMs: number;
  /** Stops the total deadline timer (call when the body was consumed). */
  done(): void;
}

/**
 * Sends one upstream request. Connect errors, the SSRF guard and timeouts come back as
 * UpstreamError with a kind the failover understands; the error never names the host. A literal IP
 * in the URL is checked here, since the socket does not look it up.
 */
export async function sendUpstream(dispatcher: Dispatcher, req: UpstreamRequest, options: SendOptions): Promise<UpstreamResponse> {
  const target = upstreamTarget(req.url, options.allowPrivateNetworks);
  if (!target) throw blockedAddressError();

  const total = new AbortController();
  let totalExpired = false;
  const timer = setTimeout(() => {
    totalExpired = true;
    total.abort();
  }, options.totalMs);
  const onOuterAbort = () => total.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const done = () => {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onOuterAbort);
  };
  const started = performance.now();
  try {
    const response = await dispatcher.request({
      origin: target.origin,
      path: target.path,
      method: req.method ?? 'POST',
      headers: req.headers,
      body: req.method === 'GET' ? undefined : req.body,
      signal: total.signal,
      headersTimeout: options.firstByteMs,
      bodyTimeout: Math.max(1, options.totalMs),
    });
    const body = response.body as unknown as Readable;
    // A body that stalls or dies past the total deadline surfaces as a timeout, not an abort.
    const firstByteMs = performance.now() - started;
    body.once('close', done);
    return {
      status: response.statusCode,
      headers: response.headers,
      body: wrapBodyErrors(body, () => totalExpired),
      firstByteMs,
      done,
    };
  } catch (error) {
    done();
    throw classify(error, totalExpired, options.signal?.aborted ?? false);
  }
}

/** Where a request goes: origin and path of a URL whose scheme and literal address are allowed. */
interface Target {
  origin: string;
  path: string;
}

/** Channel URLs are few and fixed: each is parsed and checked once (per setting), not per request. */
const targets = new Map<string, Target | null>();

function upstreamTarget(raw: string, allowPrivateNetworks: boolean): Target | null {
  const key = `${allowPrivateNetworks ? 1 : 0}${raw}`;
  let target = targets.get(key);
  if (target !== undefined) return target;
  target = parseTarget(raw, allowPrivateNetworks);
  if (targets.size >= 1024) targets.clear();
  targets.set(key, target);
  return target;
}

function parseTarget(raw: string, allowPrivateNetworks: boolean): Target | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && !allowPrivateNetworks && !isPublicAddress(host)) return null;
  return { origin: url.origin, path: `${url.pathname}${url.search}` };
}

function wrapBodyErrors(body: Readable, expired: () => boolean): Readable {
  const original = body.destroy.bind(body);
  body.destroy = ((error?: Error) => original(error ? classify(error, expired(), false) : undefined)) as typeof body.destroy;
  return body;
}

function codeOf(error: unknown): string | undefined {
  const e = error as { code?: string; cause?: { code?: string } };
  return e?.code ?? e?.cause?.code;
}

export function classify(error: unknown, totalExpired: boolean, callerAborted: boolean): UpstreamError {
  if (error instanceof UpstreamError) return error;
  const code = codeOf(error);
  if (totalExpired) return timeoutError('timeout_total');
  if (callerAborted) return new UpstreamError('aborted', 499, { error: { message: 'The request was cancelled.', type: 'api_error', param: null, code: 'cancelled' } });
  if (code === BLOCKED_CODE) return blockedAddressError();
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return timeoutError('timeout_connect');
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return timeoutError('timeout_first_byte');
  if (code === 'UND_ERR_BODY_TIMEOUT') return timeoutError('timeout_total');
  return connectError();
}
