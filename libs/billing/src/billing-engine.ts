import Redis from 'ioredis';
import { billingKeys } from './redis-keys';
import { AUTHORIZE_LUA, CHECKPOINT_LUA, RENEW_LUA, SETTLE_LUA } from './billing-scripts';
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
  /**
   * Budgets of the current periods (names from {@link budgetCounter}), each checked with this hold
   * in the same step; absent: none.
   */
  budgets?: Array<{ name: string; limitUnits: bigint }>;
  /**
   * Hour and day windows of the request's scopes (names from {@link rateWindowCounter}), checked
   * and counted in the same step; absent or empty: none (the script then only compares a string).
   */
  windows?: RateWindow[];
  /** Requests of the key and of the customer in flight at once (0 or absent: no cap). */
  concurrency?: { key?: number; customer?: number };
  nowMs?: number;
}

/** What is left of the tightest per-minute limit of each kind after a request (null: no limit). */
export interface RateStatus {
  requests: { limit: number; remaining: number } | null;
  tokens: { limit: number; remaining: number } | null;
  resetSeconds: number;
}

export type RateScope = 'key' | 'customer' | 'tenant';
export type RateWindowSpan = 'hour' | 'day';

/** A requests or tokens limit over a clock hour or a day (the tenant's time-zone day). */
export interface RateWindow {
  /** The counter, under the tenant's hash tag ({@link rateWindowCounter}). */
  name: string;
  limit: number;
  scope: RateScope;
  kind: 'requests' | 'tokens';
  window: RateWindowSpan;
  /** When the window ends (epoch ms): a refusal's Retry-After. */
  resetAtMs: number;
}

/**
 * The counter of a window (under the tenant's hash tag), e.g. `rl:c:<customerId>:req:h:493212` or
 * `rl:t:tok:d:2026-12-03`. The script reads ':tok:' (counts tokens) and ':d:' (kept two days) in it.
 */
export function rateWindowCounter(scope: RateScope, id: string, kind: 'requests' | 'tokens', window: RateWindowSpan, windowId: string | number): string {
  const who = scope === 'tenant' ? 't' : `${scope === 'key' ? 'k' : 'c'}:${id}`;
  return `rl:${who}:${kind === 'requests' ? 'req' : 'tok'}:${window[0]}:${windowId}`;
}
export type HoldResult =
  | { ok: true; balanceAfter: bigint; rate: RateStatus }
  | { ok: false; reason: 'no_balance_loaded' }
  | { ok: false; reason: 'duplicate_request' }
  | { ok: false; reason: 'rate_limited'; scope: RateScope; kind: 'requests' | 'tokens'; limit: number; retryAfterSeconds: number; /** absent: the minute */ window?: RateWindowSpan }
  | { ok: false; reason: 'concurrency_limited'; scope: 'key' | 'customer'; limit: number }
  | { ok: false; reason: 'budget_exhausted'; scope: 'key' | 'customer'; period: BudgetPeriod; spent: bigint; limit: bigint }
  | { ok: false; reason: 'insufficient_balance'; balance: bigint }
  | { ok: false; reason: 'spend_limit_reached'; spent: bigint };

export type BudgetPeriod = 'day' | 'week' | 'month';
const PERIOD_CODES: Record<string, BudgetPeriod> = { d: 'day', w: 'week', m: 'month' };

/** The name (under the tenant's hash tag) of a budget's counter for one period, e.g. `bud:c:<id>:d:2026-12-03`. */
export function budgetCounter(scope: 'key' | 'customer', id: string, period: BudgetPeriod, periodId: string): string {
  return `bud:${scope === 'key' ? 'k' : 'c'}:${id}:${period[0]}:${periodId}`;
}

export interface SettleRequest {
  /** The budget counters the request was admitted under (charged even if its hold is gone). */
  budgets?: string[];
  event: UsageEvent;
  /** Total tokens actually used, to correct the tokens-per-minute counters. */
  actualTokens: number;
}

export type SettleResult = { settled: true; balanceAfter: bigint | null } | { settled: false; duplicate: true };

/** How long the settled marker of a request is kept (replays of a spool older than this are refused upstream). */
export const SETTLED_MARKER_SECONDS = 7 * 24 * 3600;

/** Most requests one script call carries (it bounds how long one call holds Redis). */
const MAX_BATCH = 64;

type Reply = string[];

interface BillingCommands {
  aigwAuthorize(holdsKey: string, ...args: (string | number)[]): Promise<Reply[]>;
  aigwSettle(holdsKey: string, ...args: (string | number)[]): Promise<Reply[]>;
  aigwCheckpoint(holdsKey: string, tag: string, requestId: string, expires: number, cost: string, event: string): Promise<number>;
  aigwRenew(holdsKey: string, ...args: (string | number)[]): Promise<number>;
}

