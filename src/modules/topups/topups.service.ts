import { Inject, Injectable, Logger } from '@nestjs/common';
import { hasRole, RequestAuth } from '@app/authorization';
import { AppConfig, APP_CONFIG } from '@app/config';
import { AppException } from '@app/errors';
import { TenantDb } from '@app/tenancy';
import Decimal from 'decimal.js';
import { v7 as uuidv7 } from 'uuid';
import { pageOf } from '../../common/pagination';
import { CreatedTopup, CreateTopupRequest, TopupListQuery, TopupPage, TopupView } from './dto/topup.dto';
import { epayPayUrl } from './epay';
import { EPAY_NOTIFY_PATH } from './payment-raw-body';
import { PaymentSettingsService } from './payment-settings.service';
import { StripeGateway, toMinorUnits } from './stripe-gateway';
import { TopupErrorCode, topupError } from './topups.exceptions';
import { TOPUP } from './topups.permissions';
import { TopupRow, TopupsRepository } from './topups.repository';
import { CONSOLE_PREFIX } from '../console/console-static';

/**
 * Top-up orders: a customer asks to pay an amount through a provider; the order is written
 * (pending, expiring after TOPUP_ORDER_TTL_MINUTES) in its own transaction, then the provider is
 * asked for the page to pay on: a Stripe Checkout Session in the tenant's own Stripe account
 * (`client_reference_id` and metadata carry the order id; the session expires with the order), or a
 * signed Epay submit.php URL. No database transaction is held open across the provider call. If
 * the process dies in between, the order stays pending and expires; a session created just before
 * still names the order, so its payment is still credited.
 */
@Injectable()
export class TopupsService {
  private readonly logger = new Logger(TopupsService.name);

  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: TopupsRepository,
    private readonly settings: PaymentSettingsService,
    private readonly stripe: StripeGateway,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(input: CreateTopupRequest): Promise<CreatedTopup> {
    const principal = this.auth.principal;
    const tenantId = principal.tenantId;
    this.auth.assertCan('create', TOPUP, { tenantId, customerId: principal.userId, salesUserId: null });
    const id = uuidv7();
    const prepared = await this.tenantDb.forRequest(async (m) => {
      const customer = await this.repository.customer(m, tenantId, principal.userId);
      if (!customer) throw AppException.notFound('customer');
      const opened = this.settings.open(await this.repository.settings(m, tenantId));
      const provider = input.provider === 'stripe' ? opened.stripe : opened.epay;
      if (!provider) throw topupError(TopupErrorCode.ProviderNotEnabled, `${input.provider} is not enabled for this tenant.`);
      const { minAmount, maxAmount } = opened.row;
      if (new Decimal(input.amount).lt(minAmount) || new Decimal(input.amount).gt(maxAmount)) {
        throw topupError(TopupErrorCode.AmountOutOfRange, `The amount must be between ${new Decimal(minAmount).toFixed()} and ${new Decimal(maxAmount).toFixed()}.`);
      }
      const currency = input.provider === 'stripe' ? opened.row.stripeCurrency : 'cny';
      if (input.provider === 'stripe' && toMinorUnits(input.amount, currency) === null) {
        throw AppException.validation([{ field: 'amount', messages: [`${currency.toUpperCase()} has no minor unit: send a whole amount`] }]);
      }
      await this.repository.insertTopup(m, {
        id,
        tenantId,
        customerId: customer.id,
        amount: input.amount,
        currency,
        provider: input.provider,
        method: input.provider === 'epay' ? (input.method ?? null) : null,
        ttlMinutes: this.config.TOPUP_ORDER_TTL_MINUTES,
      });
      return { opened, customer, domain: await this.repository.primaryDomain(m, tenantId), order: (await this.repository.find(m, id))! };
    });
    const { opened, customer, domain, order } = prepared;
    const returnUrl = this.settings.linkOn(domain, `${CONSOLE_PREFIX}/topups/${id}`);
    let reference: string | null = null;
    let payUrl: string;
    if (input.provider === 'stripe') {
      try {
        const session = await this.stripe.client(opened.stripe!.secretKey).checkout.sessions.create(
          {
            mode: 'payment',
            client_reference_id: id,
            customer_email: customer.email,
            metadata: { orderId: id, tenantId },
            payment_intent_data: { metadata: { orderId: id, tenantId } },
            line_items: [
              {
                quantity: 1,
                price_data: { currency: order.currency, unit_amount: toMinorUnits(order.amount, order.currency)!, product_data: { name: 'Account top-up' } },
              },
            ],
            expires_at: Math.floor(Date.parse(order.expiresAt) / 1000),
            success_url: `${returnUrl}?result=success`,
            cancel_url: `${returnUrl}?result=cancelled`,
          },
          { idempotencyKey: `topup-${id}` },
        );
        if (!session.url) throw new Error('the Checkout Session has no URL');
        reference = session.id;
        payUrl = session.url;
      } catch (error) {
        this.logger.warn({ orderId: id, tenantId, error: (error as Error).message }, 'Stripe Checkout Session could not be created');
        await this.tenantDb.run({ tenantId }, (m) => this.repository.transition(m, order, 'pending', 'failed', `stripe: ${(error as Error).message}`.slice(0, 500)));
        throw topupError(TopupErrorCode.ProviderUnavailable, 'Stripe did not create the payment page; nothing was charged. Retry shortly.');
      }
    } else {
      const epay = opened.epay!;
      payUrl = epayPayUrl(epay.gatewayUrl, epay.merchantId, epay.key, {
        outTradeNo: id,
        money: new Decimal(order.amount).toFixed(2),
        name: 'Account top-up',
        notifyUrl: this.settings.linkOn(domain, EPAY_NOTIFY_PATH),
        returnUrl,
        type: order.method ?? undefined,
      });
    }
    await this.tenantDb.run({ tenantId }, (m) => this.repository.setCheckout(m, id, reference, payUrl));
    return { ...toView({ ...order, providerReference: reference }), payUrl };
  }

