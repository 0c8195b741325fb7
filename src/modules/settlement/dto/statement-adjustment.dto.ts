import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsString, Matches, MaxLength, MinLength } from 'class-validator';

/** A signed decimal amount in currency units: at most 9 decimals, no exponent, no plus sign. */
const SIGNED_AMOUNT = /^-?(0|[1-9]\d{0,17})(\.\d{1,9})?$/;
const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

export class CreateStatementAdjustmentRequest {
  @ApiProperty({
    example: '-12.50',
    description:
      "Currency units, non-zero, at most 9 decimals and at most WITHDRAWAL_MAX_AMOUNT either way. Positive credits the reseller's settled margin, negative debits it (at most what is available)",
  })
  @IsString()
  @Matches(SIGNED_AMOUNT, { message: 'amount must be a decimal string with at most 9 decimals' })
  @Matches(/[1-9]/, { message: 'amount must not be zero' })
  amount: string;

  @ApiProperty({ example: 'Upstream outage of 3 March: requests refunded to customers', minLength: 1, maxLength: 500 })
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  reason: string;
}

export class StatementAdjustmentView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid', description: 'The reseller whose settled margin the adjustment moved' }) tenantId: string;
  @ApiProperty({ format: 'uuid', description: 'The closed statement it corrects (which itself never changes)' }) correctsStatementId: string;
  @ApiProperty({ example: '-12.500000000', description: "Signed: positive credited the reseller's settled margin, negative debited it" })
  amount: string;
  @ApiProperty() reason: string;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) createdBy: string | null;
  @ApiProperty({ format: 'uuid', description: 'The balanced `correction` ledger transaction (key adjustment:<id>)' }) ledgerTransactionId: string;
  @ApiProperty({ format: 'date-time', description: 'The next statement closed after this time reports the adjustment' }) createdAt: string;
}

export class StatementAdjustmentList {
  @ApiProperty({ type: [StatementAdjustmentView] }) items: StatementAdjustmentView[];
}
