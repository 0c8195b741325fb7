import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { toUnits } from '@app/money';
import Decimal from 'decimal.js';
import Stripe from 'stripe';
import { WebhookAck } from './dto/ledger.dto';
import { LedgerErrorCode, ledgerError } from './ledger.exceptions';
import { LedgerService } from './ledger.service';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Stripe amounts are in the currency's smallest unit; these currencies have none below the unit. */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);

/**
 * Stripe top-ups. The event is authenticated by its signature (`stripe` package's constructEvent
 * over the raw body, STRIPE_WEBHOOK_SECRET) and credited once: the ledger transaction's key is
 * `stripe:<event id>`, so Stripe's retries and replays change nothing. A completed, paid Checkout
 * Session whose metadata names `tenantId` and `customerId` credits that wallet with `amount_total`;
 * every other event type is acknowledged and ignored (Stripe stops retrying on a 2xx).
 */
@Injectable()
export class StripeWebhookService {
  private readonly logger = new Logger(StripeWebhookService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ledger: LedgerService,
  ) {}

  async handle(rawBody: Buffer | undefined, signature: string | undefined): Promise<WebhookAck> {
    const secret = this.config.STRIPE_WEBHOOK_SECRET;
    if (!secret) throw ledgerError(LedgerErrorCode.WebhookNotConfigured);
    if (!rawBody || !signature) throw ledgerError(LedgerErrorCode.WebhookSignature);
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(rawBody, signature, secret);
    } catch {
      throw ledgerError(LedgerErrorCode.WebhookSignature);
    }
    if (event.type !== 'checkout.session.completed') {
      this.logger.log({ eventId: event.id, type: event.type }, 'stripe event ignored');
      return { received: true, outcome: 'ignored' };
    }
    const session = event.data.object as Stripe.Checkout.Session;
    const tenantId = session.metadata?.tenantId;
    const customerId = session.metadata?.customerId;
    if (session.payment_status !== 'paid') return { received: true, outcome: 'ignored' };
    if (!tenantId || !customerId || !UUID.test(tenantId) || !UUID.test(customerId) || !Number.isSafeInteger(session.amount_total) || session.amount_total! <= 0) {
      throw ledgerError(LedgerErrorCode.WebhookPayload);
    }
    const currency = (session.currency ?? 'usd').toLowerCase();
    const amount = new Decimal(session.amount_total!).dividedBy(ZERO_DECIMAL.has(currency) ? 1 : 100);
    const result = await this.ledger.creditPayment({
      tenantId,
      customerId,
      units: toUnits(amount),
      eventId: event.id,
      note: `Stripe Checkout ${session.id}`,
    });
    return { received: true, outcome: result.created ? 'credited' : 'duplicate' };
  }
}