  /** `/me/topups` is a customer's view: staff read orders at `/topups`. */
  listMine(query: TopupListQuery): Promise<TopupPage> {
    this.assertCustomer();
    return this.list({ ...query, customerId: this.auth.principal.userId });
  }

  list(query: TopupListQuery): Promise<TopupPage> {
    return this.tenantDb.forRequest(async (m) => {
      const { page, pageSize, offset } = pageOf(query);
      const [rows, total] = await this.repository.list(m, this.auth.ability, { customerId: query.customerId, status: query.status }, offset, pageSize);
      return { items: rows.map(toView), page, pageSize, total };
    });
  }

  /** One of the caller's own orders (the console polls it after the customer comes back from paying). */
  mine(id: string): Promise<TopupView> {
    this.assertCustomer();
    return this.tenantDb.forRequest(async (m) => {
      const order = await this.repository.find(m, id);
      if (!order || order.customerId !== this.auth.principal.userId) throw AppException.notFound('top-up');
      this.auth.assertCan('read', TOPUP, { tenantId: order.tenantId, customerId: order.customerId, salesUserId: order.salesUserId });
      return toView(order);
    });
  }

  private assertCustomer(): void {
    if (!hasRole(this.auth.principal, 'user')) throw AppException.forbidden('Only customers have their own top-ups; staff list them with GET /api/v1/topups.');
  }
}

export function toView(row: TopupRow): TopupView {
  return {
    id: row.id,
    customerId: row.customerId,
    amount: row.amount,
    currency: row.currency,
    provider: row.provider,
    method: row.method,
    status: row.status,
    providerReference: row.providerReference,
    refundedAmount: row.refundedAmount,
    createdAt: row.createdAt,
    paidAt: row.paidAt,
    expiresAt: row.expiresAt,
  };
}
