import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequirePermission } from '@app/authorization';
import { ApiProblems } from '../../common/problem.schema';
import { TopCustomerList, UsageExportQuery, UsageRecordList, UsageRecordsQuery, UsageSummary, UsageSummaryQuery, UsageTopCustomersQuery } from './dto/customer.dto';
import { REQUEST_LOG, USAGE } from './customers.permissions';
import { UsageSummaryService } from './usage-summary.service';

@ApiTags('usage')
@Controller('api/v1/usage')
export class UsageController {
  constructor(private readonly usage: UsageSummaryService) {}

  @Get('summary')
  @RequirePermission('read', USAGE)
  @ApiOperation({ summary: 'Requests, tokens and spend over your whole scope, optionally by day, hour, model, salesperson, tenant, key, customer or channel' })
  @ApiOkResponse({ type: UsageSummary })
  @ApiProblems('validation')
  summary(@Query() query: UsageSummaryQuery): Promise<UsageSummary> {
    return this.usage.summary(query);
  }

  @Get('records')
  @RequirePermission('read', USAGE)
  @ApiOperation({
    summary: 'Your scope\'s requests one by one, newest first, filtered (time, customer, key, model, status, x-request-id), a page at a time by cursor',
  })
  @ApiOkResponse({ type: UsageRecordList })
  @ApiProblems('validation')
  records(@Query() query: UsageRecordsQuery): Promise<UsageRecordList> {
    return this.usage.records(query);
  }

  @Get('top-customers')
  @RequirePermission('read', USAGE)
  @ApiOperation({ summary: 'The customers of your scope with the highest spend over a period (customer ranking)' })
  @ApiOkResponse({ type: TopCustomerList })
  @ApiProblems('validation')
  topCustomers(@Query() query: UsageTopCustomersQuery): Promise<TopCustomerList> {
    return this.usage.topCustomers(query);
  }

  @Get('export.csv')
  @RequirePermission('read', USAGE)
  @ApiOperation({
    summary: "Your scope's requests (a customer: their own) as CSV, oldest first, filtered like the summary, streamed from the database (no row limit)",
  })
  @ApiProduces('text/csv')
  @ApiOkResponse({
    description: 'Columns: time, request_id, customer_id, key_id, key_name, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, charge, status, latency_ms',
    schema: { type: 'string' },
  })
  @ApiProblems('validation')
  async export(@Query() query: UsageExportQuery, @Res() reply: FastifyReply): Promise<void> {
    await this.usage.export(query, (body) => {
      void reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="usage.csv"')
        .header('cache-control', 'no-store')
        .header('x-aigw-truncated', 'false')
        .send(body);
    });
  }
}

/** Request logs across resellers, for platform monitoring. */
@ApiTags('usage')
@Controller('api/v1/platform/usage')
export class PlatformUsageController {
  constructor(private readonly usage: UsageSummaryService) {}

  @Get('records')
  @RequirePermission('read', REQUEST_LOG)
  @ApiOperation({ summary: 'Requests of every tenant (platform owner and tech; each read is audited), filtered and paged like /api/v1/usage/records' })
  @ApiOkResponse({ type: UsageRecordList })
  @ApiProblems('validation')
  records(@Query() query: UsageRecordsQuery): Promise<UsageRecordList> {
    return this.usage.platformRecords(query);
  }
}
