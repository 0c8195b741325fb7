import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiForbiddenResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { Authenticated } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import { AccountService } from './account.service';
import { ChangePasswordRequest, ChangePasswordResult, SessionList, UpdateProfileRequest } from './dto/account.dto';
import { MeUser } from './dto/auth.dto';

const OTHER_TENANT = ApiForbiddenResponse({ type: ProblemSchema, description: "tenant_mismatch: the token belongs to another tenant than this domain's" });

/** The signed-in user's own profile, password and sessions (every role, own account only). */
@ApiTags('auth')
@Controller('api/v1/me')
export class AccountController {
  constructor(private readonly account: AccountService) {}

  @Patch()
  @Authenticated()
  @OTHER_TENANT
  @ApiOperation({ summary: 'Change your own profile: display name and preferred console language' })
  @ApiOkResponse({ type: MeUser })
  @ApiProblems('validation')
  updateProfile(@Body() body: UpdateProfileRequest): Promise<MeUser> {
    return this.account.updateProfile(body);
  }

  @Post('password')
  @Authenticated()
  @OTHER_TENANT
  @HttpCode(200)
  @ApiOperation({ summary: 'Change your password (the current one required; a wrong one counts toward the sign-in lock); your other sessions end' })
  @ApiOkResponse({ type: ChangePasswordResult })
  @ApiBadRequestResponse({ type: ProblemSchema, description: 'validation_failed / wrong_password / weak_password' })
  @ApiTooManyRequestsResponse({ type: ProblemSchema, description: 'login_locked, with Retry-After' })
  changePassword(@Body() body: ChangePasswordRequest): Promise<ChangePasswordResult> {
    return this.account.changePassword(body);
  }

  @Get('sessions')
  @Authenticated()
  @OTHER_TENANT
  @ApiOperation({ summary: 'Your signed-in sessions (browsers and API clients), most recently active first' })
  @ApiOkResponse({ type: SessionList })
  sessions(): Promise<SessionList> {
    return this.account.sessionList();
  }

  @Delete('sessions/:sessionId')
  @Authenticated()
  @OTHER_TENANT
  @HttpCode(204)
  @ApiOperation({ summary: 'End one of your sessions at once (its access tokens stop working too)' })
  @ApiNoContentResponse()
  @ApiProblems('notFound')
  revokeSession(@Param('sessionId', UuidParam('session')) sessionId: string): Promise<void> {
    return this.account.revokeSession(sessionId);
  }
}
