import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsBoolean, IsIn, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
import { IsDecimalAmount } from '../../../common/money.validators';
import { PageMeta, PageQuery } from '../../../common/pagination';
import { RISK_ACTIONS, RISK_RULES } from '../risk-rules';

export class RiskRuleInput {
  @ApiProperty({ enum: RISK_RULES })
  @IsIn(RISK_RULES)
  rule: (typeof RISK_RULES)[number];

  @ApiProperty()
  @IsBoolean()
  enabled: boolean;

  @ApiProperty({
    example: '600',
    description:
      'Flagged when the window is over it: requests per key per minute (key_velocity), client addresses per key per hour (key_distinct_ips), both whole numbers; or an amount in the currency unit (new_customer_spend, balance_drop)',
  })
  @IsDecimalAmount({ maxDecimals: 9, max: '999999999' })
  threshold: string;

  @ApiProperty({ enum: RISK_ACTIONS, description: "Key rules: flag or suspend_key; customer rules: flag or suspend_customer_keys" })
  @IsIn(RISK_ACTIONS)
  action: (typeof RISK_ACTIONS)[number];
}

export class SetRiskRulesRequest {
  @ApiProperty({ type: [RiskRuleInput], description: 'The rules to replace (others are unchanged)' })
  @ValidateNested({ each: true })
  @Type(() => RiskRuleInput)
  @ArrayMinSize(1)
  @ArrayMaxSize(RISK_RULES.length)
  rules: RiskRuleInput[];
}

export class RiskRuleView {
  @ApiProperty({ enum: RISK_RULES }) rule: string;
  @ApiProperty({ enum: ['key', 'customer'] }) subject: 'key' | 'customer';
  @ApiProperty() enabled: boolean;
  @ApiProperty({ description: 'Decimal string' }) threshold: string;
  @ApiProperty({ enum: ['count', 'amount'], description: 'A whole count, or an amount in the currency unit' }) thresholdKind: 'count' | 'amount';
  @ApiProperty({ enum: RISK_ACTIONS }) action: string;
  @ApiProperty({ enum: RISK_ACTIONS, isArray: true, description: 'The actions this rule accepts' }) actions: string[];
}

export class RiskRulesView {
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty({ type: [RiskRuleView] }) rules: RiskRuleView[];
}

export class RiskFlagQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ['open', 'resolved'] })
  @IsOptional()
  @IsIn(['open', 'resolved'])
  status?: 'open' | 'resolved';
}

export class RiskFlagView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: RISK_RULES }) rule: string;
  @ApiProperty({ enum: ['key', 'customer'] }) subjectType: string;
  @ApiProperty({ format: 'uuid', description: 'The API key or the customer' }) subjectId: string;
  @ApiProperty({ format: 'uuid' }) customerId: string;
  @ApiPropertyOptional({ nullable: true, type: String, description: "The customer's email" }) customerEmail: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Name of the flagged key (key rules)' }) keyName: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'Display prefix of the flagged key (key rules)' }) keyPrefix: string | null;
  @ApiProperty({ format: 'date-time' }) windowStart: Date;
  @ApiProperty({ format: 'date-time' }) windowEnd: Date;
  @ApiProperty({ description: 'What was counted in the window (decimal string)' }) observed: string;
  @ApiProperty() threshold: string;
  @ApiProperty({ enum: RISK_ACTIONS }) action: string;
  @ApiProperty({ type: [String], description: 'API keys the flag suspended' }) suspendedKeyIds: string[];
  @ApiProperty({ enum: ['open', 'resolved'] }) status: string;
  @ApiProperty({ format: 'date-time' }) createdAt: Date;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time' }) resolvedAt: Date | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid' }) resolvedBy: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) resolutionNote: string | null;
  @ApiPropertyOptional({ nullable: true, type: [String], description: 'API keys reactivated when it was resolved' }) reactivatedKeyIds: string[] | null;
}

export class RiskFlagPage extends PageMeta {
  @ApiProperty({ type: [RiskFlagView] }) items: RiskFlagView[];
}

export class ResolveRiskFlagRequest {
  @ApiProperty({ description: 'Reactivate the API keys this flag suspended (those still suspended and held by no other open flag)' })
  @IsBoolean()
  reactivateKeys: boolean;

  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  note?: string;
}
