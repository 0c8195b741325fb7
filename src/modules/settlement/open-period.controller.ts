import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { ApiProblems } from '../../common/problem.schema';
import { OpenPeriodQuery, OpenPeriodView } from './dto/open-period.dto';
import { OpenPeriodService } from './open-period.service';
import { STATEMENT } from './settlement.permissions';

@ApiTags('statements')
@Controller('api/v1/statements/open')
export class OpenPeriodController {
  constructor(private readonly openPeriod: OpenPeriodService) {}

  @Get()
  @RequirePermission('read', STATEMENT)
  @ApiOperation({
    summary: 'The open period so far: what the next statement will contain if it closed now (owner and finance; platform staff: any tenant of their reach)',
  })
  @ApiOkResponse({ type: OpenPeriodView })
  @ApiProblems('validation', 'notFound')
  get(@Query() query: OpenPeriodQuery): Promise<OpenPeriodView> {
    return this.openPeriod.get(query);
  }
}
