import { Injectable } from '@nestjs/common';
import { SecretBox } from '@app/providers';
import { SystemDb } from '@app/tenancy';
import { paymentSecretContext, PaymentSecretField } from '../topups/payment-secrets';
import { webhookSecretContext } from '../webhooks/webhook-secrets';
import { ChannelEvents } from './channel-events';
import { ChannelSecrets, keyContext } from './channel-secrets';
import { ChannelsRepository } from './channels.repository';

/** The sealed columns of payment_settings and the field each is bound to. */
const PAYMENT_SECRET_COLUMNS: Array<[string, PaymentSecretField]> = [
  ['stripe_secret_key_ciphertext', 'stripe_secret_key'],
  ['stripe_webhook_secret_ciphertext', 'stripe_webhook_secret'],
  ['epay_key_ciphertext', 'epay_key'],
];

/**
 * `cli reencrypt-channel-keys`: moves every secret sealed under CHANNEL_ENCRYPTION_KEYS (upstream
 * keys, webhook endpoints' signing secrets, tenants' payment credentials) to the first key, so an old encryption key can then
 * be removed. Idempotent; runs in one transaction on the system role, so a secret that cannot be
 * decrypted stops it with nothing changed.
 */
@Injectable()
export class ChannelKeyRotation {
  constructor(
    private readonly systemDb: SystemDb,
    private readonly repository: ChannelsRepository,
    private readonly secrets: ChannelSecrets,
    private readonly events: ChannelEvents,
  ) {}

  /**
   * `cli check-channel-keys`: how many stored secrets (upstream keys, webhook signing secrets and
   * their rotation's previous ones, tenants' payment credentials) the configured keys cannot open. A key generated over data
   * sealed with another one would make every upstream call fail; this is how to notice first.
   */
  async unreadable(): Promise<{ total: number; unreadable: number }> {
    return this.systemDb.run(async (m) => {
      const sealed: Array<{ ciphertext: string; context: string }> = [];
      for (const key of await this.repository.allKeys(m)) sealed.push({ ciphertext: key.ciphertext, context: keyContext(key.channelId) });
      const endpoints: Array<{ id: string; secret_ciphertext: string; previous_secret_ciphertext: string | null }> = await m.query(
        `SELECT id, secret_ciphertext, previous_secret_ciphertext FROM webhook_endpoints`,
      );
      for (const endpoint of endpoints) {
        sealed.push({ ciphertext: endpoint.secret_ciphertext, context: webhookSecretContext(endpoint.id) });
        if (endpoint.previous_secret_ciphertext) sealed.push({ ciphertext: endpoint.previous_secret_ciphertext, context: webhookSecretContext(endpoint.id) });
      }
      const settings: Array<Record<string, string | null>> = await m.query(
        `SELECT tenant_id, stripe_secret_key_ciphertext, stripe_webhook_secret_ciphertext, epay_key_ciphertext FROM payment_settings`,
      );
      for (const row of settings) {
        for (const [column, field] of PAYMENT_SECRET_COLUMNS) {
          const ciphertext = row[column];
          if (ciphertext !== null) sealed.push({ ciphertext, context: paymentSecretContext(row.tenant_id!, field) });
        }
      }
      const opens = ({ ciphertext, context }: { ciphertext: string; context: string }) => {
        try {
          this.secrets.box.decrypt(ciphertext, context);
          return true;
        } catch {
          return false;
        }
      };
      return { total: sealed.length, unreadable: sealed.filter((s) => !opens(s)).length };
    });
  }

  async reencryptAll(): Promise<{
    total: number;
    reencrypted: number;
    webhookSecrets: { total: number; reencrypted: number };
    paymentSecrets: { total: number; reencrypted: number };
    kid: string;
  }> {
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
      // Webhook signing secrets share the box (WebhookSecrets), each bound to its endpoint.
      // A rotation's previous secret (still signing during its grace period) moves as well.
      const endpoints: Array<{ id: string; secret_ciphertext: string; previous_secret_ciphertext: string | null }> = await m.query(
        `SELECT id, secret_ciphertext, previous_secret_ciphertext FROM webhook_endpoints ORDER BY id FOR UPDATE`,
      );
      let webhookReencrypted = 0;
      for (const endpoint of endpoints) {
        const context = webhookSecretContext(endpoint.id);
        const moved = (ciphertext: string | null) =>
          ciphertext === null || SecretBox.kidOf(ciphertext) === current ? ciphertext : this.secrets.box.encrypt(this.secrets.box.decrypt(ciphertext, context), context);
        const secret = moved(endpoint.secret_ciphertext)!;
        const previous = moved(endpoint.previous_secret_ciphertext);
        if (secret === endpoint.secret_ciphertext && previous === endpoint.previous_secret_ciphertext) continue;
        await m.query(`UPDATE webhook_endpoints SET secret_ciphertext = $2, previous_secret_ciphertext = $3 WHERE id = $1`, [endpoint.id, secret, previous]);
        webhookReencrypted += 1;
      }
      // Tenants' payment credentials (PaymentSecrets), each bound to its tenant and field.
      const settings: Array<Record<string, string | null>> = await m.query(
        `SELECT tenant_id, stripe_secret_key_ciphertext, stripe_webhook_secret_ciphertext, epay_key_ciphertext FROM payment_settings ORDER BY tenant_id FOR UPDATE`,
      );
      let paymentTotal = 0;
      let paymentReencrypted = 0;
      for (const row of settings) {
        const tenantId = row.tenant_id!;
        for (const [column, field] of PAYMENT_SECRET_COLUMNS) {
          const sealed = row[column];
          if (sealed === null) continue;
          paymentTotal += 1;
          if (SecretBox.kidOf(sealed) === current) continue;
          const context = paymentSecretContext(tenantId, field);
          await m.query(`UPDATE payment_settings SET ${column} = $2 WHERE tenant_id = $1`, [tenantId, this.secrets.box.encrypt(this.secrets.box.decrypt(sealed, context), context)]);
          paymentReencrypted += 1;
        }
      }
      return {
        total: keys.length,
        reencrypted,
        channels,
        webhookSecrets: { total: endpoints.length, reencrypted: webhookReencrypted },
        paymentSecrets: { total: paymentTotal, reencrypted: paymentReencrypted },
      };
    });
    for (const channelId of result.channels) await this.events.changed(channelId);
    return { total: result.total, reencrypted: result.reencrypted, webhookSecrets: result.webhookSecrets, paymentSecrets: result.paymentSecrets, kid: current };
  }
}
