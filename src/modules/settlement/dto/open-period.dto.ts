import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsUUID } from 'class-validator';
import { PERIOD_KINDS } from '../periods';
import { CorrectionFigures, StatementFigures, StatementLineView } from './statement.dto';

export class OpenPeriodQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'Platform staff: a tenant of your reach (default: your own)' })
  @IsOptional()
  @IsUUID()
  tenantId?: string;
}

/**
 * What the next statement will contain, as of now: the usage not yet on any closed statement.
 * Nothing is settled by reading it; figures move until the period closes.
 */
export class OpenPeriodView {
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty({ enum: PERIOD_KINDS, description: 'The kind of period statements are closed for' }) periodKind: string;
  @ApiProperty({ format: 'date-time', description: 'Start of the open period: the end of the last statement (or the tenant\'s first period)' })
  periodStart: string;
  @ApiProperty({ format: 'date-time', description: 'When the open period ends (the statement is closed shortly after)' })
  periodEnd: string;
  @ApiProperty({ format: 'date-time', description: 'The figures include usage recorded up to this time' }) asOf: string;
  @ApiProperty({
    description: 'True when periodEnd has passed but the period is not closed yet: the figures then also hold usage after periodEnd, which later statements will carry',
  })
  includesLaterPeriods: boolean;
  @ApiProperty({ type: StatementFigures, description: 'Usage from periodStart to asOf' }) totals: StatementFigures;
  @ApiProperty({ type: CorrectionFigures, description: 'Late usage of closed periods that the next statement will settle, and manual adjustments it will report' })
  corrections: CorrectionFigures;
  @ApiProperty({ example: '2.500000000', description: 'Margin the next statement would settle if it closed now (period + corrections)' }) settledMargin: string;
  @ApiProperty({ example: '0.000000000', description: 'Manual adjustments made since the last statement (reported, already settled)' }) adjustments: string;
  @ApiProperty({ type: [StatementLineView], description: 'By model and by salesperson of the request\'s time (kinds model and sales)' })
  lines: StatementLineView[];
}
