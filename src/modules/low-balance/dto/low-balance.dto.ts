import { ApiProperty } from '@nestjs/swagger';
import { ValidateIf } from 'class-validator';
import { IsDecimalAmount } from '../../../common/money.validators';

export const MAX_THRESHOLD = '1000000000';

export class SetThresholdRequest {
  @ApiProperty({
    type: String,
    nullable: true,
    example: '5.00',
    description: `Currency units, a decimal string 0 <= x <= ${MAX_THRESHOLD} with at most 9 decimals; "0" turns the low-balance event off, null inherits the next level`,
  })
  @ValidateIf((o: SetThresholdRequest) => o.threshold !== null)
  @IsDecimalAmount({ max: MAX_THRESHOLD })
  threshold: string | null;
}

export class CustomerThresholdView {
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiProperty({ type: String, nullable: true, example: '5', description: "The customer's own threshold; null: the tenant's default applies" }) threshold: string | null;
  @ApiProperty({ example: '5', description: 'The threshold in force (customer, else tenant default, else platform default)' }) effectiveThreshold: string;
  @ApiProperty({ enum: ['customer', 'tenant', 'platform'] }) source: 'customer' | 'tenant' | 'platform';
}

export class TenantThresholdView {
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty({ type: String, nullable: true, example: '1', description: "The tenant's default for its customers; null: the platform default applies" }) threshold: string | null;
  @ApiProperty({ example: '1', description: 'The default in force for customers without their own threshold' }) effectiveThreshold: string;
  @ApiProperty({ enum: ['tenant', 'platform'] }) source: 'tenant' | 'platform';
}
