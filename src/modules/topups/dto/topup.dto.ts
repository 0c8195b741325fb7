import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUrl, IsUUID, Matches, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { IsDecimalAmount } from '../../../common/money.validators';
import { PageMeta, PageQuery } from '../../../common/pagination';

export const TOPUP_STATUSES = ['pending', 'paid', 'failed', 'expired', 'refunded'] as const;

export class CreateTopupRequest {
  @ApiProperty({ example: '50.00', description: "Currency units as a decimal string; within the tenant's minimum and maximum" })
  @IsDecimalAmount({ maxDecimals: 2 })
  @Matches(/[1-9]/, { message: 'amount must not be zero' })
  amount: string;

  @ApiProperty({ enum: ['stripe', 'epay'], description: 'stripe: card payment on Stripe Checkout; epay: Alipay or WeChat Pay through the tenant\'s Epay gateway' })
  @IsIn(['stripe', 'epay'])
  provider: 'stripe' | 'epay';

  @ApiPropertyOptional({ enum: ['alipay', 'wxpay'], description: "epay only: go straight to this method (without it the gateway's cashier asks)" })
  @IsOptional()
  @IsIn(['alipay', 'wxpay'])
  method?: 'alipay' | 'wxpay';
}

export class TopupView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiProperty({ example: '50.000000000' }) amount: string;
  @ApiProperty({ example: 'usd', description: 'ISO 4217, lowercase' }) currency: string;
  @ApiProperty({ enum: ['stripe', 'epay'] }) provider: string;
  @ApiPropertyOptional({ enum: ['alipay', 'wxpay'], nullable: true, type: String }) method: string | null;
  @ApiProperty({ enum: TOPUP_STATUSES }) status: string;
  @ApiPropertyOptional({ nullable: true, type: String, description: "The provider's id of the payment (Checkout Session, Epay trade number)" })
  providerReference: string | null;
  @ApiProperty({ example: '0.000000000', description: 'Refunded so far (debited from the wallet)' }) refundedAmount: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiPropertyOptional({ format: 'date-time', nullable: true, type: String }) paidAt: string | null;
  @ApiProperty({ format: 'date-time', description: 'A pending order not paid by then expires' }) expiresAt: string;
}

export class CreatedTopup extends TopupView {
  @ApiProperty({ example: 'https://checkout.stripe.com/c/pay/cs_test_...', description: 'Send the customer here to pay (Stripe Checkout, or the Epay gateway)' })
  payUrl: string;
}

export class TopupListQuery extends PageQuery {
  @ApiPropertyOptional({ enum: TOPUP_STATUSES })
  @IsOptional()
  @IsIn(TOPUP_STATUSES)
  status?: (typeof TOPUP_STATUSES)[number];

  @ApiPropertyOptional({ format: 'uuid', description: 'Staff only: one customer' })
  @IsOptional()
  @IsUUID()
  customerId?: string;
}

export class TopupPage extends PageMeta {
  @ApiProperty({ type: [TopupView] }) items: TopupView[];
}

export class PaymentAck {
  @ApiProperty() received: boolean;
  @ApiProperty({ enum: ['credited', 'refunded', 'duplicate', 'ignored', 'rejected'], description: 'What was done with the notification' }) outcome: string;
}

class StripeSettingsInput {
  @ApiPropertyOptional() @IsOptional() @IsBoolean() enabled?: boolean;

  @ApiPropertyOptional({ description: 'Secret or restricted key (sk_... / rk_...); write-only' })
  @IsOptional()
  @IsString()
  @Matches(/^(sk|rk)_(test|live)_[A-Za-z0-9_]{4,250}$/, { message: 'secretKey must be a Stripe secret key (sk_test_..., sk_live_..., rk_...)' })
  secretKey?: string;

  @ApiPropertyOptional({ description: 'Webhook signing secret (whsec_...); write-only' })
  @IsOptional()
  @IsString()
  @Matches(/^whsec_[A-Za-z0-9+/=_]{8,250}$/, { message: 'webhookSecret must be a Stripe webhook signing secret (whsec_...)' })
  webhookSecret?: string;

  @ApiPropertyOptional({ example: 'usd', description: 'Currency customers pay in (ISO 4217, lowercase)' })
  @IsOptional()
  @Matches(/^[a-z]{3}$/, { message: 'currency must be a three-letter ISO 4217 code in lowercase' })
  currency?: string;
}

class EpaySettingsInput {
  @ApiPropertyOptional() @IsOptional() @IsBoolean() enabled?: boolean;

  @ApiPropertyOptional({ example: '1001', description: 'Merchant id (pid)' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'merchantId must be 1-64 letters, digits, _ or -' })
  merchantId?: string;

  @ApiPropertyOptional({ description: 'Merchant key (MD5 signing key); write-only' })
  @IsOptional()
  @IsString()
  @MinLength(8)
  @MaxLength(256)
  key?: string;

  @ApiPropertyOptional({ example: 'https://pay.example.com/', description: 'Base URL of the gateway (submit.php and api.php live under it)' })
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  @MaxLength(2048)
  gatewayUrl?: string;
}

export class UpdatePaymentSettingsRequest {
  @ApiPropertyOptional({ type: StripeSettingsInput })
  @IsOptional()
  @ValidateNested()
  @Type(() => StripeSettingsInput)
  stripe?: StripeSettingsInput;

  @ApiPropertyOptional({ type: EpaySettingsInput })
  @IsOptional()
  @ValidateNested()
  @Type(() => EpaySettingsInput)
  epay?: EpaySettingsInput;

