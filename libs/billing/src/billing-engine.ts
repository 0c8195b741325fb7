import Redis from 'ioredis';
import { billingKeys } from './redis-keys';
import { AUTHORIZE_LUA, SETTLE_LUA } from './billing-scripts';
import { encodeUsageEvent, UsageEvent } from './usage-event';

/** Per-minute limits of one request's three scopes; 0 or absent means no limit. */
export interface RateLimits {
  keyRpm?: number;
  keyTpm?: number;
  customerRpm?: number;
  customerTpm?: number;
  tenantRpm?: number;
  tenantTpm?: number;
}

export interface HoldRequest {
  requestId: string;
  tenantId: string;
  customerId: string;
  keyId: string;
  /** Worst-case cost of the request, nano-units. */
  holdUnits: bigint;
  /** Prompt estimate plus the output cap, for the tokens-per-minute limits. */
  tokenEstimate: number;
  limits: RateLimits;
  /** The key's spend limit in nano-units, or null for none. */
  keySpendLimitUnits: bigint | null;
  nowMs?: number;
}

export type RateScope = 'key' | 'customer' | 'tenant';
export type HoldResult =
  | { ok: true; balanceAfter: bigint }
  | { ok: false; reason: 'no_balance_loaded' }
  | { ok: false; reason: 'duplicate_request' }
  | { ok: false; reason: 'rate_limited'; scope: RateScope; kind: 'requests' | 'tokens'; limit: number; retryAfterSeconds: number }
  | { ok: false; reason: 'insufficient_balance'; balance: bigint }
  | { ok: false; reason: 'spend_limit_reached'; spent: bigint };

export interface SettleRequest {
  event: UsageEvent;
  /** Total tokens actually used, to correct the tokens-per-minute counters. */
  actualTokens: number;
}

export type SettleResult = { settled: true; balanceAfter: bigint | null } | { settled: false; duplicate: true };

/** How long the settled marker of a request is kept (replays of a spool older than this are refused upstream). */
const SETTLED_MARKER_SECONDS = 7 * 24 * 3600;

interface BillingCommands {
  aigwAuthorize(...args: (string | number)[]): Promise<string[]>;
  aigwSettle(...args: (string | number)[]): Promise<string[]>;
}

/**
 * The money path in Redis: one call before the upstream (limits and hold), one after (settle and
 * the usage event), each a single Lua script. Concurrent requests share round trips through
 * ioredis auto-pipelining when the client has it enabled.
 */
export class BillingEngine {
  private readonly redis: Redis & BillingCommands;

  constructor(
    redis: Redis,
    private readonly holdTtlMs = 15 * 60_000,
  ) {
    if (!(redis as Partial<BillingCommands>).aigwAuthorize) {
      redis.defineCommand('aigwAuthorize', { numberOfKeys: 11, lua: AUTHORIZE_LUA });
      redis.defineCommand('aigwSettle', { numberOfKeys: 9, lua: SETTLE_LUA });
    }
    this.redis = redis as Redis & BillingCommands;
  }

  async hold(req: HoldRequest): Promise<HoldResult> {
    const now = req.nowMs ?? Date.now();
    const minute = Math.floor(now / 60_000);
    const t = req.tenantId;
    const l = req.limits;
    const reply = await this.redis.aigwAuthorize(
      billingKeys.balance(t, req.customerId),
      billingKeys.keySpend(t, req.keyId),
      billingKeys.holds(t),
      billingKeys.hold(t, req.requestId),
      billingKeys.settled(t, req.requestId),
      billingKeys.rate(t, `k:${req.keyId}`, 'req', minute),
      billingKeys.rate(t, `k:${req.keyId}`, 'tok', minute),
      billingKeys.rate(t, `c:${req.customerId}`, 'req', minute),
      billingKeys.rate(t, `c:${req.customerId}`, 'tok', minute),
      billingKeys.rate(t, 't', 'req', minute),
      billingKeys.rate(t, 't', 'tok', minute),
      req.requestId,
      req.holdUnits.toString(),
      req.tokenEstimate,
      now,
      this.holdTtlMs,
      l.keyRpm ?? 0,
      l.keyTpm ?? 0,
      l.customerRpm ?? 0,
      l.customerTpm ?? 0,
      l.tenantRpm ?? 0,
      l.tenantTpm ?? 0,
      req.keySpendLimitUnits === null ? -1 : req.keySpendLimitUnits.toString(),
      req.customerId,
      req.keyId,
    );
    switch (reply[0]) {
      case 'OK':
        return { ok: true, balanceAfter: BigInt(reply[1]) };
      case 'NOBAL':
        return { ok: false, reason: 'no_balance_loaded' };
      case 'DUP':
        return { ok: false, reason: 'duplicate_request' };
      case 'RATE': {
        const index = Number(reply[1]) - 1; // 0..5 in KEYS order
        const scopes: RateScope[] = ['key', 'customer', 'tenant'];
        return {
          ok: false,
          reason: 'rate_limited',
          scope: scopes[Math.floor(index / 2)],
          kind: index % 2 === 0 ? 'requests' : 'tokens',
          limit: Number(reply[2]),
          retryAfterSeconds: Number(reply[3]),
        };
      }
      case 'FUNDS':
        return { ok: false, reason: 'insufficient_balance', balance: BigInt(reply[1]) };
      case 'SPEND':
        return { ok: false, reason: 'spend_limit_reached', spent: BigInt(reply[1]) };
      default:
        throw new Error(`unexpected authorize reply ${String(reply[0])}`);
    }
  }

  /** Releases the hold, charges `event.retailUnits` and appends the event, atomically and once. */
  async settle(req: SettleRequest): Promise<SettleResult> {
    const e = req.event;
    const t = e.tenantId;
    const minute = Math.floor(Date.now() / 60_000);
    const reply = await this.redis.aigwSettle(
      billingKeys.balance(t, e.customerId),
      billingKeys.keySpend(t, e.apiKeyId),
      billingKeys.holds(t),
      billingKeys.hold(t, e.requestId),
      billingKeys.settled(t, e.requestId),
      billingKeys.usageStream(t),
      billingKeys.rate(t, `k:${e.apiKeyId}`, 'tok', minute),
      billingKeys.rate(t, `c:${e.customerId}`, 'tok', minute),
      billingKeys.rate(t, 't', 'tok', minute),
      e.requestId,
      e.retailUnits,
      req.actualTokens,
      encodeUsageEvent(e),
      SETTLED_MARKER_SECONDS,
    );
    if (reply[0] === 'DUP') return { settled: false, duplicate: true };
    return { settled: true, balanceAfter: reply[1] === '' ? null : BigInt(reply[1]) };
  }
}