/** A request in flight whose leases {@link BillingEngine.renew} keeps alive. */
export interface InFlightLease {
  requestId: string;
  keyId: string;
  customerId: string;
}

interface Pending {
  args: (string | number)[];
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

/**
 * Gathers the calls of one script made in the same turn of the event loop, by tenant, and sends
 * each tenant's as one script call (at most MAX_BATCH items) when the turn ends (setImmediate: after
 * every socket that was readable in this turn was served). At concurrency 1 a call goes out alone,
 * as soon as the current callback is done; under load, requests share the call, its reply and
 * Redis's per-call work.
 */
class ScriptBatcher {
  private byTenant = new Map<string, Pending[]>();
  private scheduled = false;

  constructor(
    private readonly send: (holdsKey: string, args: (string | number)[]) => Promise<Reply[]>,
    private readonly common: () => (string | number)[],
    private readonly observe: (size: number) => void,
  ) {}

  submit(tenantId: string, args: (string | number)[]): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      let queue = this.byTenant.get(tenantId);
      if (!queue) this.byTenant.set(tenantId, (queue = []));
      queue.push({ args, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batches = this.byTenant;
    this.byTenant = new Map();
    for (const [tenantId, pending] of batches) {
      for (let i = 0; i < pending.length; i += MAX_BATCH) this.call(tenantId, pending.slice(i, i + MAX_BATCH));
    }
  }

  private call(tenantId: string, items: Pending[]): void {
    const args: (string | number)[] = [billingKeys.tag(tenantId), ...this.common()];
    for (const item of items) for (const a of item.args) args.push(a);
    this.observe(items.length);
    this.send(billingKeys.holds(tenantId), args).then(
      (replies) => {
        items.forEach((item, i) => {
          const reply = replies[i];
          if (!Array.isArray(reply)) item.reject(new Error('the billing script gave no reply for this request'));
          else if (reply[0] === 'ERR') item.reject(new Error(`billing script error: ${reply[1]}`));
          else item.resolve(reply);
        });
      },
      (error: Error) => {
        for (const item of items) item.reject(error);
      },
    );
  }
}

/**
 * The money path in Redis: one call before the upstream (limits and hold), one after (settle and
 * the usage event), each a single Lua script. Concurrent requests of a tenant share the call: see
 * ScriptBatcher (one round trip, one reply and one script run for many requests).
 */
export class BillingEngine {
  private readonly holds: ScriptBatcher;
  private readonly settles: ScriptBatcher;
  private readonly commands: BillingCommands;

  /**
   * @param onBatch told the size of every script call (the api's metrics show how many requests
   *   share a round trip)
   */
  /**
   * @param leaseMs how long a concurrency slot outlives a request that never settles (its process
   *   died): the slot is free again after it
   */
  constructor(
    redis: Redis,
    private readonly holdTtlMs = 15 * 60_000,
    onBatch: (script: 'authorize' | 'settle', size: number) => void = () => undefined,
    private readonly leaseMs = 10 * 60_000,
  ) {
    if (!(redis as Partial<BillingCommands>).aigwAuthorize) {
      redis.defineCommand('aigwAuthorize', { numberOfKeys: 1, lua: AUTHORIZE_LUA });
      redis.defineCommand('aigwSettle', { numberOfKeys: 1, lua: SETTLE_LUA });
      redis.defineCommand('aigwCheckpoint', { numberOfKeys: 1, lua: CHECKPOINT_LUA });
      redis.defineCommand('aigwRenew', { numberOfKeys: 1, lua: RENEW_LUA });
    }
    const commands = redis as Redis & BillingCommands;
    this.commands = commands;
    this.holds = new ScriptBatcher(
      (holdsKey, args) => commands.aigwAuthorize(holdsKey, ...args),
      () => [this.holdTtlMs],
      (size) => onBatch('authorize', size),
    );
    this.settles = new ScriptBatcher(
      (holdsKey, args) => commands.aigwSettle(holdsKey, ...args),
      () => [SETTLED_MARKER_SECONDS],
      (size) => onBatch('settle', size),
    );
  }

