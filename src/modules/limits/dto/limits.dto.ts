import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Length, Max, Min, ValidateIf } from 'class-validator';
import { IsDecimalAmount } from '../../../common/money.validators';

const NULL_DOC = 'null: the platform default; 0: no limit';
const WINDOW_DOC = "null: no limit (no platform default). May be below the per-minute limit (then the minute never binds)";

class SetRateLimitsRequest {
  @ApiPropertyOptional({ nullable: true, type: Number, minimum: 0, maximum: 10_000_000, description: `Requests per minute across the tenant. ${NULL_DOC}` })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10_000_000)
  rpm?: number | null;

  @ApiPropertyOptional({ nullable: true, type: Number, minimum: 0, maximum: 2_000_000_000, description: `Tokens per minute across the tenant. ${NULL_DOC}` })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(2_000_000_000)
  tpm?: number | null;

  @ApiPropertyOptional({ nullable: true, type: Number, minimum: 1, maximum: 100_000_000, description: `Requests per clock hour. ${WINDOW_DOC}` })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000_000)
  rph?: number | null;

  @ApiPropertyOptional({ nullable: true, type: Number, minimum: 1, maximum: 2_000_000_000, description: `Requests per day (the tenant's time-zone day). ${WINDOW_DOC}` })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(2_000_000_000)
  rpd?: number | null;

  @ApiPropertyOptional({ nullable: true, type: Number, minimum: 1, maximum: 1_000_000_000_000, description: `Tokens per clock hour. ${WINDOW_DOC}` })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000_000_000)
  tph?: number | null;

  @ApiPropertyOptional({ nullable: true, type: Number, minimum: 1, maximum: 1_000_000_000_000, description: `Tokens per day (the tenant's time-zone day). ${WINDOW_DOC}` })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000_000_000)
  tpd?: number | null;
}

export class SetTenantLimitsRequest extends SetRateLimitsRequest {
  @ApiPropertyOptional({ nullable: true, type: Number, minimum: 0, maximum: 10_000_000, description: `Requests per minute to /v1 from one client address. ${NULL_DOC}` })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10_000_000)
  ipRpm?: number | null;
}

export class SetCustomerLimitsRequest extends SetRateLimitsRequest {
  @ApiPropertyOptional({ nullable: true, type: Number, minimum: 0, maximum: 100_000, description: `Requests in flight at once across the customer's keys. ${NULL_DOC}` })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100_000)
  concurrency?: number | null;
}

/** One limit: what is stored (null: none) and what applies (the stored value or the default; 0: no limit). */
export class LimitValue {
  @ApiPropertyOptional({ nullable: true, type: Number }) stored: number | null;
  @ApiProperty({ description: 'In force: the stored value, else the default (0: no limit)' }) effective: number;
}

export class TenantLimitsView {
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty({ type: LimitValue }) rpm: LimitValue;
  @ApiProperty({ type: LimitValue }) tpm: LimitValue;
  @ApiProperty({ type: LimitValue, description: 'Requests per minute to /v1 from one client address' }) ipRpm: LimitValue;
  @ApiProperty({ type: LimitValue, description: 'Requests per clock hour (effective 0: no limit)' }) rph: LimitValue;
  @ApiProperty({ type: LimitValue, description: "Requests per day, the tenant's time-zone day (effective 0: no limit)" }) rpd: LimitValue;
  @ApiProperty({ type: LimitValue, description: 'Tokens per clock hour (effective 0: no limit)' }) tph: LimitValue;
  @ApiProperty({ type: LimitValue, description: "Tokens per day, the tenant's time-zone day (effective 0: no limit)" }) tpd: LimitValue;
}

export class CustomerLimitsView {
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiProperty({ type: LimitValue }) rpm: LimitValue;
  @ApiProperty({ type: LimitValue }) tpm: LimitValue;
  @ApiProperty({ type: LimitValue }) concurrency: LimitValue;
  @ApiProperty({ type: LimitValue, description: 'Requests per clock hour (effective 0: no limit)' }) rph: LimitValue;
  @ApiProperty({ type: LimitValue, description: "Requests per day, the tenant's time-zone day (effective 0: no limit)" }) rpd: LimitValue;
  @ApiProperty({ type: LimitValue, description: 'Tokens per clock hour (effective 0: no limit)' }) tph: LimitValue;
  @ApiProperty({ type: LimitValue, description: "Tokens per day, the tenant's time-zone day (effective 0: no limit)" }) tpd: LimitValue;
}

export class SetBudgetRequest {
  @ApiProperty({ enum: ['customer', 'key'] })
  @IsIn(['customer', 'key'])
  subject: 'customer' | 'key';

  @ApiProperty({ format: 'uuid', description: 'The customer or the API key' })
  @IsUUID()
  subjectId: string;

  @ApiProperty({ enum: ['day', 'week', 'month'], description: "Resets at local midnight, on Monday, on the 1st (the tenant's time zone)" })
  @IsIn(['day', 'week', 'month'])
  period: 'day' | 'week' | 'month';

  @ApiProperty({ nullable: true, type: String, example: '25', description: 'Most spent in one period, a decimal string in the currency unit; null removes the budget' })
  @ValidateIf((o: SetBudgetRequest) => o.amount !== null)
  @IsDecimalAmount({ maxDecimals: 9, max: '999999999' })
  amount: string | null;
}

export class BudgetQuery {
  @ApiProperty({ enum: ['customer', 'key'] })
  @IsIn(['customer', 'key'])
  subject: 'customer' | 'key';

  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  subjectId: string;
}

export class BudgetView {
  @ApiProperty({ enum: ['customer', 'key'] }) subject: 'customer' | 'key';
  @ApiProperty({ format: 'uuid' }) subjectId: string;
  @ApiProperty({ enum: ['day', 'week', 'month'] }) period: 'day' | 'week' | 'month';
  @ApiProperty({ example: '25' }) amount: string;
  @ApiProperty({ example: '2026-12-03', description: 'The current period' }) periodId: string;
  @ApiProperty({ example: '3.5', description: 'Spent in the current period, open holds included' }) spent: string;
}

export class BudgetListView {
  @ApiProperty({ example: 'Asia/Shanghai' }) timeZone: string;
  @ApiProperty({ type: [BudgetView] }) items: BudgetView[];
}

export class SetTimeZoneRequest {
  @ApiProperty({ example: 'Asia/Shanghai', description: 'IANA time zone the budget periods of the tenant follow' })
  @IsString()
  @Length(1, 64)
  timeZone: string;
}

export class TimeZoneView {
  @ApiProperty({ example: 'Asia/Shanghai' }) timeZone: string;
}
