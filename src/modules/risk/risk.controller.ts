import { Body, Controller, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems } from '../../common/problem.schema';
import { TENANT } from '../tenants/tenants.permissions';
import { ResolveRiskFlagRequest, RiskFlagPage, RiskFlagQuery, RiskFlagView, RiskRulesView, SetRiskRulesRequest } from './dto/risk.dto';
import { RISK } from './risk.permissions';
import { RiskService } from './risk.service';

@ApiTags('risk')
@Controller('api/v1/tenants/:tenantId/risk')
export class RiskController {
  constructor(private readonly risk: RiskService) {}

  @Get('rules')
  @RequirePermission('read', RISK)
  @ApiOperation({ summary: "A tenant's risk rules (its owner; the platform's owner and operator read any tenant's)" })
  @ApiOkResponse({ type: RiskRulesView })
  @ApiProblems('notFound')
  rules(@Param('tenantId', UuidParam(TENANT)) tenantId: string): Promise<RiskRulesView> {
    return this.risk.rules(tenantId);
  }

  @Put('rules')
  @RequirePermission('update', RISK)
  @ApiOperation({ summary: 'Set risk rules (the tenant\'s owner): on or off, threshold, and the action (flag, or suspend the key / the customer\'s keys)' })
  @ApiOkResponse({ type: RiskRulesView })
  @ApiProblems('validation', 'notFound')
  setRules(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Body() body: SetRiskRulesRequest): Promise<RiskRulesView> {
    return this.risk.setRules(tenantId, body);
  }

  @Get('flags')
  @RequirePermission('read', RISK)
  @ApiOperation({ summary: 'Risk flags raised by the rules, newest first' })
  @ApiOkResponse({ type: RiskFlagPage })
  @ApiProblems('validation', 'notFound')
  flags(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Query() query: RiskFlagQuery): Promise<RiskFlagPage> {
    return this.risk.flags(tenantId, query);
  }

  @Post('flags/:flagId/resolve')
  @HttpCode(200)
  @RequirePermission('update', RISK)
  @ApiOperation({ summary: 'Resolve a flag after review (the tenant\'s owner), optionally reactivating the keys it suspended' })
  @ApiOkResponse({ type: RiskFlagView })
  @ApiProblems('validation', 'notFound', 'conflict')
  resolve(
    @Param('tenantId', UuidParam(TENANT)) tenantId: string,
    @Param('flagId', UuidParam('risk flag')) flagId: string,
    @Body() body: ResolveRiskFlagRequest,
  ): Promise<RiskFlagView> {
    return this.risk.resolve(tenantId, flagId, body);
  }
}
