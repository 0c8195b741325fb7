import type { Dispatcher } from 'undici';
import type { ChannelRouter, ProviderAdapter, ProviderType, RoutingChannel, RoutingKey, UpstreamError } from '@app/providers';
import type { CompiledPrice } from '@app/money';

/**
 * What the pipeline needs from the channels module at run time: the in-memory routing table, the
 * protocol adapters, one pooled keep-alive dispatcher per channel, and where outcomes go (breaker,
 * metrics, a key refused by its upstream).
 */
export interface ChannelRuntime {
  readonly router: ChannelRouter;
  readonly allowPrivateNetworks: boolean;
  adapter(provider: ProviderType): ProviderAdapter;
  dispatcher(channel: RoutingChannel): Dispatcher;
  /** The channel's upstream cost of a model (per million tokens), or null if it has none. */
  upstreamCost(channel: RoutingChannel, publicModel: string): CompiledPrice | null;
  reportSuccess(channel: RoutingChannel, latencyMs: number): void;
  reportFailure(channel: RoutingChannel, key: RoutingKey | null, error: UpstreamError): void;
}

export const CHANNEL_RUNTIME = Symbol('CHANNEL_RUNTIME');
