import { Module } from '@nestjs/common';
import { ChannelEvents } from './channel-events';
import { ChannelSecrets } from './channel-secrets';
import { ChannelsController } from './channels.controller';
import { ChannelsRepository } from './channels.repository';
import { ChannelsService } from './channels.service';
import { ChannelsRuntimeModule } from './runtime/channels-runtime.module';

/** Admin API of channels (api only). The hot path uses ChannelsRuntimeModule. */
@Module({
  imports: [ChannelsRuntimeModule],
  controllers: [ChannelsController],
  providers: [ChannelsRepository, ChannelsService, ChannelSecrets, ChannelEvents],
  exports: [ChannelsRepository, ChannelSecrets, ChannelEvents],
})
export class ChannelsModule {}
