import { PRICE_UNIT_NAMES, PriceUnitName } from '@app/money';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsUUID } from 'class-validator';
import { CursorPageQuery } from '../../../common/pagination';
import { PERIOD_KINDS, PeriodKind } from '../periods';

export class StatementListQuery extends CursorPageQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'Platform staff: one tenant only' })
  @IsOptional()
  @IsUUID()
  tenantId?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Periods starting at or after this time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Periods starting before this time' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

export class RollupQuery {
  @ApiProperty({ format: 'date-time', example: '2026-03-01T00:00:00Z', description: 'Start of the period (UTC)' })
  @IsISO8601({ strict: true })
  periodStart: string;
}

export class StatementFigures {
  @ApiProperty() requests: number;
  @ApiProperty() inputTokens: number;
  @ApiProperty() outputTokens: number;
  @ApiProperty() cacheReadTokens: number;
  @ApiProperty() cacheWriteTokens: number;
  @ApiProperty({ example: '12.500000000', description: 'What the customers paid (currency units)' }) retailRevenue: string;
  @ApiProperty({ example: '10.000000000', description: 'What the reseller owes the platform' }) wholesaleCost: string;
  @ApiPropertyOptional({ example: '7.000000000', description: "Upstream cost: the platform's owner and finance only" }) upstreamCost?: string;
  @ApiProperty({
    example: '2.500000000',
    description: "Reseller: retail - wholesale. The platform's own statement: its direct customers' retail - upstream cost",
  })
  margin: string;
}

export class CorrectionFigures {
  @ApiProperty() requests: number;
  @ApiProperty() retailRevenue: string;
  @ApiProperty() wholesaleCost: string;
  @ApiPropertyOptional() upstreamCost?: string;
  @ApiProperty() margin: string;
  @ApiProperty({ type: [String], description: 'Statements corrected here: by late records of their periods, or by manual adjustments' })
  correctedStatementIds: string[];
}

export class StatementView {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty() tenantSlug: string;
  @ApiProperty({ enum: ['platform', 'reseller'] }) tenantType: string;
  @ApiProperty({ enum: PERIOD_KINDS }) periodKind: string;
  @ApiProperty({ format: 'date-time' }) periodStart: string;
  @ApiProperty({ format: 'date-time' }) periodEnd: string;
  @ApiProperty({ format: 'date-time', description: 'Usage recorded by this time is in the statement; later records go to the next' })
  closedAt: string;
  @ApiProperty({ type: StatementFigures, description: "The period's own usage" }) totals: StatementFigures;
  @ApiProperty({ type: CorrectionFigures, description: 'Late usage of earlier periods, settled with this statement' })
  corrections: CorrectionFigures;
  @ApiProperty({ example: '2.500000000', description: 'Margin settled by this statement (period + corrections)' }) settledMargin: string;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid', description: 'The settlement ledger transaction (resellers)' })
  settlementTransactionId: string | null;
  @ApiProperty({
    example: '-12.500000000',
    description:
      "Manual adjustments of earlier statements made since the previous close (lines of kind 'adjustment'). Reported, not part of settledMargin: each moved the reseller's settled margin when it was made",
  })
  adjustments: string;
}

export class StatementLineView extends StatementFigures {
  @ApiProperty({ enum: ['model', 'sales', 'correction', 'adjustment'], description: "adjustment: margin = the manual adjustments of the statement it corrects, every other figure 0" })
  kind: string;
  @ApiPropertyOptional({ nullable: true, type: String }) model?: string | null;
  @ApiPropertyOptional({ nullable: true, enum: PRICE_UNIT_NAMES, description: 'Model lines: what the model was billed in (null on lines closed before units existed)' })
  unit?: PriceUnitName | null;
  @ApiPropertyOptional({ nullable: true, type: Number, description: 'Model lines: how many of `unit` were billed' })
  quantity?: number | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid', description: 'Salesperson of the requests’ time; null: unassigned' })
  salesUserId?: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: "The salesperson's e-mail (your own tenant's statements)" })
  salesEmail?: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid', description: 'The statement this correction or adjustment belongs to' })
  correctsStatementId?: string | null;
}

export class StatementDetail extends StatementView {
  @ApiProperty({ type: [StatementLineView] }) lines: StatementLineView[];
}

export class StatementPage {
  @ApiProperty({ type: [StatementView] }) items: StatementView[];
  @ApiPropertyOptional({ nullable: true, type: String }) nextCursor: string | null;
}

export class RollupCorrections {
  @ApiProperty() resellerWholesale: string;
  @ApiProperty() platformDirectRetail: string;
  @ApiProperty() upstreamCost: string;
  @ApiProperty() platformMargin: string;
}

export class StatementRollup {
  @ApiProperty({ format: 'date-time' }) periodStart: string;
  @ApiProperty({ description: 'Statements closed for this period' }) tenants: number;
  @ApiProperty() requests: number;
  @ApiProperty({ description: "Resellers' retail revenue" }) resellerRetail: string;
  @ApiProperty({ description: "What resellers owe the platform (the platform's revenue from resellers)" }) resellerWholesale: string;
  @ApiProperty({ description: "The platform's own customers' retail" }) platformDirectRetail: string;
  @ApiProperty({ description: 'Upstream cost of every tenant' }) upstreamCost: string;
  @ApiProperty({ description: 'Wholesale from resellers + direct retail - upstream cost' }) platformMargin: string;
  @ApiProperty({ type: RollupCorrections, description: 'Late usage of earlier periods settled in this period' })
  corrections: RollupCorrections;
}

export class OpenRollupQuery {
  @ApiProperty({ enum: PERIOD_KINDS, description: 'The kind of period whose current (open) one is summed' })
  @IsIn(PERIOD_KINDS)
  periodKind: PeriodKind;
}

export class OpenRollupTenant {
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty() tenantSlug: string;
  @ApiProperty({ enum: ['platform', 'reseller'] }) tenantType: 'platform' | 'reseller';
  @ApiProperty() requests: number;
  @ApiProperty({ description: "What the tenant's customers were charged" }) retail: string;
  @ApiProperty({ description: 'What the tenant owes the platform (0 for the platform itself)' }) wholesale: string;
  @ApiProperty() upstreamCost: string;
  @ApiProperty({ description: "The tenant's margin so far: a reseller's retail - wholesale; the platform's retail - upstream" }) margin: string;
}

export class OpenRollup {
  @ApiProperty({ enum: PERIOD_KINDS }) periodKind: PeriodKind;
  @ApiProperty({ format: 'date-time' }) periodStart: string;
  @ApiProperty({ format: 'date-time' }) periodEnd: string;
  @ApiProperty({ format: 'date-time', description: 'Usage recorded up to this moment is included' }) asOf: string;
  @ApiProperty({ description: 'Tenants with usage in the period so far' }) tenants: number;
  @ApiProperty() requests: number;
  @ApiProperty({ description: "Resellers' retail revenue so far" }) resellerRetail: string;
  @ApiProperty({ description: 'What resellers owe the platform so far' }) resellerWholesale: string;
  @ApiProperty({ description: "The platform's own customers' retail so far" }) platformDirectRetail: string;
  @ApiProperty({ description: 'Upstream cost of every tenant so far' }) upstreamCost: string;
  @ApiProperty({ description: 'Wholesale from resellers + direct retail - upstream cost' }) platformMargin: string;
  @ApiProperty({ type: [OpenRollupTenant], description: 'Per tenant, highest retail first' }) byTenant: OpenRollupTenant[];
}
