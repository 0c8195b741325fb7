import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems } from '../../common/problem.schema';
import { TENANT } from '../tenants/tenants.permissions';
import { InviteMemberRequest, MemberListQuery, MemberPage, MemberView, SetRolesRequest } from './dto/member.dto';
import { MEMBER, ROLE_ASSIGNMENT } from './members.permissions';
import { MembersService } from './members.service';

@ApiTags('members')
@Controller('api/v1/tenants/:tenantId/members')
export class MembersController {
  constructor(private readonly members: MembersService) {}

  @Get()
  @RequirePermission('read', MEMBER)
  @ApiOperation({ summary: "A tenant's members, with filters and pagination" })
  @ApiOkResponse({ type: MemberPage })
  @ApiProblems('validation', 'notFound')
  list(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Query() query: MemberListQuery): Promise<MemberPage> {
    return this.members.list(tenantId, query);
  }

  @Post()
  @RequirePermission('invite', MEMBER)
  @ApiOperation({ summary: 'Invite a member by e-mail with roles (re-inviting a pending member re-sends the mail)' })
  @ApiCreatedResponse({ type: MemberView })
  @ApiProblems('validation', 'notFound', 'conflict')
  invite(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Body() body: InviteMemberRequest): Promise<MemberView> {
    return this.members.invite(tenantId, body);
  }

  @Get(':userId')
  @ApiOperation({ summary: 'One member: e-mail, name, status and roles' })
  @RequirePermission('read', MEMBER)
  @ApiOkResponse({ type: MemberView })
  @ApiProblems('notFound')
  get(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Param('userId', UuidParam(MEMBER)) userId: string): Promise<MemberView> {
    return this.members.get(tenantId, userId);
  }

  @Put(':userId/roles')
  @RequirePermission('assign', ROLE_ASSIGNMENT)
  @ApiOperation({ summary: "Replace a member's roles (owners only; the last owner stays an owner)" })
  @ApiOkResponse({ type: MemberView })
  @ApiProblems('validation', 'notFound', 'conflict')
  setRoles(
    @Param('tenantId', UuidParam(TENANT)) tenantId: string,
    @Param('userId', UuidParam(MEMBER)) userId: string,
    @Body() body: SetRolesRequest,
  ): Promise<MemberView> {
    return this.members.setRoles(tenantId, userId, body);
  }

  @Post(':userId/disable')
  @HttpCode(200)
  @RequirePermission('disable', MEMBER)
  @ApiOperation({ summary: 'Disable a member: effective on their next request; their sessions end' })
  @ApiOkResponse({ type: MemberView })
  @ApiProblems('notFound', 'conflict')
  disable(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Param('userId', UuidParam(MEMBER)) userId: string): Promise<MemberView> {
    return this.members.setStatus(tenantId, userId, 'disabled');
  }

  @Post(':userId/enable')
  @ApiOperation({ summary: 'Enable a disabled member again' })
  @HttpCode(200)
  @RequirePermission('enable', MEMBER)
  @ApiOkResponse({ type: MemberView })
  @ApiProblems('notFound', 'conflict')
  enable(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Param('userId', UuidParam(MEMBER)) userId: string): Promise<MemberView> {
    return this.members.setStatus(tenantId, userId, 'active');
  }

  @Delete(':userId')
  @ApiOperation({ summary: 'Remove a member from the tenant (their sessions end at once)' })
  @HttpCode(204)
  @RequirePermission('delete', MEMBER)
  @ApiNoContentResponse()
  @ApiProblems('notFound', 'conflict')
  remove(@Param('tenantId', UuidParam(TENANT)) tenantId: string, @Param('userId', UuidParam(MEMBER)) userId: string): Promise<void> {
    return this.members.remove(tenantId, userId);
  }
}
