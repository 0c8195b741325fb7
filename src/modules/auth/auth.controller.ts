import { Body, Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiForbiddenResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Authenticated, Public, RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { ApiProblems, ProblemSchema } from '../../common/problem.schema';
import { AuthErrorCode } from './auth.exceptions';
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
  SessionKind,
  TokenPair,
  WeakPasswordProblem,
} from './dto/auth.dto';
import { SecondFactorLogin } from './dto/two-factor.dto';
import { SessionCookie } from './session-cookie';
import { SigningKeys } from './signing-keys';

/** 400 of a route that sets a password: invalid fields, an invalid link, or a weak password (every broken rule). */
const ApiNewPasswordProblems = (more = '') =>
  ApiBadRequestResponse({
    type: WeakPasswordProblem,
    description: `\`validation_failed\`; \`invalid_one_time_token\` (the link is invalid, used or expired); \`weak_password\` with every broken rule in \`rules\`${more}`,
  });

const COOKIE_REFUSED = ApiBadRequestResponse({ type: ProblemSchema, description: 'validation_failed / cookie_session_needs_https (session "cookie" over plain http at a host other than *.localhost)' });

@ApiTags('auth')
@Controller('api/v1/auth')
export class AuthController {
  constructor(
    private readonly authService: AuthService,
    private readonly keys: SigningKeys,
    private readonly auth: RequestAuth,
    private readonly cookie: SessionCookie,
  ) {}

  @Post('login')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: "Sign in at the tenant's domain (or name its slug); session \"cookie\" puts the refresh token in the browser cookie" })
  @ApiOkResponse({ type: TokenPair, description: 'With session "cookie": Set-Cookie __Host-aigw_refresh, and no refreshToken in the body' })
  @ApiUnauthorizedResponse({ type: ProblemSchema, description: 'invalid_credentials / account_disabled / second_factor_required (two-factor is on: the problem carries `challenge`; finish at login/second-factor)' })
  @ApiForbiddenResponse({ type: ProblemSchema, description: 'tenant_disabled / tenant_mismatch' })
  @ApiTooManyRequestsResponse({ type: ProblemSchema, description: 'login_locked, with Retry-After' })
  @COOKIE_REFUSED
  login(@Body() body: LoginRequest, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<TokenPair> {
    return this.signIn(body.session, request, reply, () => this.authService.login(body));
  }

  @Post('login/second-factor')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Second step of a sign-in with two-factor on: the challenge from the login answer (401 second_factor_required) and a code or recovery code' })
  @ApiOkResponse({ type: TokenPair })
  @ApiUnauthorizedResponse({ type: ProblemSchema, description: 'invalid_second_factor (counts toward the sign-in lock) / account_disabled' })
  @ApiBadRequestResponse({ type: ProblemSchema, description: 'validation_failed / invalid_one_time_token (the challenge expired or was used: sign in again)' })
  @ApiTooManyRequestsResponse({ type: ProblemSchema, description: 'login_locked, with Retry-After' })
  @ApiForbiddenResponse({ type: ProblemSchema, description: 'tenant_disabled / tenant_mismatch' })
  loginSecondFactor(@Body() body: SecondFactorLogin, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<TokenPair> {
    return this.signIn(body.session, request, reply, () => this.authService.loginSecondFactor(body));
  }

  @Post('refresh')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Exchange a refresh token (body, or the browser session cookie) for new tokens; the old refresh token is spent' })
  @ApiHeader({ name: 'X-AIGW-CSRF', required: false, description: 'Must be `1` when the refresh token comes from the session cookie' })
  @ApiOkResponse({ type: TokenPair, description: 'From the cookie: the new refresh token is set in the cookie, not the body' })
  @ApiUnauthorizedResponse({ type: ProblemSchema, description: 'invalid_refresh_token / refresh_token_reused (a cookie is cleared)' })
  @ApiForbiddenResponse({ type: ProblemSchema, description: 'csrf_check_failed (cookie refresh without X-AIGW-CSRF: 1, or cross-site) / tenant_mismatch / account_disabled' })
  @ApiProblems('validation')
  async refresh(@Body() body: RefreshRequest, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<TokenPair> {
    if (body.refreshToken !== undefined) return this.authService.refresh(body.refreshToken);
    const fromCookie = this.cookie.read(request);
    if (!fromCookie) {
      throw AppException.validation([{ field: 'refreshToken', messages: ['refreshToken is required (or the browser session cookie)'] }]);
    }
    this.cookie.assertSameOrigin(request);
    try {
      const pair = await this.authService.refresh(fromCookie);
      this.cookie.set(reply, pair.refreshToken!);
      return withoutRefreshToken(pair);
    } catch (error) {
      if (error instanceof AppException && DEAD_SESSION.has(error.code)) this.cookie.clear(reply);
      throw error;
    }
  }

  @Post('logout')
  @Authenticated()
  @HttpCode(204)
  @ApiOperation({ summary: 'End this session now: its access and refresh tokens stop working at once; clears the browser session cookie' })
  @ApiNoContentResponse()
  @ApiProblems('validation')
  async logout(@Body() body: LogoutRequest, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    await this.authService.logout(this.auth.principal, body.refreshToken ?? this.cookie.read(request));
    this.cookie.clear(reply);
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
  @ApiOperation({ summary: 'Accept an invitation: set a password and sign in (session "cookie" as at login)' })
  @ApiOkResponse({ type: TokenPair })
  @ApiNewPasswordProblems()
  @ApiForbiddenResponse({ type: ProblemSchema, description: 'tenant_disabled / tenant_mismatch' })
  acceptInvitation(
    @Body() body: AcceptInvitationRequest,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenPair> {
    return this.signIn(body.session, request, reply, () => this.authService.acceptInvitation(body));
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

  /** Signs in; a cookie session is refused before anything happens where the cookie could not be Secure. */
  private async signIn(session: SessionKind | undefined, request: FastifyRequest, reply: FastifyReply, start: () => Promise<TokenPair>): Promise<TokenPair> {
    if (session !== 'cookie') return start();
    this.cookie.assertAllowed(request);
    const pair = await start();
    this.cookie.set(reply, pair.refreshToken!);
    return withoutRefreshToken(pair);
  }
}

/** Failures after which the cookie's session is gone for good: the cookie is cleared with them. */
const DEAD_SESSION = new Set<string>([AuthErrorCode.InvalidRefreshToken, AuthErrorCode.RefreshTokenReused, AuthErrorCode.AccountDisabled, AuthErrorCode.TenantDisabled]);

function withoutRefreshToken(pair: TokenPair): TokenPair {
  const { refreshToken: _inCookie, ...rest } = pair;
  return rest;
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
