import { Controller, Get, Header, Param, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import type { FastifyReply } from 'fastify';
import { UuidParam } from '../../common/params';
import { ApiProblems } from '../../common/problem.schema';
import { OpenRollup, OpenRollupQuery, RollupQuery, StatementDetail, StatementListQuery, StatementPage, StatementRollup } from './dto/statement.dto';
import { STATEMENT, STATEMENT_ROLLUP } from './settlement.permissions';
import { StatementsService } from './statements.service';

@ApiTags('statements')
@Controller('api/v1/statements')
export class StatementsController {
  constructor(private readonly statements: StatementsService) {}

  @Get()
  @RequirePermission('read', STATEMENT)
  @ApiOperation({ summary: 'Closed settlement statements you may read, newest period first (owner and finance; platform sales: bound resellers)' })
  @ApiOkResponse({ type: StatementPage })
  @ApiProblems('validation')
  list(@Query() query: StatementListQuery): Promise<StatementPage> {
    return this.statements.list(query);
  }

  @Get('rollup')
  @RequirePermission('read', STATEMENT_ROLLUP)
  @ApiOperation({ summary: "One period across every tenant: resellers' retail and wholesale, direct retail, upstream cost, platform margin" })
  @ApiOkResponse({ type: StatementRollup })
  @ApiProblems('validation')
  rollup(@Query() query: RollupQuery): Promise<StatementRollup> {
    return this.statements.rollup(query);
  }

  @Get('rollup/open')
  @RequirePermission('read', STATEMENT_ROLLUP)
  @ApiOperation({ summary: 'The current (open) day, week or month across every tenant so far, from the usage recorded until now, per tenant too' })
  @ApiOkResponse({ type: OpenRollup })
  @ApiProblems('validation')
  openRollup(@Query() query: OpenRollupQuery): Promise<OpenRollup> {
    return this.statements.openRollup(query);
  }

  @Get(':id.csv')
  @RequirePermission('read', STATEMENT)
  @Header('content-type', 'text/csv; charset=utf-8')
  @Header('x-content-type-options', 'nosniff')
  @ApiOperation({ summary: 'A statement as CSV: header, totals, corrections and lines (money as decimal strings)' })
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'text/csv', schema: { type: 'string' } })
  @ApiProblems('notFound')
  async csv(@Param('id', UuidParam('statement')) id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const { filename, body } = await this.statements.csv(id);
    void reply.header('content-disposition', `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
    return body;
  }

  @Get(':id')
  @RequirePermission('read', STATEMENT)
  @ApiOperation({ summary: 'A statement with its lines by model, by salesperson (of the time) and by corrected statement' })
  @ApiOkResponse({ type: StatementDetail })
  @ApiProblems('notFound')
  detail(@Param('id', UuidParam('statement')) id: string): Promise<StatementDetail> {
    return this.statements.detail(id);
  }
}
