import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { SecretBox } from '@app/providers';

/** Additional data of a secret's ciphertext: it decrypts only as the secret of that endpoint. */
export function webhookSecretContext(endpointId: string): string {
  return `aigateway:webhook-secret:${endpointId}`;
}

/**
 * Signing secrets at rest: the channel keys' AES-256-GCM box under CHANNEL_ENCRYPTION_KEYS (the
 * platform's one set of data-encryption keys; first encrypts, all decrypt), bound to the endpoint.
 */
@Injectable()
export class WebhookSecrets {
  private readonly box: SecretBox;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.box = new SecretBox(config.CHANNEL_ENCRYPTION_KEYS);
  }

  seal(endpointId: string, secret: string): string {
    return this.box.encrypt(secret, webhookSecretContext(endpointId));
  }

  open(endpointId: string, sealed: string): string {
    return this.box.decrypt(sealed, webhookSecretContext(endpointId));
  }
}
