import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import { BalanceView, CreditListQuery, CreditPage, CreditRequest, CreditResult, TransactionListQuery, TransactionPage } from './dto/ledger.dto';
import { BALANCE, CREDIT } from './ledger.permissions';
import { LedgerService } from './ledger.service';

@ApiTags('balances')
@Controller('api/v1')
export class LedgerController {
  constructor(private readonly ledger: LedgerService) {}

  @Get('me/balance')
  @RequirePermission('read', BALANCE)
  @ApiOperation({ summary: "The caller's own wallet balance (customers)" })
  @ApiOkResponse({ type: BalanceView })
  @ApiProblems('notFound')
  myBalance(): Promise<BalanceView> {
    return this.ledger.myBalance();
  }

  @Get('me/transactions')
  @RequirePermission('read', BALANCE)
  @ApiOperation({ summary: "The caller's own wallet transactions, newest first" })
  @ApiOkResponse({ type: TransactionPage })
  @ApiProblems('validation', 'notFound')
  myTransactions(@Query() query: TransactionListQuery): Promise<TransactionPage> {
    return this.ledger.myTransactions(query);
  }

  @Get('credits')
  @RequirePermission('read', BALANCE)
  @ApiOperation({
    summary: 'Credits and debits by hand (with note and author) and paid top-ups of the customers whose wallets you may read, newest first',
    description: 'Owner, operator and finance: every customer of the tenant; sales: customers bound to them; a customer: their own.',
  })
  @ApiOkResponse({ type: CreditPage })
  @ApiProblems('validation')
  credits(@Query() query: CreditListQuery): Promise<CreditPage> {
    return this.ledger.listCredits(query);
  }

  @Get('customers/:customerId/balance')
  @RequirePermission('read', BALANCE)
  @ApiOperation({ summary: "A customer's wallet balance (owner, operator, finance; sales for bound customers)" })
  @ApiOkResponse({ type: BalanceView })
  @ApiProblems('notFound')
  balance(@Param('customerId', UuidParam('customer')) id: string): Promise<BalanceView> {
    return this.ledger.balanceOf(id);
  }

  @Get('customers/:customerId/transactions')
  @RequirePermission('read', BALANCE)
  @ApiOperation({ summary: "A customer's wallet transactions (usage, credits, payments), newest first" })
  @ApiOkResponse({ type: TransactionPage })
  @ApiProblems('validation', 'notFound')
  transactions(@Param('customerId', UuidParam('customer')) id: string, @Query() query: TransactionListQuery): Promise<TransactionPage> {
    return this.ledger.transactions(id, query);
  }

  @Post('customers/:customerId/credits')
  @HttpCode(200)
  @RequirePermission('create', CREDIT)
  @ApiOperation({
    summary: "Credit a customer's wallet, or debit it with a negative amount (owner and finance); idempotent by reference",
    description:
      'An invited customer (who has not accepted the invitation yet) may be credited: a reseller often pre-funds. ' +
      'Keys and /v1 calls wait until the customer is active.',
  })
  @ApiOkResponse({ type: CreditResult })
  @ApiProblems('validation', 'notFound', 'conflict')
  @ApiUnprocessableEntityResponse({ type: ProblemSchema, description: '`insufficient_balance`: a debit would take the wallet below zero (problem+json)' })
  credit(@Param('customerId', UuidParam('customer')) id: string, @Body() body: CreditRequest): Promise<CreditResult> {
    return this.ledger.credit(id, body);
  }
}
