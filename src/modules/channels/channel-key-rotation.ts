import { Injectable } from '@nestjs/common';
import { SecretBox } from '@app/providers';
import { SystemDb } from '@app/tenancy';
import { ChannelEvents } from './channel-events';
import { ChannelSecrets } from './channel-secrets';
import { ChannelsRepository } from './channels.repository';

/**
 * `cli reencrypt-channel-keys`: moves every stored upstream key to the first key of
 * CHANNEL_ENCRYPTION_KEYS, so an old encryption key can then be removed. Idempotent; runs in one
 * transaction on the system role, so a key that cannot be decrypted stops it with nothing changed.
 */
@Injectable()
export class ChannelKeyRotation {
  constructor(
    private readonly systemDb: SystemDb,
    private readonly repository: ChannelsRepository,
    private readonly secrets: ChannelSecrets,
    private readonly events: ChannelEvents,
  ) {}

  async reencryptAll(): Promise<{ total: number; reencrypted: number; kid: string }> {
    const current = this.secrets.box.currentKid;
    const result = await this.systemDb.run(async (m) => {
      const keys = await this.repository.allKeys(m);
      const channels = new Set<string>();
      let reencrypted = 0;
      for (const key of keys) {
        if (SecretBox.kidOf(key.ciphertext) === current) continue;
        const plain = this.secrets.open(key.channelId, key.ciphertext);
        await this.repository.setCiphertext(m, key.id, this.secrets.seal(key.channelId, plain));
        channels.add(key.channelId);
        reencrypted += 1;
      }
      return { total: keys.length, reencrypted, channels };
    });
    for (const channelId of result.channels) await this.events.changed(channelId);
    return { total: result.total, reencrypted: result.reencrypted, kid: current };
  }
}