  @ApiPropertyOptional({ example: '5.00', description: 'Smallest order (currency units)' })
  @IsOptional()
  @IsDecimalAmount({ maxDecimals: 2 })
  @Matches(/[1-9]/, { message: 'minAmount must be more than zero' })
  minAmount?: string;

  @ApiPropertyOptional({ example: '5000.00', description: 'Largest order (currency units)' })
  @IsOptional()
  @IsDecimalAmount({ maxDecimals: 2 })
  @Matches(/[1-9]/, { message: 'maxAmount must be more than zero' })
  maxAmount?: string;
}

class StripeSettingsView {
  @ApiProperty() enabled: boolean;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Last four characters of the saved secret key' }) secretKeyLast4: string | null;
  @ApiProperty({ description: 'Whether a webhook signing secret is saved (never returned)' }) webhookSecretSet: boolean;
  @ApiProperty({ example: 'usd' }) currency: string;
  @ApiProperty({ description: "Endpoint to register in the tenant's Stripe dashboard (events checkout.session.completed, charge.refunded)" }) webhookUrl: string;
}

class EpaySettingsView {
  @ApiProperty() enabled: boolean;
  @ApiPropertyOptional({ nullable: true, type: String }) merchantId: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) gatewayUrl: string | null;
  @ApiProperty({ description: 'Whether a merchant key is saved (never returned)' }) keySet: boolean;
  @ApiProperty({ description: 'notify_url sent with every order' }) notifyUrl: string;
}

export class PaymentSettingsView {
  @ApiProperty({ type: StripeSettingsView }) stripe: StripeSettingsView;
  @ApiProperty({ type: EpaySettingsView }) epay: EpaySettingsView;
  @ApiProperty({ example: '1.000000000' }) minAmount: string;
  @ApiProperty({ example: '10000.000000000' }) maxAmount: string;
  @ApiPropertyOptional({ format: 'date-time', nullable: true, type: String }) updatedAt: string | null;
}

export class TestPaymentSettingsRequest {
  @ApiProperty({ enum: ['stripe', 'epay'] })
  @IsIn(['stripe', 'epay'])
  provider: 'stripe' | 'epay';
}

export class PaymentSettingsTestResult {
  @ApiProperty({ enum: ['stripe', 'epay'] }) provider: string;
  @ApiProperty({ description: 'The provider accepted the saved credentials' }) ok: boolean;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Why not, when ok is false' }) detail: string | null;
}

export class CreateRedemptionCodesRequest {
  @ApiProperty({ minimum: 1, maximum: 1000, example: 100 })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  count: number;

  @ApiProperty({ example: '10.00', description: 'Credited per code (currency units)' })
  @IsDecimalAmount({ maxDecimals: 9 })
  @Matches(/[1-9]/, { message: 'amount must not be zero' })
  amount: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Codes cannot be redeemed after this (none: no expiry)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expiresAt?: string;
}

export class RedemptionCodeView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) batchId: string;
  @ApiProperty({ example: 'K7QM', description: 'Last four characters of the code (the code itself is not stored)' }) codeHint: string;
  @ApiProperty({ example: '10.000000000' }) amount: string;
  @ApiProperty({ enum: ['active', 'redeemed', 'disabled', 'expired'] }) status: string;
  @ApiPropertyOptional({ format: 'date-time', nullable: true, type: String }) expiresAt: string | null;
  @ApiPropertyOptional({ format: 'date-time', nullable: true, type: String }) disabledAt: string | null;
  @ApiPropertyOptional({ format: 'uuid', nullable: true, type: String }) redeemedBy: string | null;
  @ApiPropertyOptional({ format: 'date-time', nullable: true, type: String }) redeemedAt: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class IssuedCode {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'Q4XT9-MB2KD-7HW3R-JN8CF-V5PZE', description: 'The code; shown only in this response' }) code: string;
}

export class CreatedRedemptionCodes {
  @ApiProperty({ format: 'uuid' }) batchId: string;
  @ApiProperty({ example: '10.000000000' }) amount: string;
  @ApiPropertyOptional({ format: 'date-time', nullable: true, type: String }) expiresAt: string | null;
  @ApiProperty({ type: [IssuedCode] }) codes: IssuedCode[];
  @ApiProperty({ description: 'The same codes as CSV (id,code,amount,expires_at), for printing or import into a shop' }) csv: string;
}

export class RedemptionCodeListQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ['active', 'redeemed', 'disabled', 'expired'] })
  @IsOptional()
  @IsIn(['active', 'redeemed', 'disabled', 'expired'])
  status?: 'active' | 'redeemed' | 'disabled' | 'expired';

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  batchId?: string;
}

export class RedemptionCodePage extends PageMeta {
  @ApiProperty({ type: [RedemptionCodeView] }) items: RedemptionCodeView[];
}

export class RedeemRequest {
  @ApiProperty({ example: 'Q4XT9-MB2KD-7HW3R-JN8CF-V5PZE', description: 'Dashes, spaces and case do not matter' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  code: string;
}

export class RedeemResult {
  @ApiProperty({ example: '10.000000000', description: 'Credited to the wallet' }) amount: string;
  @ApiProperty({ example: '110.000000000', description: 'Ledger balance of the wallet after the credit' }) balance: string;
  @ApiProperty({ format: 'uuid', description: 'The ledger transaction' }) transactionId: string;
}
