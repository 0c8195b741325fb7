import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsOptional, IsString, IsUUID, Matches, MaxLength, MinLength } from 'class-validator';
import { CursorPageQuery, PageMeta, PageQuery } from '../../../common/pagination';

/** A decimal amount in currency units: at most 9 decimals, no exponent, never zero. */
const AMOUNT = /^-?(0|[1-9]\d{0,17})(\.\d{1,9})?$/;

export class CreditRequest {
  @ApiProperty({ example: '25.50', description: 'Currency units, at most 9 decimals; negative for a debit adjustment' })
  @IsString()
  @Matches(AMOUNT, { message: 'amount must be a decimal string with at most 9 decimals' })
  @Matches(/[1-9]/, { message: 'amount must not be zero' })
  amount: string;

  @ApiProperty({ example: 'Goodwill credit for the outage of 3 May', maxLength: 500 })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  note: string;

  @ApiPropertyOptional({
    example: 'INV-2026-0042',
    description: 'Idempotency reference: the same reference again returns the first credit instead of crediting twice',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9._:\-]{1,200}$/, { message: 'reference must be 1-200 letters, digits or . _ : -' })
  reference?: string;
}

export class TransactionView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['usage', 'credit', 'debit', 'payment', 'correction'] }) kind: string;
  @ApiProperty({ example: '-0.001250000', description: "Change of the customer's wallet (currency units)" }) amount: string;
  @ApiPropertyOptional({ nullable: true, type: String }) note: string | null;
  @ApiProperty({ description: 'Request id (usage), credit reference or payment event id' }) reference: string;
  @ApiProperty({ format: 'date-time' }) occurredAt: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiPropertyOptional({
    example: '98.750000000',
    description: "The wallet's ledger balance right after this transaction (in listings, ordered by createdAt then id)",
  })
  balanceAfter?: string;
}

export class CreditResult extends TransactionView {
  @ApiProperty({ example: '125.500000000', description: 'Ledger balance of the wallet after the credit' }) balance: string;
  @ApiProperty({ description: 'False when the same reference had already been credited (nothing changed)' }) created: boolean;
}

export class BalanceView {
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiProperty({ example: '100.000000000', description: 'Ledger balance (record of truth), currency units' }) balance: string;
  @ApiPropertyOptional({
    nullable: true,
    type: String,
    description: 'What can be spent right now (ledger minus open holds and charges not yet metered); null until the first request',
  })
  spendable: string | null;

  @ApiProperty({
    example: '0.250000000',
    description: 'Held by requests in flight and charged but not yet metered: balance minus spendable ("0.000000000" while spendable is null)',
  })
  held: string;
}

/** A page of a wallet's transactions. */
export class TransactionListQuery extends CursorPageQuery {}

export class TransactionPage {
  @ApiProperty({ type: [TransactionView] }) items: TransactionView[];
  @ApiPropertyOptional({ nullable: true, type: String }) nextCursor: string | null;
}

/** What the credits list holds: manual credits and debits, and the credits of payments (top-ups). */
export const CREDIT_KINDS = ['credit', 'debit', 'payment'] as const;

export class CreditListQuery extends PageQuery {
  @ApiPropertyOptional({ description: "Part of the customer's e-mail or name, the note or the reference" })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  q?: string;

  @ApiPropertyOptional({ enum: CREDIT_KINDS, description: '`credit` and `debit`: by hand; `payment`: a paid top-up' })
  @IsOptional()
  @IsIn(CREDIT_KINDS)
  kind?: (typeof CREDIT_KINDS)[number];

  @ApiPropertyOptional({ format: 'uuid', description: 'One customer' })
  @IsOptional()
  @IsUUID()
  customerId?: string;
}

export class PersonRef {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() email: string;
  @ApiPropertyOptional({ nullable: true, type: String }) displayName: string | null;
}

export class CreditListItem {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: CREDIT_KINDS }) kind: string;
  @ApiProperty({ example: '25.000000000', description: "Change of the customer's wallet (negative: a debit)" }) amount: string;
  @ApiPropertyOptional({ nullable: true, type: String }) note: string | null;
  @ApiProperty({ description: 'The credit reference, or the payment provider\'s reference' }) reference: string;
  @ApiProperty({ type: PersonRef }) customer: PersonRef;
  @ApiPropertyOptional({ type: PersonRef, nullable: true, description: 'Who posted it by hand (null: a payment or the system)' }) createdBy: PersonRef | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class CreditPage extends PageMeta {
  @ApiProperty({ type: [CreditListItem] }) items: CreditListItem[];
}
