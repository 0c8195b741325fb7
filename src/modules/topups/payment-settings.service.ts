import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppConfig, APP_CONFIG } from '@app/config';
import { AppException } from '@app/errors';
import { guardedLookup, last4 } from '@app/providers';
import { TenantDb } from '@app/tenancy';
import Decimal from 'decimal.js';
import { Agent, request } from 'undici';
import { AuditService } from '../audit/audit.service';
import { MailQueue } from '../mail/mail.queue';
import { webhookUrlProblem } from '../webhooks/webhook-url';
import { PaymentSettingsTestResult, PaymentSettingsView, UpdatePaymentSettingsRequest } from './dto/topup.dto';
import { epayEndpoint } from './epay';
import { EPAY_NOTIFY_PATH, STRIPE_WEBHOOK_PATH } from './payment-raw-body';
import { PaymentSecrets } from './payment-secrets';
import { StripeGateway, UNSUPPORTED_CURRENCIES } from './stripe-gateway';
import { TopupErrorCode, topupError } from './topups.exceptions';
import { PAYMENT_SETTINGS } from './topups.permissions';
import { PaymentSettingsRow, TopupsRepository } from './topups.repository';

/** Stripe and Epay credentials as the services use them, opened. */
export interface OpenedSettings {
  row: PaymentSettingsRow;
  stripe: { secretKey: string; webhookSecret: string } | null;
  epay: { merchantId: string; key: string; gatewayUrl: string } | null;
}

/**
 * A tenant's payment settings (owner only). Secrets are sealed on the way in (bound to the tenant
 * and the field) and never returned: the view says only whether one is saved (and a key's last four
 * characters). A provider can be enabled only with all its credentials; "test" calls the provider
 * with the saved ones (Stripe: retrieve the balance; Epay: the merchant query).
 */
