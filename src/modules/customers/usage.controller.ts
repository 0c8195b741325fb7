import { Controller, Get, Header, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequirePermission } from '@app/authorization';
import { ApiProblems } from '../../common/problem.schema';
import { UsageExportQuery, UsageSummary, UsageSummaryQuery } from './dto/customer.dto';
import { USAGE } from './customers.permissions';
import { USAGE_EXPORT_MAX_ROWS, UsageSummaryService } from './usage-summary.service';

@ApiTags('usage')
@Controller('api/v1/usage')
export class UsageController {
  constructor(private readonly usage: UsageSummaryService) {}

  @Get('summary')
  @RequirePermission('read', USAGE)
  @ApiOperation({ summary: 'Requests, tokens and spend over your whole scope, optionally by day, model, salesperson or tenant' })
  @ApiOkResponse({ type: UsageSummary })
  @ApiProblems('validation')
  summary(@Query() query: UsageSummaryQuery): Promise<UsageSummary> {
    return this.usage.summary(query);
  }

  @Get('export.csv')
  @RequirePermission('read', USAGE)
  @Header('content-type', 'text/csv; charset=utf-8')
  @Header('content-disposition', 'attachment; filename="usage.csv"')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: `Your scope's requests (a customer: their own) as CSV, oldest first, filtered like the summary; at most ${USAGE_EXPORT_MAX_ROWS} rows (X-AIGW-Truncated: true when there were more)`,
  })
  @ApiProduces('text/csv')
  @ApiOkResponse({
    description: 'Columns: time, request_id, customer_id, key_id, key_name, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, charge, status, latency_ms',
    schema: { type: 'string' },
  })
  @ApiProblems('validation')
  async export(@Query() query: UsageExportQuery, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const { csv, truncated } = await this.usage.export(query);
    reply.header('x-aigw-truncated', String(truncated));
    return csv;
  }
}
