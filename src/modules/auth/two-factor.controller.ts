import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiConflictResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { Authenticated } from '@app/authorization';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import { RecoveryCodes, SecondFactorProof, StartEnrolmentRequest, TwoFactorCode, TwoFactorEnrolment, TwoFactorStatus } from './dto/two-factor.dto';
import { TwoFactorService } from './two-factor.service';

const WRONG_CODE = ApiUnauthorizedResponse({ type: ProblemSchema, description: 'invalid_second_factor (wrong, expired or already used code; counts toward the sign-in lock)' });
const LOCKED = ApiTooManyRequestsResponse({ type: ProblemSchema, description: 'login_locked, with Retry-After' });

/** Your own two-factor sign-in (TOTP authenticator app, recovery codes). */
@ApiTags('auth')
@Controller('api/v1/me/two-factor')
export class TwoFactorController {
  constructor(private readonly twoFactor: TwoFactorService) {}

  @Get()
  @Authenticated()
  @ApiOperation({ summary: 'Whether two-factor sign-in is on, pending confirmation, or required of you' })
  @ApiOkResponse({ type: TwoFactorStatus })
  status(): Promise<TwoFactorStatus> {
    return this.twoFactor.status();
  }

  @Post('enrolment')
  @Authenticated()
  @HttpCode(200)
  @ApiOperation({ summary: 'Start setting up an authenticator app: a new secret and its QR code (pending until confirmed)' })
  @ApiOkResponse({ type: TwoFactorEnrolment })
  @ApiConflictResponse({ type: ProblemSchema, description: 'two_factor_already_enabled' })
  @ApiProblems('validation')
  enrol(@Body() _body: StartEnrolmentRequest): Promise<TwoFactorEnrolment> {
    return this.twoFactor.enrol();
  }

  @Post('confirm')
  @Authenticated()
  @HttpCode(200)
  @ApiOperation({ summary: 'Confirm the enrolment with a first code: two-factor is on; the recovery codes are shown this once' })
  @ApiOkResponse({ type: RecoveryCodes })
  @WRONG_CODE
  @LOCKED
  @ApiConflictResponse({ type: ProblemSchema, description: 'two_factor_already_enabled / two_factor_not_enabled (no enrolment started)' })
  @ApiProblems('validation')
  confirm(@Body() body: TwoFactorCode): Promise<RecoveryCodes> {
    return this.twoFactor.confirm(body);
  }

  @Post('recovery-codes')
  @Authenticated()
  @HttpCode(200)
  @ApiOperation({ summary: 'New recovery codes with a current code (the old ones stop working)' })
  @ApiOkResponse({ type: RecoveryCodes })
  @WRONG_CODE
  @LOCKED
  @ApiConflictResponse({ type: ProblemSchema, description: 'two_factor_not_enabled' })
  @ApiProblems('validation')
  recoveryCodes(@Body() body: TwoFactorCode): Promise<RecoveryCodes> {
    return this.twoFactor.regenerateRecoveryCodes(body);
  }

  @Post('disable')
  @Authenticated()
  @HttpCode(204)
  @ApiOperation({ summary: 'Turn two-factor sign-in off with a code or a recovery code' })
  @ApiNoContentResponse()
  @WRONG_CODE
  @LOCKED
  @ApiConflictResponse({ type: ProblemSchema, description: 'two_factor_not_enabled / two_factor_required_by_tenant (staff of a tenant that requires it)' })
  @ApiProblems('validation')
  disable(@Body() body: SecondFactorProof): Promise<void> {
    return this.twoFactor.disable(body);
  }
}
