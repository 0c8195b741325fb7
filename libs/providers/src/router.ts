import { hash } from 'node:crypto';
import type { CompiledPrice } from '@app/money';
import { BreakerOptions, CircuitBreaker, DEFAULT_BREAKER_OPTIONS } from './breaker';
import { ModelMap, ModelMapping } from './model-map';
import { ProviderType, UpstreamSettings } from './types';

export type ChannelPool = 'standard' | 'spot';
export type ChannelStatus = 'enabled' | 'disabled' | 'auto_disabled' | 'quota_exhausted';

/** A channel's own limits (null: none). */
export interface ChannelLimitsConfig {
  rpm: number | null;
  tpm: number | null;
  /** The upstream's cost this channel may spend per UTC day, nano-units. */
  dailySpendCapUnits: bigint | null;
}

export interface RoutingKey {
  id: string;
  /** The upstream key in clear: held in memory only, never logged or returned. */
  secret: string;
  last4: string;
  status: 'active' | 'disabled';
}

/** Everything the hot path needs to know about a channel, held in memory. */
export interface RoutingChannel {
  id: string;
  name: string;
  provider: ProviderType;
  baseUrl: string;
  models: ModelMapping[];
  priority: number;
  weight: number;
  pool: ChannelPool;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  totalTimeoutMs: number;
  retryBudget: number;
  /** Provider settings (Azure's api-version, Bedrock's region, Vertex's project and location, a preset). */
  settings?: UpstreamSettings;
  status: ChannelStatus;
  keys: RoutingKey[];
  /** What the upstream charges per model (public or upstream name), compiled to nano-units; for margin reports and the daily spend cap. */
  costs?: ReadonlyMap<string, CompiledPrice>;
  /** Requests and tokens per minute, daily spend (absent: none). */
  limits?: ChannelLimitsConfig;
  /** Changes whenever the row changes (its updated_at), so a refresh can keep unchanged agents and breakers. */
  version: string;
}

export interface Candidate {
  channel: RoutingChannel;
  upstreamModel: string;
}

/** A random number in [0, 1). */
export type Rng = () => number;

/** A small seeded PRNG (mulberry32) for reproducible selection in tests. */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function unitHash(stickyKey: string, channelId: string): number {
  // One-shot hash (Node >= 20.12): no Hash object per channel and request.
  const digest = hash('sha256', `${stickyKey}\0${channelId}`, 'buffer');
  // 48 bits, never exactly 0 or 1
  return (digest.readUIntBE(0, 6) + 0.5) / 2 ** 48;
}

interface Entry {
  channel: RoutingChannel;
  models: ModelMap;
}

/**
 * The routing table of one api instance: which channels serve a model in a pool, in the order to
 * try them. Highest priority first; within one priority, weighted random order (each channel is
 * first with probability weight / sum of weights), or, with a sticky key (a user), a weighted
 * rendezvous hash, so one user keeps hitting one upstream (its prompt cache) while that channel is
 * healthy. Disabled, auto-disabled, keyless and open-circuit channels are skipped.
 */
export class ChannelRouter {
  private entries: Entry[] = [];
  private readonly breakers = new Map<string, { version: string; breaker: CircuitBreaker }>();
  private readonly cursors = new Map<string, number>();
  private readonly locallyDisabledKeys = new Set<string>();
  /** Channels this instance saw run out of quota, by the version they had then (until the row changes). */
  private readonly locallyExhausted = new Map<string, string>();

  constructor(
    private readonly options: { rng?: Rng; breaker?: BreakerOptions; now?: () => number; onBreakerChange?: (channel: RoutingChannel, state: string) => void } = {},
  ) {}

  /** Replaces the whole table (a load or a refresh); breakers of unchanged channels are kept. */
  replace(channels: readonly RoutingChannel[]): void {
    this.entries = channels.map((channel) => ({ channel, models: new ModelMap(channel.models) }));
    const ids = new Set(channels.map((c) => c.id));
    for (const id of this.breakers.keys()) if (!ids.has(id)) this.breakers.delete(id);
    for (const channel of channels) {
      const kept = this.breakers.get(channel.id);
      if (!kept) this.breakers.set(channel.id, { version: channel.version, breaker: this.newBreaker(channel) });
    }
    // A channel marked exhausted here is routed again once its row changed (marked in the database, or enabled again).
    for (const [id, version] of [...this.locallyExhausted]) {
      if (channels.find((c) => c.id === id)?.version !== version) this.locallyExhausted.delete(id);
    }
    // A key the database now lists as active again (re-enabled) is usable again.
    for (const key of [...this.locallyDisabledKeys]) {
      const stillListed = channels.some((c) => c.keys.some((k) => k.id === key && k.status === 'active'));
      if (!stillListed) this.locallyDisabledKeys.delete(key);
    }
  }

