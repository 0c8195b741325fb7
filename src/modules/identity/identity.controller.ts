import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import { Authenticated, Public, RequirePermission } from '@app/authorization';
import { UuidParam } from '../../common/params';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import {
  DeleteAccountRequest,
  ErasureResult,
  IdentitySettingsView,
  PersonalDataExport,
  RegisterRequest,
  RegisterResult,
  UpdateIdentitySettingsRequest,
  VerifyEmailRequest,
  VerifyEmailResult,
} from './dto/identity.dto';
import { IdentitySettingsService } from './identity-settings.service';
import { IDENTITY_SETTINGS, PERSONAL_DATA } from './identity.permissions';
import { PersonalDataService } from './personal-data.service';
import { SignUpService } from './sign-up.service';

@ApiTags('auth')
@Controller('api/v1/auth')
export class SignUpController {
  constructor(private readonly signUp: SignUpService) {}

  @Post('register')
  @Public()
  @HttpCode(202)
  @ApiOperation({ summary: "Sign up as a customer of the domain's tenant (when its owner opened sign-up): a verification link is mailed; the same answer whether or not the address has an account" })
  @ApiAcceptedResponse({ type: RegisterResult })
  @ApiBadRequestResponse({ type: ProblemSchema, description: 'validation_failed / weak_password / sign_up_domain_not_allowed' })
  @ApiForbiddenResponse({ type: ProblemSchema, description: 'sign_up_closed' })
  @ApiTooManyRequestsResponse({ type: ProblemSchema, description: 'sign_up_rate_limited (per IP and per address), with Retry-After' })
  register(@Body() body: RegisterRequest): Promise<RegisterResult> {
    return this.signUp.register(body);
  }

  @Post('verify-email')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Verify the address with the token of the mailed link: the account is active (and the sign-up bonus credited, once)' })
  @ApiOkResponse({ type: VerifyEmailResult })
  @ApiBadRequestResponse({ type: ProblemSchema, description: 'validation_failed / invalid_one_time_token' })
  @ApiForbiddenResponse({ type: ProblemSchema, description: 'tenant_mismatch / tenant_disabled' })
  verify(@Body() body: VerifyEmailRequest): Promise<VerifyEmailResult> {
    return this.signUp.verify(body);
  }
}

@ApiTags('auth')
@Controller('api/v1/identity-settings')
export class IdentitySettingsController {
  constructor(private readonly settings: IdentitySettingsService) {}

  @Get()
  @RequirePermission('read', IDENTITY_SETTINGS)
  @ApiOperation({ summary: "Your tenant's sign-up and two-factor settings (owner)" })
  @ApiOkResponse({ type: IdentitySettingsView })
  @ApiForbiddenResponse({ type: ProblemSchema, description: 'owner only' })
  get(): Promise<IdentitySettingsView> {
    return this.settings.get();
  }

  @Put()
  @RequirePermission('update', IDENTITY_SETTINGS)
  @ApiOperation({ summary: 'Change them (absent fields stay): open sign-up, limit it to e-mail domains, set the bonus, require two-factor of staff' })
  @ApiOkResponse({ type: IdentitySettingsView })
  @ApiProblems('validation')
  @ApiForbiddenResponse({ type: ProblemSchema, description: 'owner only' })
  update(@Body() body: UpdateIdentitySettingsRequest): Promise<IdentitySettingsView> {
    return this.settings.update(body);
  }
}

@ApiTags('auth')
@Controller('api/v1')
export class PersonalDataController {
  constructor(private readonly personalData: PersonalDataService) {}

  @Get('me/export')
  @Authenticated()
  @ApiOperation({ summary: 'Everything kept about you, as JSON: profile, API keys (never their secrets), usage, wallet movements, sign-ins' })
  @ApiOkResponse({ type: PersonalDataExport })
  exportMine(): Promise<PersonalDataExport> {
    return this.personalData.exportMine();
  }

  @Post('me/deletion')
  @Authenticated()
  @HttpCode(200)
  @ApiOperation({ summary: 'Delete your customer account: personal fields are erased, sessions and keys end; bills and the ledger stay (pseudonymous)' })
  @ApiOkResponse({ type: ErasureResult })
  @ApiBadRequestResponse({ type: ProblemSchema, description: 'validation_failed / wrong_password (counts toward the sign-in lock)' })
  @ApiConflictResponse({ type: ProblemSchema, description: 'staff_account_deletion (staff are removed by the owner)' })
  @ApiTooManyRequestsResponse({ type: ProblemSchema, description: 'login_locked' })
  deleteMine(@Body() body: DeleteAccountRequest): Promise<ErasureResult> {
    return this.personalData.deleteMine(body);
  }

  @Delete('customers/:customerId/personal-data')
  @RequirePermission('delete', PERSONAL_DATA)
  @ApiOperation({ summary: "Erase a customer's personal data on their request (owner): as a deletion by the person" })
  @ApiOkResponse({ type: ErasureResult })
  @ApiConflictResponse({ type: ProblemSchema, description: 'staff_account_deletion / account_deleted' })
  @ApiProblems('notFound')
  @ApiForbiddenResponse({ type: ProblemSchema, description: 'owner only' })
  erase(@Param('customerId', UuidParam('customer')) customerId: string): Promise<ErasureResult> {
    return this.personalData.eraseCustomer(customerId);
  }
}
