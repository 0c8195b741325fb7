import { Injectable, Logger } from '@nestjs/common';
import { AppException, CommonErrorCode } from '@app/errors';
import { fromUnits, toUnits } from '@app/money';
import { ResolvedTenant, TenantDb } from '@app/tenancy';
import Decimal from 'decimal.js';
import { ClsService } from 'nestjs-cls';
import Stripe from 'stripe';
import { AuditService } from '../audit/audit.service';
import { LedgerService } from '../ledger/ledger.service';
import { PaymentAck } from './dto/topup.dto';
import { epayVerify } from './epay';
import { PaymentSettingsService } from './payment-settings.service';
import { Receipts } from './receipts';
import { currencyDecimals, toMinorUnits } from './stripe-gateway';
import { TopupErrorCode, topupError } from './topups.exceptions';
import { TOPUP } from './topups.permissions';
import { TopupProvider, TopupRow, TopupsRepository } from './topups.repository';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Why an authentic-looking notification credits nothing. */
type RejectReason =
  | 'unknown_order'
  | 'provider_mismatch'
  | 'reference_mismatch'
  | 'amount_mismatch'
  | 'expired'
  | 'replay'
  | 'already_paid'
  | 'not_paid'
  | 'refund_exceeds_payment';

class PaymentRejected extends Error {
  constructor(
    readonly reason: RejectReason,
    readonly order: TopupRow | null,
  ) {
    super(reason);
  }
}

/** A paid notification, whatever the provider, once its signature is verified. */
interface PaidNotice {
  provider: TopupProvider;
  orderId: string | null | undefined;
  /** The provider's id of the payment: the ledger's idempotency key. */
  reference: string;
  paymentId: string | null;
  /** Whether the paid amount and currency are exactly the order's. */
  matches: (order: TopupRow) => boolean;
  /**
   * When the provider says it was paid (an order paid before it expired is still credited); null
   * when the provider cannot be told about the expiry at all (Epay: the gateway's page takes the
   * payment whenever the customer gets to it, so a late payment is real money and is credited).
   */
  paidAt: Date | null;
  /** The notification itself, for logs and the audit (event id). */
  source: string;
}

/**
 * Payment notifications. The tenant is the Host's (each tenant registers its own domain's URL with
 * its provider) and the notification is verified with that tenant's secret only, so one signed
 * with another tenant's secret fails. A paid notification credits the order's customer with the
 * order's amount, once:
 * - the ledger transaction's key is the provider's payment reference (`stripe:<session>`,
 *   `epay:<trade no>`), and
 * - the order is locked and moved pending -> paid in the same transaction as the credit.
 * A mismatching amount or currency, an unknown order, a replay or a Stripe order that expired
 * before it was paid credits nothing (an Epay order paid late is credited: see PaidNotice.paidAt);
 * it is logged and audited (`topup.notification_rejected`), and acknowledged so the provider stops
 * retrying. A bad signature is 400 and audited too.
 */
@Injectable()
export class PaymentNotificationsService {
  private readonly logger = new Logger(PaymentNotificationsService.name);

  constructor(
    private readonly tenantDb: TenantDb,
    private readonly cls: ClsService,
    private readonly repository: TopupsRepository,
    private readonly settings: PaymentSettingsService,
    private readonly ledger: LedgerService,
    private readonly audit: AuditService,
    private readonly receipts: Receipts,
  ) {}