  async hold(req: HoldRequest): Promise<HoldResult> {
    const now = req.nowMs ?? Date.now();
    const l = req.limits;
    const reply = await this.holds.submit(req.tenantId, [
      req.requestId,
      req.customerId,
      req.keyId,
      req.holdUnits.toString(),
      req.tokenEstimate,
      now,
      Math.floor(now / 60_000),
      l.keyRpm ?? 0,
      l.keyTpm ?? 0,
      l.customerRpm ?? 0,
      l.customerTpm ?? 0,
      l.tenantRpm ?? 0,
      l.tenantTpm ?? 0,
      req.keySpendLimitUnits === null ? -1 : req.keySpendLimitUnits.toString(),
      req.concurrency?.key ?? 0,
      req.concurrency?.customer ?? 0,
      this.leaseMs,
      req.budgets?.map((b) => `${b.name}=${b.limitUnits.toString()}`).join(',') ?? '',
      req.windows?.length ? req.windows.map((w) => `${w.name}=${w.limit}`).join(',') : '',
    ]);
    switch (reply[0]) {
      case 'OK': {
        const status = (limit: string, remaining: string) => (limit === '0' ? null : { limit: Number(limit), remaining: Math.max(0, Number(remaining)) });
        return { ok: true, balanceAfter: BigInt(reply[1]), rate: { requests: status(reply[2], reply[3]), tokens: status(reply[4], reply[5]), resetSeconds: Number(reply[6]) } };
      }
      case 'BUDGET': {
        const [, scope, , period] = reply[1].split(':');
        return { ok: false, reason: 'budget_exhausted', scope: scope === 'k' ? 'key' : 'customer', period: PERIOD_CODES[period], spent: BigInt(reply[2]), limit: BigInt(reply[3]) };
      }
      case 'CONC':
        return { ok: false, reason: 'concurrency_limited', scope: reply[1] === '1' ? 'key' : 'customer', limit: Number(reply[2]) };
      case 'NOBAL':
        return { ok: false, reason: 'no_balance_loaded' };
      case 'DUP':
        return { ok: false, reason: 'duplicate_request' };
      case 'RATE': {
        const index = Number(reply[1]) - 1; // 0..5: key req, key tok, customer req, customer tok, tenant req, tenant tok
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
      case 'WINDOW': {
        const w = req.windows?.find((x) => x.name === reply[1]);
        if (!w) throw new Error(`unexpected window ${reply[1]}`);
        const retryAfterSeconds = Math.max(1, Math.ceil((w.resetAtMs - now) / 1000));
        return { ok: false, reason: 'rate_limited', scope: w.scope, kind: w.kind, limit: w.limit, retryAfterSeconds, window: w.window };
      }
      case 'FUNDS':
        return { ok: false, reason: 'insufficient_balance', balance: BigInt(reply[1]) };
      case 'SPEND':
        return { ok: false, reason: 'spend_limit_reached', spent: BigInt(reply[1]) };
      default:
        throw new Error(`unexpected authorize reply ${String(reply[0])}`);
    }
  }

  /**
   * Keeps what a running stream has delivered so far on its hold (the settlement it would make if
   * it ended now) and moves the hold's expiry forward: an api that dies mid-stream leaves this
   * charge to the expired-holds sweeper. False when the hold is gone (already settled).
   */
  async checkpoint(req: SettleRequest, nowMs = Date.now()): Promise<boolean> {
    const e = req.event;
    const kept = await this.commands.aigwCheckpoint(billingKeys.holds(e.tenantId), billingKeys.tag(e.tenantId), e.requestId, nowMs + this.holdTtlMs, e.retailUnits, encodeUsageEvent(e));
    return kept === 1;
  }

  /**
   * Moves the hold's expiry and the concurrency slots' leases of requests still in flight (of one
   * tenant) forward from `nowMs`; never revives a hold or a slot that is gone. The number of holds
   * that were there.
   */
  async renew(tenantId: string, requests: InFlightLease[], nowMs = Date.now()): Promise<number> {
    if (requests.length === 0) return 0;
    const args: (string | number)[] = [billingKeys.tag(tenantId), this.holdTtlMs, this.leaseMs, nowMs];
    for (const r of requests) args.push(r.requestId, r.keyId, r.customerId);
    return this.commands.aigwRenew(billingKeys.holds(tenantId), ...args);
  }

  /** How often the leases of a request in flight must be renewed so that none runs out: a third of the shorter one. */
  get renewEveryMs(): number {
    return Math.max(250, Math.floor(Math.min(this.holdTtlMs, this.leaseMs) / 3));
  }

  /** Releases the hold, charges `event.retailUnits` and appends the event, atomically and once. */
  async settle(req: SettleRequest): Promise<SettleResult> {
    const e = req.event;
    const reply = await this.settles.submit(e.tenantId, [
      e.requestId,
      e.customerId,
      e.apiKeyId,
      e.retailUnits,
      req.actualTokens,
      Math.floor(Date.now() / 60_000),
      encodeUsageEvent(e),
      req.budgets?.join(',') ?? '',
    ]);
    if (reply[0] === 'DUP') return { settled: false, duplicate: true };
    return { settled: true, balanceAfter: reply[1] === '' ? null : BigInt(reply[1]) };
  }
}