@Injectable()
export class PaymentSettingsService implements OnModuleDestroy {
  private readonly gatewayAgent: Agent;

  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: TopupsRepository,
    private readonly secrets: PaymentSecrets,
    private readonly stripe: StripeGateway,
    private readonly audit: AuditService,
    private readonly mail: MailQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.gatewayAgent = new Agent({
      connect: { timeout: config.PAYMENT_GATEWAY_TIMEOUT_MS, lookup: guardedLookup(config.PAYMENT_GATEWAY_ALLOW_PRIVATE_NETWORKS) as never },
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.gatewayAgent.close();
  }

  get(): Promise<PaymentSettingsView> {
    return this.tenantDb.forRequest(async (m) => {
      const tenantId = this.auth.principal.tenantId;
      this.auth.assertCan('read', PAYMENT_SETTINGS, { tenantId });
      return this.view(await this.repository.settings(m, tenantId), await this.repository.primaryDomain(m, tenantId));
    });
  }

  update(input: UpdatePaymentSettingsRequest): Promise<PaymentSettingsView> {
    return this.tenantDb.forRequest(async (m) => {
      const principal = this.auth.principal;
      const tenantId = principal.tenantId;
      this.auth.assertCan('update', PAYMENT_SETTINGS, { tenantId });
      const before = await this.repository.settings(m, tenantId);
      const next: PaymentSettingsRow = { ...before };
      const errors: Array<{ field: string; messages: string[] }> = [];
      if (input.stripe) {
        const s = input.stripe;
        if (s.secretKey !== undefined) {
          next.stripeSecretKeyCiphertext = this.secrets.seal(tenantId, 'stripe_secret_key', s.secretKey);
          next.stripeSecretKeyLast4 = last4(s.secretKey);
        }
        if (s.webhookSecret !== undefined) next.stripeWebhookSecretCiphertext = this.secrets.seal(tenantId, 'stripe_webhook_secret', s.webhookSecret);
        if (s.currency !== undefined) {
          if (UNSUPPORTED_CURRENCIES.has(s.currency)) errors.push({ field: 'stripe.currency', messages: ['three-decimal currencies are not supported'] });
          next.stripeCurrency = s.currency;
        }
        if (s.enabled !== undefined) next.stripeEnabled = s.enabled;
      }
      if (input.epay) {
        const e = input.epay;
        if (e.gatewayUrl !== undefined) {
          const problem = webhookUrlProblem(e.gatewayUrl, this.config.PAYMENT_GATEWAY_ALLOW_PRIVATE_NETWORKS);
          if (problem) errors.push({ field: 'epay.gatewayUrl', messages: [problem.replace(/^url/, 'gatewayUrl')] });
          next.epayGatewayUrl = e.gatewayUrl;
        }
        if (e.merchantId !== undefined) next.epayMerchantId = e.merchantId;
        if (e.key !== undefined) next.epayKeyCiphertext = this.secrets.seal(tenantId, 'epay_key', e.key);
        if (e.enabled !== undefined) next.epayEnabled = e.enabled;
      }
      if (input.minAmount !== undefined) next.minAmount = input.minAmount;
      if (input.maxAmount !== undefined) next.maxAmount = input.maxAmount;
      if (new Decimal(next.minAmount).gt(next.maxAmount)) errors.push({ field: 'maxAmount', messages: ['maxAmount must be at least minAmount'] });
      if (errors.length) throw AppException.validation(errors);
      if (next.stripeEnabled && (!next.stripeSecretKeyCiphertext || !next.stripeWebhookSecretCiphertext)) {
        throw topupError(TopupErrorCode.SettingsIncomplete, 'Stripe needs secretKey and webhookSecret.');
      }
      if (next.epayEnabled && (!next.epayKeyCiphertext || !next.epayMerchantId || !next.epayGatewayUrl)) {
        throw topupError(TopupErrorCode.SettingsIncomplete, 'Epay needs merchantId, key and gatewayUrl.');
      }
      await this.repository.saveSettings(m, next, principal.userId);
      await this.audit.record(m, {
        tenantId,
        action: 'payment_settings.updated',
        subjectType: PAYMENT_SETTINGS,
        subjectId: tenantId,
        before: redacted(before),
        after: redacted(next),
      });
      return this.view(await this.repository.settings(m, tenantId), await this.repository.primaryDomain(m, tenantId));
    });
  }

  async test(provider: 'stripe' | 'epay'): Promise<PaymentSettingsTestResult> {
    const opened = await this.tenantDb.forRequest(async (m) => {
      const tenantId = this.auth.principal.tenantId;
      this.auth.assertCan('update', PAYMENT_SETTINGS, { tenantId });
      return this.open(await this.repository.settings(m, tenantId), { includeDisabled: true });
    });
    if (provider === 'stripe') {
      if (!opened.stripe) return { provider, ok: false, detail: 'No Stripe secret key and webhook secret saved.' };
      try {
        await this.stripe.client(opened.stripe.secretKey).balance.retrieve();
        return { provider, ok: true, detail: null };
      } catch (error) {
        return { provider, ok: false, detail: `Stripe refused: ${(error as Error).message}`.slice(0, 300) };
      }
    }
    if (!opened.epay) return { provider, ok: false, detail: 'No Epay merchant id, key and gateway URL saved.' };
    try {
      const query = await this.epayQuery(opened.epay, { act: 'query' });
      return Number(query.code) === 1
        ? { provider, ok: true, detail: null }
        : { provider, ok: false, detail: `The gateway answered: ${String(query.msg ?? 'code ' + query.code)}`.slice(0, 300) };
    } catch (error) {
      return { provider, ok: false, detail: `The gateway could not be reached: ${(error as Error).message}`.slice(0, 300) };
    }
  }

  /** Calls the gateway's api.php (JSON answer), with the key as the protocol asks for merchant queries. */
  /**
   * Calls the gateway's api.php (JSON answer), with the key as the protocol asks for merchant
   * queries. The gateway URL is the tenant's: like a webhook URL, it may not reach private
   * addresses (checked on the literal and, by the socket's own lookup, on the resolved address),
   * redirects are not followed and the answer is read up to 64 KiB.
   */
  async epayQuery(epay: { merchantId: string; key: string; gatewayUrl: string }, params: Record<string, string>): Promise<Record<string, unknown>> {
    const url = epayEndpoint(epay.gatewayUrl, 'api.php');
    for (const [k, v] of Object.entries({ ...params, pid: epay.merchantId, key: epay.key })) url.searchParams.set(k, v);
    const problem = webhookUrlProblem(url.toString(), this.config.PAYMENT_GATEWAY_ALLOW_PRIVATE_NETWORKS);
    if (problem) throw new Error(problem.replace(/^url/, 'the gateway URL'));
    const timeout = this.config.PAYMENT_GATEWAY_TIMEOUT_MS;
    const response = await request(url, { dispatcher: this.gatewayAgent, signal: AbortSignal.timeout(timeout), headersTimeout: timeout, bodyTimeout: timeout });
    let text = '';
    for await (const chunk of response.body) {
      text += (chunk as Buffer).toString('utf8');
      if (text.length > 64 * 1024) break;
    }
    response.body.destroy();
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Error(`HTTP ${response.statusCode}, not JSON`);
    }
  }

