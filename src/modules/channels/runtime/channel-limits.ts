import { ChannelLimitsConfig, openAIError, UpstreamError } from '@app/providers';
import Redis from 'ioredis';

/**
 * ACQUIRE, atomic per channel: requests per minute over a sliding minute (a sorted set of request
 * ids by time), tokens per minute as a sliding estimate over two fixed minutes (the previous
 * minute weighted by the part of it still inside the last 60 s), and the upstream's cost spent
 * this UTC day (a counter per day). Either all three take this request or none does.
 *
 * KEYS: 1 rpm zset, 2 tokens this minute, 3 tokens last minute, 4 spend today
 * ARGV: 1 now ms, 2 request id, 3 rpm (0: none), 4 tpm (0: none), 5 spend cap units (-1: none),
 *       6 tokens, 7 cost units
 * Returns {'OK'} | {'RPM', retrySeconds} | {'TPM', retrySeconds} | {'SPEND', spentUnits}
 */
const ACQUIRE_LUA = `
local now = tonumber(ARGV[1])
local rpm, tpm, cap = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local tokens, cost = tonumber(ARGV[6]), tonumber(ARGV[7])
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
  if redis.call('ZCARD', KEYS[1]) >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {'RPM', tostring(math.max(1, math.ceil((tonumber(oldest[2]) + 60000 - now) / 1000)))}
  end
end
if tpm > 0 then
  local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
  local prev = tonumber(redis.call('GET', KEYS[3]) or '0')
  local into = (now % 60000) / 60000
  if prev * (1 - into) + cur + tokens > tpm then
    return {'TPM', tostring(math.max(1, math.ceil(60 - (now % 60000) / 1000)))}
  end
end
if cap >= 0 then
  local spent = tonumber(redis.call('GET', KEYS[4]) or '0')
  if spent + cost > cap then return {'SPEND', string.format('%.0f', spent)} end
end
if rpm > 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], 61000)
end
if tpm > 0 then
  redis.call('INCRBY', KEYS[2], tokens)
  redis.call('EXPIRE', KEYS[2], 130)
end
if cap >= 0 then
  redis.call('INCRBY', KEYS[4], cost)
  redis.call('EXPIRE', KEYS[4], 172800)
end
return {'OK'}`;

/** RECONCILE: the estimate taken at acquisition replaced by what the call really used (counters that expired meanwhile are left alone). */
const RECONCILE_LUA = `
for i = 1, 2 do
  local delta = tonumber(ARGV[i])
  if delta ~= 0 and redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], delta) end
end
return 1`;

/** What a call took from a channel's limits, to be corrected once its usage is known. */
export interface ChannelReservation {
  tokensKey: string;
  spendKey: string;
  countsTokens: boolean;
  countsSpend: boolean;
  tokens: number;
  costUnits: bigint;
}

/** Where a channel's counters live (one hash tag per channel, so the script runs on Redis Cluster too). */
export function channelLimitKeys(channelId: string, nowMs: number) {
  const tag = `aigw:{ch:${channelId}}`;
  const minute = Math.floor(nowMs / 60000);
  return {
    rpm: `${tag}:rpm`,
    tokens: `${tag}:tpm:${minute}`,
    tokensBefore: `${tag}:tpm:${minute - 1}`,
    spend: `${tag}:spend:${new Date(nowMs).toISOString().slice(0, 10)}`,
  };
}

export function hasLimits(limits: ChannelLimitsConfig | undefined): limits is ChannelLimitsConfig {
  return Boolean(limits && (limits.rpm || limits.tpm || limits.dailySpendCapUnits !== null));
}

/** The error of a channel at one of its limits: it is skipped; the client sees it only when every channel was. */
export function channelAtLimit(message: string, status: 429 | 503, retryAfterSeconds?: number): UpstreamError {
  const error = new UpstreamError('capacity', status, openAIError(message, status === 429 ? 'rate_limit_error' : 'api_error', status === 429 ? 'rate_limit_exceeded' : 'no_available_channel'));
  if (retryAfterSeconds) error.retryAfterSeconds = retryAfterSeconds;
  return error;
}

