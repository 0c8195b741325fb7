import { Module } from '@nestjs/common';
import { channelMetricProviders } from '@app/providers';
import { SystemDb } from '@app/tenancy';
import { ChannelEvents } from './channel-events';
import { ChannelHealthProcessor } from './channel-health.processor';
import { ChannelSecrets } from './channel-secrets';
import { ChannelsRepository } from './channels.repository';

/** Worker only: scheduled health checks, auto-disable and recovery, refused keys. */
@Module({ providers: [...channelMetricProviders, SystemDb, ChannelsRepository, ChannelSecrets, ChannelEvents, ChannelHealthProcessor] })
export class ChannelsWorkerModule {}
