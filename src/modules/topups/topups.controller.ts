import { Body, Controller, Get, Headers, HttpCode, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import {
  ApiBadGatewayResponse,
  ApiBadRequestResponse,
  ApiBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { Public, RequirePermission } from '@app/authorization';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { UuidParam } from '../../common/params';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import {
  CreatedRedemptionCodes,
  CreatedTopup,
  CreateRedemptionCodesRequest,
  CreateTopupRequest,
  PaymentAck,
  PaymentSettingsTestResult,
  PaymentSettingsView,
  RedeemRequest,
  RedeemResult,
  RedemptionCodeListQuery,
  RedemptionCodePage,
  RedemptionCodeView,
  TestPaymentSettingsRequest,
  TopupListQuery,
  TopupPage,
  TopupView,
  UpdatePaymentSettingsRequest,
} from './dto/topup.dto';
import { PaymentNotificationsService } from './payment-notifications.service';
import { PaymentSettingsService } from './payment-settings.service';
import { RedemptionService } from './redemption.service';
import { PAYMENT_SETTINGS, REDEMPTION, REDEMPTION_CODE, TOPUP } from './topups.permissions';
import { TopupsService } from './topups.service';

@ApiTags('top-ups')
@Controller('api/v1')
export class TopupsController {
  constructor(
    private readonly topups: TopupsService,
    private readonly settings: PaymentSettingsService,
    private readonly notifications: PaymentNotificationsService,
    private readonly redemption: RedemptionService,
  ) {}

  @Post('me/topups')
  @RequirePermission('create', TOPUP)
  @ApiOperation({ summary: 'Start a top-up (customers): creates a pending order and returns the page to pay on (Stripe Checkout or the Epay gateway)' })
  @ApiCreatedResponse({ type: CreatedTopup })
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: "Provider not enabled (payment_provider_not_enabled) or amount outside the tenant's limits (topup_amount_out_of_range)" })
  @ApiBadGatewayResponse({ type: ProblemSchema, description: 'The provider did not create the payment page; the order is marked failed, nothing was charged' })
  @ApiProblems('validation', 'notFound')
  create(@Body() body: CreateTopupRequest): Promise<CreatedTopup> {
    return this.topups.create(body);
  }

  @Get('me/topups')
  @RequirePermission('read', TOPUP)
  @ApiOperation({ summary: "The caller's own top-up orders, newest first (customers)" })
  @ApiOkResponse({ type: TopupPage })
  @ApiProblems('validation')
  mine(@Query() query: TopupListQuery): Promise<TopupPage> {
    return this.topups.listMine(query);
  }

  @Get('me/topups/:id')
  @RequirePermission('read', TOPUP)
  @ApiOperation({ summary: "One of the caller's own top-up orders (poll it after the customer returns from paying)" })
  @ApiOkResponse({ type: TopupView })
  @ApiProblems('notFound')
  one(@Param('id', UuidParam('top-up')) id: string): Promise<TopupView> {
    return this.topups.mine(id);
  }

  @Get('topups')
  @RequirePermission('read', TOPUP)
  @ApiOperation({ summary: "Top-up orders of the tenant's customers, newest first (owner, finance; sales: their bound customers')" })
  @ApiOkResponse({ type: TopupPage })
  @ApiProblems('validation')
  list(@Query() query: TopupListQuery): Promise<TopupPage> {
    return this.topups.list(query);
  }

  @Get('payment-settings')
  @RequirePermission('read', PAYMENT_SETTINGS)
  @ApiOperation({ summary: "The tenant's payment settings (owner); secrets are never returned" })
  @ApiOkResponse({ type: PaymentSettingsView })
  getSettings(): Promise<PaymentSettingsView> {
    return this.settings.get();
  }

  @Put('payment-settings')
  @RequirePermission('update', PAYMENT_SETTINGS)
  @ApiOperation({ summary: 'Change the payment settings (owner): Stripe and Epay credentials (sealed at rest), each enabled or not; order limits' })
  @ApiOkResponse({ type: PaymentSettingsView })
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: 'A provider enabled without all of its credentials (payment_settings_incomplete)' })
  @ApiProblems('validation')
  updateSettings(@Body() body: UpdatePaymentSettingsRequest): Promise<PaymentSettingsView> {
    return this.settings.update(body);
  }

  @Post('payment-settings/test')
  @HttpCode(200)
  @RequirePermission('update', PAYMENT_SETTINGS)
  @ApiOperation({ summary: 'Try the saved credentials of a provider (owner): a Stripe balance call, an Epay merchant query' })
  @ApiOkResponse({ type: PaymentSettingsTestResult })
  @ApiProblems('validation')
  testSettings(@Body() body: TestPaymentSettingsRequest): Promise<PaymentSettingsTestResult> {
    return this.settings.test(body.provider);
  }

  @Post('payments/stripe/webhook')
  @HttpCode(200)
  @Public()
  @ApiOperation({
    summary: "Stripe webhook of the Host's tenant (verified with that tenant's signing secret): checkout.session.completed credits the order once; charge.refunded debits the refund",
  })
  @ApiBody({ description: 'A Stripe event as Stripe sends it (JSON), verified against the Stripe-Signature header', schema: { type: 'object' } })
  @ApiOkResponse({ type: PaymentAck })
  @ApiBadRequestResponse({ type: ProblemSchema, description: 'Missing or invalid Stripe-Signature (problem+json)' })
  @ApiProblems('notFound')
  stripeWebhook(@Req() request: FastifyRequest & { rawBody?: Buffer }, @Headers('stripe-signature') signature?: string): Promise<PaymentAck> {
    return this.notifications.stripe(request.rawBody, signature);
  }

  @Get('payments/epay/notify')
  @Public()
  @ApiOperation({ summary: "Epay payment notification (GET), verified with the Host's tenant's merchant key; answers the protocol's plain `success`" })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: '`success`: received (credited, a replay, or refused and audited)', schema: { type: 'string', example: 'success' } })
  @ApiBadRequestResponse({ type: ProblemSchema, description: 'Invalid signature or merchant id (problem+json)' })
  @ApiProblems('notFound')
  async epayNotifyGet(@Query() query: Record<string, unknown>, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    await this.notifications.epay(query);
    reply.type('text/plain; charset=utf-8');
    return 'success';
  }

  @Post('payments/epay/notify')
  @HttpCode(200)
  @Public()
  @ApiOperation({ summary: 'Epay payment notification as a form POST (same as the GET)' })
  @ApiBody({ description: 'The signed notification parameters (application/x-www-form-urlencoded)', schema: { type: 'object' } })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: '`success`', schema: { type: 'string', example: 'success' } })
  @ApiBadRequestResponse({ type: ProblemSchema, description: 'Invalid signature or merchant id (problem+json)' })
  @ApiProblems('notFound')
  async epayNotifyPost(@Body() body: Record<string, unknown>, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    await this.notifications.epay(body);
    reply.type('text/plain; charset=utf-8');
    return 'success';
  }

  @Post('redemption-codes')
  @RequirePermission('create', REDEMPTION_CODE)
  @ApiOperation({ summary: 'Issue prepaid codes (owner, finance): returned once, as JSON and CSV; only their hashes are stored' })
  @ApiCreatedResponse({ type: CreatedRedemptionCodes })
  @ApiProblems('validation')
  createCodes(@Body() body: CreateRedemptionCodesRequest): Promise<CreatedRedemptionCodes> {
    return this.redemption.create(body);
  }

  @Get('redemption-codes')
  @RequirePermission('read', REDEMPTION_CODE)
  @ApiOperation({ summary: 'Prepaid codes of the tenant, newest first (owner, finance); the codes themselves are not shown' })
  @ApiOkResponse({ type: RedemptionCodePage })
  @ApiProblems('validation')
  listCodes(@Query() query: RedemptionCodeListQuery): Promise<RedemptionCodePage> {
    return this.redemption.list(query);
  }

  @Post('redemption-codes/:id/disable')
  @HttpCode(200)
  @RequirePermission('disable', REDEMPTION_CODE)
  @ApiOperation({ summary: 'Disable a prepaid code that was not redeemed yet (owner, finance)' })
  @ApiOkResponse({ type: RedemptionCodeView })
  @ApiProblems('notFound')
  disableCode(@Param('id', UuidParam('redemption code')) id: string): Promise<RedemptionCodeView> {
    return this.redemption.disable(id);
  }

  @Post('me/redeem')
  @HttpCode(200)
  @RequirePermission('create', REDEMPTION)
  @ApiOperation({ summary: "Redeem a prepaid code into the caller's wallet (customers); once per code; attempts are rate-limited per user and IP" })
  @ApiOkResponse({ type: RedeemResult })
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: 'Unknown, redeemed, disabled or expired code (redemption_code_invalid)' })
  @ApiTooManyRequestsResponse({ type: ProblemSchema, description: 'Too many attempts (redemption_rate_limited), with Retry-After' })
  @ApiProblems('validation')
  redeem(@Body() body: RedeemRequest): Promise<RedeemResult> {
    return this.redemption.redeem(body.code);
  }
}
