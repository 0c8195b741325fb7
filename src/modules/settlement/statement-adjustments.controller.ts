import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import { CreateStatementAdjustmentRequest, StatementAdjustmentList, StatementAdjustmentView } from './dto/statement-adjustment.dto';
import { STATEMENT, STATEMENT_ADJUSTMENT } from './settlement.permissions';
import { StatementAdjustmentsService } from './statement-adjustments.service';

@ApiTags('statements')
@Controller('api/v1/statements/:id/adjustments')
export class StatementAdjustmentsController {
  constructor(private readonly adjustments: StatementAdjustmentsService) {}

  @Post()
  @RequirePermission('create', STATEMENT_ADJUSTMENT)
  @ApiOperation({
    summary:
      "Correct a closed reseller statement (platform owner, finance): moves the amount into (or out of) the reseller's settled margin now; the next statement reports it",
  })
  @ApiCreatedResponse({ type: StatementAdjustmentView })
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: "The platform's own statement, or a debit above the available settled margin (problem+json)" })
  @ApiProblems('validation', 'notFound')
  create(@Param('id', UuidParam('statement')) id: string, @Body() body: CreateStatementAdjustmentRequest): Promise<StatementAdjustmentView> {
    return this.adjustments.create(id, body);
  }

  @Get()
  @RequirePermission('read', STATEMENT)
  @ApiOperation({ summary: 'The manual adjustments correcting a statement, oldest first (whoever may read the statement)' })
  @ApiOkResponse({ type: StatementAdjustmentList })
  @ApiProblems('notFound')
  list(@Param('id', UuidParam('statement')) id: string): Promise<StatementAdjustmentList> {
    return this.adjustments.list(id);
  }
}
