import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDateString, IsOptional, IsString, IsUUID, Length, ValidateIf } from 'class-validator';
import { IsDecimalAmount } from '../../../common/money.validators';
import { PriceView } from './pricing.dto';

const FACTOR_DOC = 'A decimal string 0 < k <= 1000 with at most 6 decimals';

export class CreateGroupRequest {
  @ApiProperty({ example: 'Enterprise', description: 'Unique in the tenant (case-insensitive), 1-100 characters' })
  @IsString()
  @Length(1, 100)
  name: string;
}

export class SetFactorRequest {
  @ApiProperty({ nullable: true, type: String, example: '1.2', description: `${FACTOR_DOC}; null removes the rule from effectiveFrom on` })
  @ValidateIf((o: SetFactorRequest) => o.factor !== null)
  @IsDecimalAmount({ maxDecimals: 6, max: '1000' })
  factor: string | null;

  @ApiPropertyOptional({ format: 'date-time', description: 'When the version takes effect (default: now; never in the past)' })
  @IsOptional()
  @IsDateString({ strict: true })
  effectiveFrom?: string;
}

export class SetCustomerGroupRequest {
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The group; null takes the customer out of its group' })
  @ValidateIf((o: SetCustomerGroupRequest) => o.groupId !== null)
  @IsUUID()
  groupId: string | null;
}

export class FactorView {
  @ApiPropertyOptional({ nullable: true, type: String, description: 'The factor in effect now (null: none)' }) factor: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'When the version in effect now started' }) effectiveFrom: Date | null;
}

export class GroupView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() members: number;
  @ApiProperty({ type: FactorView, description: "The group's multiplier on its customers' base price" }) multiplier: FactorView;
  @ApiProperty({ type: [String], description: 'Models the group has an explicit price for now' }) overriddenModels: string[];
  @ApiProperty() createdAt: Date;
}

export class PriceRulesView {
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty({ type: FactorView, description: 'Tenant-wide markup: retail = wholesale x factor for models without an explicit retail price' }) markup: FactorView;
  @ApiProperty({ type: [GroupView] }) groups: GroupView[];
}

export class CustomerGroupView {
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) groupId: string | null;
}

export class OverrideView {
  @ApiProperty() model: string;
  @ApiPropertyOptional({ nullable: true, type: PriceView, description: 'null: the override was removed' }) price: PriceView | null;
  @ApiProperty() effectiveFrom: Date;
  @ApiProperty({ format: 'uuid' }) versionId: string;
}

export class PriceRuleView {
  @ApiProperty({
    enum: ['customer_override', 'group_override', 'own', 'markup', 'inherited'],
    description:
      "The rule that set the price: the customer's override, its group's override, the tenant's own price, wholesale x the tenant's markup, or the platform's retail price",
  })
  winner: 'customer_override' | 'group_override' | 'own' | 'markup' | 'inherited';
  @ApiProperty({ format: 'uuid', description: 'The version of the winning rule' }) versionId: string;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) groupId: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'The markup factor applied (winner markup)' }) markup: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: "The group's multiplier applied on top of the base price" }) multiplier: string | null;
  @ApiProperty({ type: [String], description: 'Price buckets the wholesale floor raised (the rules asked for less than wholesale)' }) floorApplied: string[];
  @ApiProperty({
    type: [String],
    description: "A sub-reseller's: buckets where what it pays its parent was lifted to the parent's own cost (its discount would have gone below it)",
  })
  wholesaleFloorApplied: string[];
}

export class ResolvedPriceView {
  @ApiProperty() model: string;
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiProperty({ type: PriceView, description: 'What this customer pays now' }) price: PriceView;
  @ApiProperty({ type: PriceView }) wholesale: PriceView;
  @ApiProperty({ type: PriceRuleView }) rule: PriceRuleView;
  @ApiProperty() effectiveFrom: Date;
}
