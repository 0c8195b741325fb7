import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { SecretBox } from '@app/providers';

export type PaymentSecretField = 'stripe_secret_key' | 'stripe_webhook_secret' | 'epay_key';

/** Additional data of a sealed payment secret: it opens only as that field of that tenant. */
export function paymentSecretContext(tenantId: string, field: PaymentSecretField): string {
  return `aigateway:payment-secret:${tenantId}:${field}`;
}

/** Merchant credentials at rest, sealed like channel keys (CHANNEL_ENCRYPTION_KEYS: first encrypts, all decrypt). */
@Injectable()
export class PaymentSecrets {
  private readonly box: SecretBox;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.box = new SecretBox(config.CHANNEL_ENCRYPTION_KEYS);
  }

  seal(tenantId: string, field: PaymentSecretField, secret: string): string {
    return this.box.encrypt(secret, paymentSecretContext(tenantId, field));
  }

  open(tenantId: string, field: PaymentSecretField, sealed: string): string {
    return this.box.decrypt(sealed, paymentSecretContext(tenantId, field));
  }
}
