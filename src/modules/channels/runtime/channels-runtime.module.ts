import { Module } from '@nestjs/common';
import { channelMetricProviders } from '@app/providers';
import { ChannelSecrets } from '../channel-secrets';
import { ChannelsRepository } from '../channels.repository';
import { CHANNEL_ROUTER_RNG, ChannelsRuntime } from './channels-runtime';

/**
 * What the inference proxy imports: `ChannelsRuntime` (router, adapters, failover, breakers,
 * key round-robin, metrics). api only; the worker has no routing table.
 */
@Module({
  providers: [...channelMetricProviders, ChannelsRepository, ChannelSecrets, ChannelsRuntime, { provide: CHANNEL_ROUTER_RNG, useValue: Math.random }],
  exports: [ChannelsRuntime],
})
export class ChannelsRuntimeModule {}
