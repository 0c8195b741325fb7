import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength, MinLength } from 'class-validator';
import { PageMeta, PageQuery } from '../../../common/pagination';

export const WITHDRAWAL_STATUSES = ['requested', 'approved', 'rejected', 'paid'] as const;
export type WithdrawalStatus = (typeof WITHDRAWAL_STATUSES)[number];

/** A positive decimal amount in currency units: at most 9 decimals, no sign, no exponent. */
const POSITIVE_AMOUNT = /^(0|[1-9]\d{0,17})(\.\d{1,9})?$/;
const REFERENCE = /^[A-Za-z0-9._:\-]{1,200}$/;
const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

export class CreateWithdrawalRequest {
  @ApiProperty({ example: '250.00', description: 'Currency units, more than zero, at most 9 decimals; at most the available settled margin' })
  @IsString()
  @Matches(POSITIVE_AMOUNT, { message: 'amount must be a positive decimal string with at most 9 decimals' })
  @Matches(/[1-9]/, { message: 'amount must be more than zero' })
  amount: string;

  @ApiPropertyOptional({ example: 'Margin of March', maxLength: 500 })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  note?: string;

  @ApiPropertyOptional({ example: 'IBAN DE89 3704 0044 0532 0130 00', maxLength: 500, description: 'Where the payout should go' })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  destination?: string;

  @ApiPropertyOptional({
    example: 'payout-2026-03',
    description: 'Idempotency reference: the same reference again returns the first request instead of requesting twice',
  })
  @IsOptional()
  @IsString()
  @Matches(REFERENCE, { message: 'reference must be 1-200 letters, digits or . _ : -' })
  reference?: string;
}

export class ApproveWithdrawalRequest {
  @ApiPropertyOptional({ maxLength: 500, description: 'A note for the audit log' })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  note?: string;
}

export class RejectWithdrawalRequest {
  @ApiProperty({ example: 'Bank details do not match the contract', maxLength: 500 })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  reason: string;
}

export class PayWithdrawalRequest {
  @ApiProperty({ example: 'SEPA-2026-03-000123', maxLength: 200, description: "The payment's reference (bank transfer id)" })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  paymentReference: string;
}

export class WithdrawalListQuery extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only this tenant (platform staff)' })
  @IsOptional()
  @IsUUID()
  tenantId?: string;

  @ApiPropertyOptional({ enum: WITHDRAWAL_STATUSES })
  @IsOptional()
  @IsIn(WITHDRAWAL_STATUSES)
  status?: WithdrawalStatus;
}

export class WithdrawalSummaryQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only this reseller (platform staff; default: every reseller in reach)' })
  @IsOptional()
  @IsUUID()
  tenantId?: string;
}

export class WithdrawalView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid', description: 'The reseller tenant' }) tenantId: string;
  @ApiProperty({ example: '250.000000000' }) amount: string;
  @ApiProperty({ enum: WITHDRAWAL_STATUSES }) status: WithdrawalStatus;
  @ApiPropertyOptional({ nullable: true, type: String }) note: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) destination: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) reference: string | null;
  @ApiProperty({ format: 'uuid' }) requestedBy: string;
  @ApiProperty({ format: 'date-time' }) requestedAt: string;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid', description: 'Who approved or rejected it' }) decidedBy: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) decidedAt: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) rejectReason: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) paidBy: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) paidAt: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) paymentReference: string | null;
  @ApiProperty({ format: 'date-time' }) updatedAt: string;
}

export class WithdrawalPage extends PageMeta {
  @ApiProperty({ type: [WithdrawalView] }) items: WithdrawalView[];
}

export class WithdrawalSummary {
  @ApiProperty({ example: '120.000000000', description: 'Settled margin that may be requested now (pending requests already deducted)' }) available: string;
  @ApiProperty({ example: '30.000000000', description: 'Requested, not yet decided' }) pending: string;
  @ApiProperty({ example: '0.000000000', description: 'Approved, not yet paid' }) approved: string;
  @ApiProperty({ example: '500.000000000', description: 'Paid out so far' }) paid: string;
  @ApiProperty({ description: 'Withdrawals per status' }) counts: Record<WithdrawalStatus, number>;
}
