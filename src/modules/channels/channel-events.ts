import { Inject, Injectable, Logger } from '@nestjs/common';
import { REDIS } from '@app/redis';
import Redis from 'ioredis';

/** The Redis pub/sub topic on which every change to a channel is announced. */
export const CHANNELS_CHANGED_TOPIC = 'aigateway:channels:changed';

/** Tells every api instance to reload its routing table. */
@Injectable()
export class ChannelEvents {
  private readonly logger = new Logger(ChannelEvents.name);

  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  /** Best effort: with Redis down, instances still catch up on their refresh timer. */
  async changed(channelId: string): Promise<void> {
    try {
      await this.redis.publish(CHANNELS_CHANGED_TOPIC, channelId);
    } catch (error) {
      this.logger.warn({ channelId, err: error instanceof Error ? error.message : String(error) }, 'could not announce a channel change; instances reload on their timer');
    }
  }
}
