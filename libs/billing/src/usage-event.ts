/**
 * A usage event: what the proxy records for every request it settled (DESIGN.md "Inference hot
 * path" step 6), appended to the tenant's usage stream in the same Lua call that settles the money,
 * and turned into a usage record and a ledger transaction by the metering processor, exactly once
 * (unique on `requestId`). Amounts are integer nano-units (see @app/money) as decimal strings.
 */
export interface UsageEvent {
  /** Schema version of the event. */
  v: 1;
  requestId: string;
  tenantId: string;
  customerId: string;
  apiKeyId: string;
  channelId: string | null;
  model: string;
  upstreamModel: string | null;
  pool: 'standard' | 'spot';
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** What the customer pays (tenant retail price), nano-units. */
  retailUnits: string;
  /** What the reseller owes the platform (wholesale price); equals retail for the platform's own customers. */
  wholesaleUnits: string;
  /** What the upstream charges the platform (channel cost), nano-units. */
  upstreamUnits: string;
  /** `ok`, or how it ended: `client_cancelled`, `upstream_error`, `timeout`, `error`. */
  status: string;
  errorCode: string | null;
  latencyMs: number;
  ttftMs: number | null;
  stream: boolean;
  clientIp: string | null;
  /**
   * The `x-request-id` of the answer (the client's own or the gateway's), for support to find the
   * record. Absent in events written before it existed.
   */
  httpRequestId?: string | null;
  /**
   * What the request was billed in (README "Price units") and how many of it: tokens (the token
   * buckets' sum), images, seconds of audio, characters, search units, requests. Absent in events
   * written before units existed: tokens.
   */
  unit?: 'token' | 'image' | 'second' | 'character' | 'search_unit' | 'request';
  quantity?: number;
  /**
   * A sub-reseller's request only: its ancestor resellers, direct parent first, each with what it
   * pays its own parent for this request (the last one pays the platform), nano-units. The direct
   * parent earns `wholesaleUnits`, each next ancestor the previous level's cost.
   */
  levels?: Array<{ tenantId: string; costUnits: string }>;
  /** When the request started, epoch milliseconds (also picks the usage_records partition). */
  createdAt: number;
}

/** Field name of the JSON-encoded event in a stream entry. */
export const USAGE_EVENT_FIELD = 'e';

export function encodeUsageEvent(event: UsageEvent): string {
  return JSON.stringify(event);
}

/** Parses a stream entry's payload; throws on anything that is not a well-formed v1 event. */
export function decodeUsageEvent(raw: string): UsageEvent {
  const e = JSON.parse(raw) as UsageEvent;
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const units = /^-?\d{1,20}$/;
  const count = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  const ok =
    e && e.v === 1 && uuid.test(e.requestId) && uuid.test(e.tenantId) && uuid.test(e.customerId) && uuid.test(e.apiKeyId) &&
    (e.channelId === null || uuid.test(e.channelId)) && typeof e.model === 'string' && e.model.length > 0 &&
    count(e.inputTokens) && count(e.outputTokens) && count(e.cacheReadTokens) && count(e.cacheWriteTokens) &&
    units.test(e.retailUnits) && units.test(e.wholesaleUnits) && units.test(e.upstreamUnits) &&
    typeof e.status === 'string' && Number.isSafeInteger(e.createdAt) &&
    (e.unit === undefined || ['token', 'image', 'second', 'character', 'search_unit', 'request'].includes(e.unit)) &&
    (e.quantity === undefined || count(e.quantity)) &&
    (e.levels === undefined || (Array.isArray(e.levels) && e.levels.length <= 16 && e.levels.every((l) => l && uuid.test(l.tenantId) && units.test(l.costUnits)))) &&
    (e.httpRequestId === undefined || e.httpRequestId === null || (typeof e.httpRequestId === 'string' && e.httpRequestId.length <= 128));
  if (!ok) throw new Error('malformed usage event');
  return e;
}