  /** The settings with their secrets opened; a provider that is off (or incomplete) is null. */
  open(row: PaymentSettingsRow, options: { includeDisabled?: boolean } = {}): OpenedSettings {
    const t = row.tenantId;
    const stripeOn = (row.stripeEnabled || options.includeDisabled) && row.stripeSecretKeyCiphertext && row.stripeWebhookSecretCiphertext;
    const epayOn = (row.epayEnabled || options.includeDisabled) && row.epayMerchantId && row.epayKeyCiphertext && row.epayGatewayUrl;
    return {
      row,
      stripe: stripeOn
        ? {
            secretKey: this.secrets.open(t, 'stripe_secret_key', row.stripeSecretKeyCiphertext!),
            webhookSecret: this.secrets.open(t, 'stripe_webhook_secret', row.stripeWebhookSecretCiphertext!),
          }
        : null,
      epay: epayOn ? { merchantId: row.epayMerchantId!, key: this.secrets.open(t, 'epay_key', row.epayKeyCiphertext!), gatewayUrl: row.epayGatewayUrl! } : null,
    };
  }

  /** The webhook secret alone (the Stripe webhook needs nothing else to verify). */
  stripeWebhookSecret(row: PaymentSettingsRow): string | null {
    return row.stripeWebhookSecretCiphertext ? this.secrets.open(row.tenantId, 'stripe_webhook_secret', row.stripeWebhookSecretCiphertext) : null;
  }

  epayKey(row: PaymentSettingsRow): string | null {
    return row.epayKeyCiphertext ? this.secrets.open(row.tenantId, 'epay_key', row.epayKeyCiphertext) : null;
  }

  /** A link on the tenant's domain (the providers call back there; the Host names the tenant). */
  linkOn(domain: string | null, path: string): string {
    return this.mail.linkOn(domain, path);
  }

  private view(row: PaymentSettingsRow, domain: string | null): PaymentSettingsView {
    return {
      stripe: {
        enabled: row.stripeEnabled,
        secretKeyLast4: row.stripeSecretKeyLast4,
        webhookSecretSet: row.stripeWebhookSecretCiphertext !== null,
        currency: row.stripeCurrency,
        webhookUrl: this.linkOn(domain, STRIPE_WEBHOOK_PATH),
      },
      epay: {
        enabled: row.epayEnabled,
        merchantId: row.epayMerchantId,
        gatewayUrl: row.epayGatewayUrl,
        keySet: row.epayKeyCiphertext !== null,
        notifyUrl: this.linkOn(domain, EPAY_NOTIFY_PATH),
      },
      minAmount: row.minAmount,
      maxAmount: row.maxAmount,
      updatedAt: row.updatedAt,
    };
  }
}

/** What the audit log may keep of the settings: no secret, only whether it changed. */
function redacted(row: PaymentSettingsRow): Record<string, unknown> {
  return {
    stripeEnabled: row.stripeEnabled,
    stripeSecretKey: row.stripeSecretKeyCiphertext ? `…${row.stripeSecretKeyLast4}` : null,
    stripeWebhookSecret: row.stripeWebhookSecretCiphertext ? `sealed:${row.stripeWebhookSecretCiphertext.slice(-6)}` : null,
    stripeCurrency: row.stripeCurrency,
    epayEnabled: row.epayEnabled,
    epayMerchantId: row.epayMerchantId,
    epayKey: row.epayKeyCiphertext ? `sealed:${row.epayKeyCiphertext.slice(-6)}` : null,
    epayGatewayUrl: row.epayGatewayUrl,
    minAmount: row.minAmount,
    maxAmount: row.maxAmount,
  };
}
