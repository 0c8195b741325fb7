import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { Authenticated, Public, RequestAuth } from '@app/authorization';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import { AuthService } from './auth.service';
import { PASSWORD_POLICY, PASSWORD_RULES } from '../users/password-policy';
import {
  AcceptInvitationRequest,
  Jwks,
  LoginRequest,
  LogoutRequest,
  MeResponse,
  PasswordPolicyView,
  PasswordResetConfirm,
  PasswordResetRequest,
  RefreshRequest,
  TokenPair,
  WeakPasswordProblem,
} from './dto/auth.dto';

/** 400 of a route that sets a password: invalid fields, an invalid link, or a weak password (every broken rule). */
const ApiNewPasswordProblems = () =>
  ApiBadRequestResponse({
    type: WeakPasswordProblem,
    description: '`validation_failed`; `invalid_one_time_token` (the link is invalid, used or expired); `weak_password` with every broken rule in `rules`',
  });
import { SigningKeys } from './signing-keys';

@ApiTags('auth')
@Controller('api/v1/auth')
export class AuthController {
  constructor(
    private readonly authService: AuthService,
    private readonly keys: SigningKeys,
    private readonly auth: RequestAuth,
  ) {}

  @Post('login')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: "Sign in at the tenant's domain (or name its slug)" })
  @ApiOkResponse({ type: TokenPair })
  @ApiUnauthorizedResponse({ type: ProblemSchema, description: 'invalid_credentials / account_disabled' })
  @ApiTooManyRequestsResponse({ type: ProblemSchema, description: 'login_locked, with Retry-After' })
  @ApiProblems('validation')
  login(@Body() body: LoginRequest): Promise<TokenPair> {
    return this.authService.login(body);
  }

  @Post('refresh')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Exchange a refresh token for new tokens (the old refresh token is spent)' })
  @ApiOkResponse({ type: TokenPair })
  @ApiUnauthorizedResponse({ type: ProblemSchema, description: 'invalid_refresh_token / refresh_token_reused' })
  @ApiProblems('validation')
  refresh(@Body() body: RefreshRequest): Promise<TokenPair> {
    return this.authService.refresh(body.refreshToken);
  }

  @Post('logout')
  @Authenticated()
  @HttpCode(204)
  @ApiOperation({ summary: 'End this session now: its access and refresh tokens stop working at once' })
  @ApiNoContentResponse()
  @ApiProblems('validation')
  logout(@Body() body: LogoutRequest): Promise<void> {
    return this.authService.logout(this.auth.principal, body.refreshToken);
  }

  @Get('jwks')
  @Public()
  @ApiOperation({ summary: 'Public keys that verify access tokens' })
  @ApiOkResponse({ type: Jwks })
  jwks(): Jwks {
    return this.keys.jwks();
  }

  @Get('password-policy')
  @Public()
  @ApiOperation({ summary: 'The password rules, as data: what a new password must satisfy, so a client can show them before anyone types' })
  @ApiOkResponse({ type: PasswordPolicyView })
  passwordPolicy(): PasswordPolicyView {
    return { ...PASSWORD_POLICY, characterClasses: [...PASSWORD_POLICY.characterClasses], commonWords: [...PASSWORD_POLICY.commonWords], rules: [...PASSWORD_RULES] };
  }

  @Post('invitations/accept')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Accept an invitation: set a password and sign in' })
  @ApiOkResponse({ type: TokenPair })
  @ApiNewPasswordProblems()
  acceptInvitation(@Body() body: AcceptInvitationRequest): Promise<TokenPair> {
    return this.authService.acceptInvitation(body);
  }

  @Post('password-reset')
  @Public()
  @HttpCode(202)
  @ApiOperation({ summary: 'Mail a password-reset link (answers 202 whether or not the account exists)' })
  @ApiAcceptedResponse()
  @ApiProblems('validation')
  requestPasswordReset(@Body() body: PasswordResetRequest): Promise<void> {
    return this.authService.requestPasswordReset(body);
  }

  @Post('password-reset/confirm')
  @Public()
  @HttpCode(204)
  @ApiOperation({ summary: 'Set a new password with the token from the reset mail; ends every session' })
  @ApiNoContentResponse()
  @ApiNewPasswordProblems()
  confirmPasswordReset(@Body() body: PasswordResetConfirm): Promise<void> {
    return this.authService.confirmPasswordReset(body);
  }
}

@ApiTags('auth')
@Controller('api/v1/me')
export class MeController {
  constructor(private readonly authService: AuthService) {}

  @Get()
  @Authenticated()
  @ApiOperation({ summary: 'Who you are, your tenant, roles and what you may do (CASL rules, packed)' })
  @ApiOkResponse({ type: MeResponse })
  me(): Promise<MeResponse> {
    return this.authService.me();
  }
}

@ApiTags('auth')
@Controller('.well-known')
export class WellKnownController {
  constructor(private readonly keys: SigningKeys) {}

  @Get('jwks.json')
  @ApiOperation({ summary: 'Public keys that verify access tokens (the well-known location, same as /api/v1/auth/jwks)' })
  @Public()
  @ApiOkResponse({ type: Jwks })
  jwks(): Jwks {
    return this.keys.jwks();
  }
}
