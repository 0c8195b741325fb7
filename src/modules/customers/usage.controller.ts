import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { ApiProblems } from '../../common/problem.schema';
import { UsageRecordList, UsageRecordsQuery, UsageSummary, UsageSummaryQuery } from './dto/customer.dto';
import { USAGE } from './customers.permissions';
import { UsageSummaryService } from './usage-summary.service';

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

  @Get('records')
  @RequirePermission('read', USAGE)
  @ApiOperation({ summary: 'The usage records of one request, by the x-request-id its answer carried, within your usage scope' })
  @ApiOkResponse({ type: UsageRecordList })
  @ApiProblems('validation')
  records(@Query() query: UsageRecordsQuery): Promise<UsageRecordList> {
    return this.usage.records(query);
  }
}