  async stripe(rawBody: Buffer | undefined, signature: string | undefined): Promise<PaymentAck> {
    const tenant = this.hostTenant();
    const row = await this.tenantDb.run({ tenantId: tenant.id }, (m) => this.repository.settings(m, tenant.id));
    const secret = this.settings.stripeWebhookSecret(row);
    if (!secret) throw topupError(TopupErrorCode.NotConfigured, 'This tenant has no Stripe webhook secret.');
    let event: Stripe.Event;
    try {
      if (!rawBody || !signature) throw new Error('missing body or signature');
      event = Stripe.webhooks.constructEvent(rawBody, signature, secret);
    } catch (error) {
      await this.signatureFailure(tenant.id, 'stripe', (error as Error).message);
      throw topupError(TopupErrorCode.SignatureInvalid);
    }
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded': {
        const session = event.data.object;
        if (session.payment_status !== 'paid') return { received: true, outcome: 'ignored' };
        const outcome = await this.paid(tenant.id, {
          provider: 'stripe',
          orderId: session.client_reference_id ?? session.metadata?.orderId,
          reference: session.id,
          paymentId: typeof session.payment_intent === 'string' ? session.payment_intent : (session.payment_intent?.id ?? null),
          matches: (order) => (session.currency ?? '').toLowerCase() === order.currency && session.amount_total === toMinorUnits(order.amount, order.currency),
          paidAt: new Date(event.created * 1000),
          source: event.id,
        });
        return { received: true, outcome };
      }
      case 'charge.refunded':
        return { received: true, outcome: await this.stripeRefund(tenant.id, event.data.object, event.id) };
      default:
        this.logger.log({ tenantId: tenant.id, eventId: event.id, type: event.type }, 'stripe event ignored');
        return { received: true, outcome: 'ignored' };
    }
  }

  /** Epay's notification (query string of a GET, or a form POST). The answer is the protocol's plain `success`. */
  async epay(params: Record<string, unknown>): Promise<PaymentAck> {
    const tenant = this.hostTenant();
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(params ?? {})) if (typeof v === 'string') flat[k] = v;
    const row = await this.tenantDb.run({ tenantId: tenant.id }, (m) => this.repository.settings(m, tenant.id));
    const key = this.settings.epayKey(row);
    if (!key || !row.epayMerchantId) throw topupError(TopupErrorCode.NotConfigured, 'This tenant has no Epay merchant key.');
    if (flat.pid !== row.epayMerchantId || !epayVerify(flat, key)) {
      await this.signatureFailure(tenant.id, 'epay', flat.pid !== row.epayMerchantId ? 'merchant id mismatch' : 'signature mismatch');
      throw topupError(TopupErrorCode.SignatureInvalid);
    }
    if (flat.trade_status !== 'TRADE_SUCCESS' || !flat.trade_no) return { received: true, outcome: 'ignored' };
    const money = flat.money ?? '';
    const outcome = await this.paid(tenant.id, {
      provider: 'epay',
      orderId: flat.out_trade_no,
      reference: flat.trade_no.slice(0, 255),
      paymentId: null,
      matches: (order) => order.currency === 'cny' && /^\d{1,18}(\.\d{1,9})?$/.test(money) && new Decimal(money).eq(order.amount),
      paidAt: null,
      source: `epay trade ${flat.trade_no.slice(0, 100)}`,
    });
    return { received: true, outcome };
  }

  private async paid(tenantId: string, notice: PaidNotice): Promise<PaymentAck['outcome']> {
    const orderId = notice.orderId && UUID.test(notice.orderId) ? notice.orderId : null;
    const order = orderId ? await this.tenantDb.run({ tenantId }, (m) => this.repository.find(m, orderId)) : null;
    if (!order) return this.rejected(tenantId, new PaymentRejected('unknown_order', null), notice);
    try {
      const result = await this.ledger.postPayment({
        tenantId,
        customerId: order.customerId,
        units: toUnits(order.amount),
        idempotencyKey: `${notice.provider}:${notice.reference}`,
        note: `Top-up ${order.id} (${notice.provider} ${notice.reference})`,
        kind: 'payment',
        action: 'wallet.paid',
        claim: async (m) => {
          const locked = await this.repository.lock(m, order.id);
          this.assertPayable(locked!, notice);
        },
        afterPost: async (m) => {
          const locked = (await this.repository.find(m, order.id))!;
          const moved = await this.repository.transition(m, locked, locked.status, 'paid', `${notice.provider}: ${notice.source}`, {
            providerReference: notice.reference,
            providerPaymentId: notice.paymentId,
          });
          if (!moved) throw new Error(`order ${order.id} changed under its lock`);
        },
      });
      if (!result.created) return this.rejected(tenantId, new PaymentRejected('replay', order), notice);
      this.logger.log({ tenantId, orderId: order.id, provider: notice.provider, reference: notice.reference, amount: order.amount }, 'top-up credited');
      await this.receipts.send(tenantId, order.customerId, { amount: order.amount, currency: order.currency, what: `top-up ${order.id}`, balance: result.balance });
      return 'credited';
    } catch (error) {
      if (error instanceof PaymentRejected) return this.rejected(tenantId, error, notice);
      throw error;
    }
  }

  private assertPayable(order: TopupRow, notice: PaidNotice): void {
    if (order.provider !== notice.provider) throw new PaymentRejected('provider_mismatch', order);
    if (order.status === 'paid' || order.status === 'refunded') {
      throw new PaymentRejected(order.providerReference === notice.reference ? 'replay' : 'already_paid', order);
    }
    if (order.providerReference && order.providerReference !== notice.reference) throw new PaymentRejected('reference_mismatch', order);
    if (!notice.matches(order)) throw new PaymentRejected('amount_mismatch', order);
    if (notice.paidAt && notice.paidAt.getTime() > Date.parse(order.expiresAt)) throw new PaymentRejected('expired', order);
  }

  /**
   * `charge.refunded`: the charge's cumulative `amount_refunded` against what was already debited
   * for the order; the difference is debited (whatever the balance), once per cumulative amount.
   */
  private async stripeRefund(tenantId: string, charge: Stripe.Charge, eventId: string): Promise<PaymentAck['outcome']> {
    const paymentId = typeof charge.payment_intent === 'string' ? charge.payment_intent : charge.payment_intent?.id;
    const notice: PaidNotice = { provider: 'stripe', orderId: null, reference: charge.id, paymentId: paymentId ?? null, matches: () => true, paidAt: new Date(), source: eventId };
    const order = paymentId ? await this.tenantDb.run({ tenantId }, (m) => this.repository.findByPaymentId(m, tenantId, 'stripe', paymentId)) : null;
    if (!order) return this.rejected(tenantId, new PaymentRejected('unknown_order', null), notice);
    const scale = new Decimal(10).pow(currencyDecimals(order.currency));
    const refunded = new Decimal(charge.amount_refunded ?? 0).dividedBy(scale);
    if ((charge.currency ?? '').toLowerCase() !== order.currency) return this.rejected(tenantId, new PaymentRejected('amount_mismatch', order), notice);
    if (refunded.gt(order.amount)) return this.rejected(tenantId, new PaymentRejected('refund_exceeds_payment', order), notice);
    const delta = refunded.minus(order.refundedAmount);
    if (delta.lte(0)) return this.rejected(tenantId, new PaymentRejected('replay', order), notice);
    try {
      await this.ledger.postPayment({
        tenantId,
        customerId: order.customerId,
        units: -toUnits(delta),
        idempotencyKey: `stripe-refund:${charge.id}:${charge.amount_refunded}`,
        note: `Refund of top-up ${order.id} (stripe ${charge.id})`,
        kind: 'payment',
        action: 'wallet.refunded',
        claim: async (m) => {
          const locked = (await this.repository.lock(m, order.id))!;
          if (locked.status !== 'paid') throw new PaymentRejected(locked.status === 'refunded' ? 'replay' : 'not_paid', locked);
          // A concurrent refund event moved it first: Stripe retries this one and it is recomputed.
          if (!new Decimal(locked.refundedAmount).eq(order.refundedAmount)) {
            throw AppException.common(CommonErrorCode.ServiceUnavailable, 503, 'A concurrent refund of this order was just recorded; retry.');
          }
        },
        afterPost: async (m) => {
          const full = refunded.eq(order.amount);
          await this.repository.transition(m, order, 'paid', full ? 'refunded' : 'paid', `stripe refund ${charge.id}: ${fromUnits(toUnits(delta))}`, {
            refundedAmount: refunded.toFixed(9),
          });
        },
      });
      this.logger.log({ tenantId, orderId: order.id, charge: charge.id, debited: delta.toFixed() }, 'top-up refunded');
      return 'refunded';
    } catch (error) {
      if (error instanceof PaymentRejected) return this.rejected(tenantId, error, notice);
      throw error;
    }
  }

  private async rejected(tenantId: string, rejection: PaymentRejected, notice: PaidNotice): Promise<PaymentAck['outcome']> {
    const order = rejection.order;
    this.logger.warn(
      { tenantId, orderId: order?.id ?? notice.orderId ?? null, provider: notice.provider, reference: notice.reference, source: notice.source, reason: rejection.reason },
      'payment notification credited nothing',
    );
    await this.tenantDb.run({ tenantId }, (m) =>
      this.audit.record(m, {
        tenantId,
        action: 'topup.notification_rejected',
        subjectType: TOPUP,
        subjectId: order?.id ?? null,
        after: { reason: rejection.reason, provider: notice.provider, reference: notice.reference, source: notice.source, claimedOrderId: notice.orderId ?? null },
        actor: { userId: null, tenantId: null },
      }),
    );
    return rejection.reason === 'replay' ? 'duplicate' : 'rejected';
  }

  private async signatureFailure(tenantId: string, provider: TopupProvider, detail: string): Promise<void> {
    this.logger.warn({ tenantId, provider, detail }, 'payment notification with an invalid signature');
    await this.tenantDb.run({ tenantId }, (m) =>
      this.audit.record(m, {
        tenantId,
        action: 'topup.notification_signature_invalid',
        subjectType: TOPUP,
        after: { provider, detail: detail.slice(0, 200) },
        actor: { userId: null, tenantId: null },
      }),
    );
  }

  private hostTenant(): ResolvedTenant {
    const tenant = this.cls.isActive() ? this.cls.get<ResolvedTenant | null>('hostTenant') : null;
    if (!tenant) throw AppException.notFound('tenant');
    return tenant;
  }
}
