import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { ApiProblems } from '../../common/problem.schema';
import { AuditQueryService } from './audit-query.service';
import { AUDIT_LOG } from './audit.permissions';
import { AuditPage, AuditQuery } from './dto/audit.dto';

@ApiTags('audit')
@Controller('api/v1/audit-log')
export class AuditController {
  constructor(private readonly audit: AuditQueryService) {}

  @Get()
  @RequirePermission('read', AUDIT_LOG)
  @ApiOperation({ summary: 'Audit log entries you may read, newest first' })
  @ApiOkResponse({ type: AuditPage })
  @ApiProblems('validation')
  list(@Query() query: AuditQuery): Promise<AuditPage> {
    return this.audit.list(query);
  }
}