  get channels(): readonly RoutingChannel[] {
    return this.entries.map((e) => e.channel);
  }

  channel(id: string): RoutingChannel | undefined {
    return this.entries.find((e) => e.channel.id === id)?.channel;
  }

  breaker(channelId: string): CircuitBreaker {
    let held = this.breakers.get(channelId);
    if (!held) {
      const channel = this.channel(channelId);
      held = { version: channel?.version ?? '', breaker: this.newBreaker(channel) };
      this.breakers.set(channelId, held);
    }
    return held.breaker;
  }

  /** Public model names served by enabled channels (exact names only). */
  models(pool?: ChannelPool): string[] {
    const names = new Set<string>();
    for (const e of this.entries) if (e.channel.status === 'enabled' && (!pool || e.channel.pool === pool)) e.models.exactNames.forEach((n) => names.add(n));
    return [...names].sort();
  }

  /**
   * Whether any enabled channel serves `model` (healthy or not): tells 404 from 503. A channel out
   * of quota counts too: its model exists, and is unavailable (503) until the channel is enabled again.
   */
  serves(model: string): boolean {
    return this.entries.some((e) => (e.channel.status === 'enabled' || e.channel.status === 'quota_exhausted') && e.models.resolve(model) !== null);
  }

  /** The provider types of the enabled channels that serve `model`. */
  providersOf(model: string): Set<ProviderType> {
    const types = new Set<ProviderType>();
    for (const e of this.entries) if (e.channel.status === 'enabled' && e.models.resolve(model) !== null) types.add(e.channel.provider);
    return types;
  }

  /** The channels to try for `model` in `pool`, best first (empty: none healthy). */
  pick(model: string, pool: ChannelPool = 'standard', stickyKey?: string): Candidate[] {
    const byPriority = new Map<number, Array<Candidate & { score: number }>>();
    const rng = this.options.rng ?? Math.random;
    for (const { channel, models } of this.entries) {
      if (channel.status !== 'enabled' || channel.pool !== pool || channel.weight <= 0) continue;
      if (!this.hasUsableKey(channel)) continue;
      if (this.locallyExhausted.get(channel.id) === channel.version) continue;
      const upstreamModel = models.resolve(model);
      if (upstreamModel === null) continue;
      if (!this.breaker(channel.id).available) continue;
      // Efraimidis-Spirakis: sorting by u^(1/w) descending is weighted sampling without replacement;
      // in log form, -ln(u)/w ascending. A sticky key replaces u with a hash of (key, channel).
      const u = stickyKey ? unitHash(stickyKey, channel.id) : Math.max(rng(), Number.MIN_VALUE);
      const score = -Math.log(u) / channel.weight;
      const group = byPriority.get(channel.priority) ?? [];
      group.push({ channel, upstreamModel, score });
      byPriority.set(channel.priority, group);
    }
    return [...byPriority.keys()]
      .sort((a, b) => b - a)
      .flatMap((priority) => byPriority.get(priority)!.sort((a, b) => a.score - b.score).map(({ channel, upstreamModel }) => ({ channel, upstreamModel })));
  }

  /** The channel's next usable key, round-robin; null when every key is disabled. */
  nextKey(channel: RoutingChannel): RoutingKey | null {
    const keys = channel.keys;
    if (!keys.length) return null;
    const start = this.cursors.get(channel.id) ?? 0;
    for (let i = 0; i < keys.length; i += 1) {
      const key = keys[(start + i) % keys.length];
      if (key.status === 'active' && !this.locallyDisabledKeys.has(key.id)) {
        this.cursors.set(channel.id, (start + i + 1) % keys.length);
        return key;
      }
    }
    return null;
  }

  /** Stops using a key on this instance at once (before the database change comes back). */
  disableKeyLocally(keyId: string): void {
    this.locallyDisabledKeys.add(keyId);
  }

  /** Stops routing to a channel whose upstream ran out of quota, on this instance at once (before the database change comes back). */
  exhaustLocally(channel: RoutingChannel): void {
    this.locallyExhausted.set(channel.id, channel.version);
  }

  private hasUsableKey(channel: RoutingChannel): boolean {
    return channel.keys.some((k) => k.status === 'active' && !this.locallyDisabledKeys.has(k.id));
  }

  private newBreaker(channel: RoutingChannel | undefined): CircuitBreaker {
    return new CircuitBreaker(this.options.breaker ?? DEFAULT_BREAKER_OPTIONS, this.options.now, (state) => {
      if (channel) this.options.onBreakerChange?.(channel, state);
    });
  }
}