type Scripted = Redis & {
  aigwChannelAcquire(k1: string, k2: string, k3: string, k4: string, ...args: Array<string | number>): Promise<string[]>;
  aigwChannelReconcile(k1: string, k2: string, ...args: Array<string | number>): Promise<number>;
};

/** Per-channel limits in Redis: acquired when the router picks the channel, reconciled after the call. */
export class ChannelLimiter {
  private readonly redis: Scripted;

  constructor(redis: Redis) {
    redis.defineCommand('aigwChannelAcquire', { numberOfKeys: 4, lua: ACQUIRE_LUA });
    redis.defineCommand('aigwChannelReconcile', { numberOfKeys: 2, lua: RECONCILE_LUA });
    this.redis = redis as Scripted;
  }

  /**
   * Takes one request, its estimated tokens and its estimated upstream cost from the channel's
   * limits, or throws a `capacity` UpstreamError saying which limit is reached. Redis unreachable:
   * the channel is skipped too (its limits cannot be kept), so a channel without limits still serves.
   */
  async acquire(channelId: string, limits: ChannelLimitsConfig, requestId: string, tokens: number, costUnits: bigint, nowMs = Date.now()): Promise<ChannelReservation> {
    const keys = channelLimitKeys(channelId, nowMs);
    const cap = limits.dailySpendCapUnits;
    let reply: string[];
    try {
      reply = await this.redis.aigwChannelAcquire(keys.rpm, keys.tokens, keys.tokensBefore, keys.spend, nowMs, requestId, limits.rpm ?? 0, limits.tpm ?? 0, cap === null ? -1 : cap.toString(), tokens, costUnits.toString());
    } catch {
      throw channelAtLimit('No upstream is available for this model right now; retry shortly.', 503);
    }
    switch (reply[0]) {
      case 'OK':
        return { tokensKey: keys.tokens, spendKey: keys.spend, countsTokens: Boolean(limits.tpm), countsSpend: cap !== null, tokens, costUnits };
      case 'RPM':
        return Promise.reject(channelAtLimit('Every upstream for this model is at its request rate limit; retry shortly.', 429, Number(reply[1])));
      case 'TPM':
        return Promise.reject(channelAtLimit('Every upstream for this model is at its token rate limit; retry shortly.', 429, Number(reply[1])));
      default:
        return Promise.reject(channelAtLimit('Every upstream for this model has reached its daily spend cap; retry later.', 503));
    }
  }

  /** Replaces the estimate by what was used (best effort: the counters are limits, not money). */
  async reconcile(reservation: ChannelReservation, tokens: number, costUnits: bigint): Promise<void> {
    const tokenDelta = reservation.countsTokens ? tokens - reservation.tokens : 0;
    const costDelta = reservation.countsSpend ? costUnits - reservation.costUnits : 0n;
    if (!tokenDelta && !costDelta) return;
    await this.redis.aigwChannelReconcile(reservation.tokensKey, reservation.spendKey, tokenDelta, costDelta.toString()).catch(() => undefined);
  }

  /** What a channel used of its limits now (for the admin API). */
  async usage(channelId: string, nowMs = Date.now()): Promise<{ requestsLastMinute: number; tokensThisMinute: number; spentTodayUnits: bigint }> {
    const keys = channelLimitKeys(channelId, nowMs);
    const [[, count], [, tokens], [, spent]] = (await this.redis
      .multi()
      .zcount(keys.rpm, nowMs - 60000, '+inf')
      .get(keys.tokens)
      .get(keys.spend)
      .exec()) as Array<[Error | null, unknown]>;
    return { requestsLastMinute: Number(count ?? 0), tokensThisMinute: Number(tokens ?? 0), spentTodayUnits: BigInt((spent as string | null) ?? '0') };
  }
}
