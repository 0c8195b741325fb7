import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

const NULL_DOC = 'null: the platform default; 0: no limit';

export class SetTenantLimitsRequest {
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
}

export class SetCustomerLimitsRequest extends SetTenantLimitsRequest {
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
}

export class CustomerLimitsView {
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiProperty({ type: LimitValue }) rpm: LimitValue;
  @ApiProperty({ type: LimitValue }) tpm: LimitValue;
  @ApiProperty({ type: LimitValue }) concurrency: LimitValue;
}
