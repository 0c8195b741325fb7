import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems } from '../../common/problem.schema';
import { CONTENT_LOGGING, REQUEST_CONTENT } from './content-logs.permissions';
import { ContentLogsService } from './content-logs.service';
import { ContentLoggingView, RequestContentView, UpdateContentLoggingRequest } from './dto/content-logs.dto';

@ApiTags('usage')
@Controller('api/v1')
export class ContentLogsController {
  constructor(private readonly contents: ContentLogsService) {}

  @Get('content-logging')
  @RequirePermission('read', CONTENT_LOGGING)
  @ApiOperation({ summary: "Whether this tenant stores its requests' prompts and completions, and for how long (owner)" })
  @ApiOkResponse({ type: ContentLoggingView })
  @ApiProblems()
  settings(): Promise<ContentLoggingView> {
    return this.contents.settings();
  }

  @Put('content-logging')
  @RequirePermission('update', CONTENT_LOGGING)
  @ApiOperation({ summary: 'Turns content logging on or off, with a retention in days (owner; off deletes what was stored at the next purge)' })
  @ApiOkResponse({ type: ContentLoggingView })
  @ApiProblems('validation')
  update(@Body() body: UpdateContentLoggingRequest): Promise<ContentLoggingView> {
    return this.contents.update(body);
  }

  @Get('usage/records/:id/content')
  @RequirePermission('read', REQUEST_CONTENT)
  @ApiOperation({ summary: "One request's stored prompt and completion (the tenant's owner and the customer themself)" })
  @ApiOkResponse({ type: RequestContentView })
  @ApiProblems('notFound')
  content(@Param('id', UuidParam('request')) id: string): Promise<RequestContentView> {
    return this.contents.content(id);
  }
}
