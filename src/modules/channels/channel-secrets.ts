import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { SecretBox } from '@app/providers';

/** Additional data of a key's ciphertext: it decrypts only as a key of that channel. */
export function keyContext(channelId: string): string {
  return `aigateway:channel-key:${channelId}`;
}

/** The upstream keys' encryption, from CHANNEL_ENCRYPTION_KEYS (first encrypts, all decrypt). */
@Injectable()
export class ChannelSecrets {
  readonly box: SecretBox;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.box = new SecretBox(config.CHANNEL_ENCRYPTION_KEYS);
  }

  seal(channelId: string, apiKey: string): string {
    return this.box.encrypt(apiKey, keyContext(channelId));
  }

  open(channelId: string, sealed: string): string {
    return this.box.decrypt(sealed, keyContext(channelId));
  }
}
