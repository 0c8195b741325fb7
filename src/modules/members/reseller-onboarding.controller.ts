import { Body, Controller, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { ApiProblems } from '../../common/problem.schema';
import { TENANT } from '../tenants/tenants.permissions';
import { OnboardedReseller, OnboardResellerRequest } from './dto/member.dto';
import { MembersService } from './members.service';

@ApiTags('tenants')
@Controller('api/v1/tenants/onboard')
export class ResellerOnboardingController {
  constructor(private readonly members: MembersService) {}

  @Post()
  @RequirePermission('create', TENANT)
  @ApiOperation({
    summary: 'Create a reseller with its domain and first owner in one step (platform owner)',
    description:
      'The tenant, its domains and the owner\'s invitation (with its mail) are one transaction: a taken slug or domain (409), ' +
      'an owner the caller may not appoint (403: an operator appoints no owner) or mail that cannot be queued (503) leaves nothing behind.',
  })
  @ApiCreatedResponse({ type: OnboardedReseller })
  @ApiProblems('validation', 'conflict')
  onboard(@Body() body: OnboardResellerRequest): Promise<OnboardedReseller> {
    return this.members.onboardReseller(body);
  }
}
