import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import type { FastifyReply } from 'fastify';
import { UuidParam } from '../../common/params';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import {
  ApproveWithdrawalRequest,
  CreateWithdrawalRequest,
  PayWithdrawalRequest,
  RejectWithdrawalRequest,
  WithdrawalListQuery,
  WithdrawalPage,
  WithdrawalSummary,
  WithdrawalSummaryQuery,
  WithdrawalView,
} from './dto/withdrawal.dto';
import { WITHDRAWAL } from './withdrawals.permissions';
import { WithdrawalsService } from './withdrawals.service';

@ApiTags('withdrawals')
@Controller('api/v1/withdrawals')
export class WithdrawalsController {
  constructor(private readonly withdrawals: WithdrawalsService) {}

  @Post()
  @RequirePermission('create', WITHDRAWAL)
  @ApiOperation({
    summary: 'Request a payout of settled margin (reseller owner, finance); at most the available settled margin; idempotent by reference',
  })
  @ApiCreatedResponse({ type: WithdrawalView, description: 'Requested (200 when the same reference was already requested)' })
  @ApiOkResponse({ type: WithdrawalView, description: 'The earlier request with this reference' })
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: 'More than the available settled margin, or the caller is not a reseller (problem+json)' })
  @ApiProblems('validation', 'conflict')
  async request(@Body() body: CreateWithdrawalRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<WithdrawalView> {
    const result = await this.withdrawals.request(body);
    reply.status(result.created ? 201 : 200);
    return result.withdrawal;
  }

  @Get()
  @RequirePermission('read', WITHDRAWAL)
  @ApiOperation({ summary: "Withdrawals, newest first: a reseller's own (owner, finance); every reseller's for platform owner and finance" })
  @ApiOkResponse({ type: WithdrawalPage })
  @ApiProblems('validation')
  list(@Query() query: WithdrawalListQuery): Promise<WithdrawalPage> {
    return this.withdrawals.list(query);
  }

  @Get('summary')
  @RequirePermission('read', WITHDRAWAL)
  @ApiOperation({ summary: 'Available settled margin and the pending, approved and paid totals (own tenant; platform: every reseller or one)' })
  @ApiOkResponse({ type: WithdrawalSummary })
  @ApiProblems('validation')
  summary(@Query() query: WithdrawalSummaryQuery): Promise<WithdrawalSummary> {
    return this.withdrawals.summary(query);
  }

  @Get(':id')
  @RequirePermission('read', WITHDRAWAL)
  @ApiOperation({ summary: 'One withdrawal and its state' })
  @ApiOkResponse({ type: WithdrawalView })
  @ApiProblems('notFound')
  get(@Param('id', UuidParam('withdrawal')) id: string): Promise<WithdrawalView> {
    return this.withdrawals.get(id);
  }

  @Post(':id/approve')
  @HttpCode(200)
  @RequirePermission('update', WITHDRAWAL)
  @ApiOperation({ summary: 'Approve a requested withdrawal (platform owner, finance)' })
  @ApiOkResponse({ type: WithdrawalView })
  @ApiProblems('validation', 'notFound', 'conflict')
  approve(@Param('id', UuidParam('withdrawal')) id: string, @Body() body: ApproveWithdrawalRequest): Promise<WithdrawalView> {
    return this.withdrawals.approve(id, body?.note);
  }

  @Post(':id/reject')
  @HttpCode(200)
  @RequirePermission('update', WITHDRAWAL)
  @ApiOperation({ summary: 'Reject a requested withdrawal with a reason; the amount returns to the settled margin (platform owner, finance)' })
  @ApiOkResponse({ type: WithdrawalView })
  @ApiProblems('validation', 'notFound', 'conflict')
  reject(@Param('id', UuidParam('withdrawal')) id: string, @Body() body: RejectWithdrawalRequest): Promise<WithdrawalView> {
    return this.withdrawals.reject(id, body.reason);
  }

  @Post(':id/pay')
  @HttpCode(200)
  @RequirePermission('update', WITHDRAWAL)
  @ApiOperation({ summary: 'Mark an approved withdrawal paid, with the payment reference (platform owner, finance)' })
  @ApiOkResponse({ type: WithdrawalView })
  @ApiProblems('validation', 'notFound', 'conflict')
  pay(@Param('id', UuidParam('withdrawal')) id: string, @Body() body: PayWithdrawalRequest): Promise<WithdrawalView> {
    return this.withdrawals.pay(id, body.paymentReference);
  }
}
