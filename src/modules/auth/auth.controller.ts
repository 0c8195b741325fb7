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
import { AcceptInvitationRequest, Jwks, LoginRequest, LogoutRequest, MeResponse, PasswordResetConfirm, PasswordResetRequest, RefreshRequest, SessionKind, TokenPair } from './dto/auth.dto';
import { SessionCookie } from './session-cookie';
import { SigningKeys } from './signing-keys';

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
  @ApiUnauthorizedResponse({ type: ProblemSchema, description: 'invalid_credentials / account_disabled' })
  @ApiForbiddenResponse({ type: ProblemSchema, description: 'tenant_disabled / tenant_mismatch' })
  @ApiTooManyRequestsResponse({ type: ProblemSchema, description: 'login_locked, with Retry-After' })
  @COOKIE_REFUSED
  login(@Body() body: LoginRequest, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<TokenPair> {
    return this.signIn(body.session, request, reply, () => this.authService.login(body));
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

  @Post('invitations/accept')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Accept an invitation: set a password and sign in (session "cookie" as at login)' })
  @ApiOkResponse({ type: TokenPair })
  @ApiBadRequestResponse({ type: ProblemSchema, description: 'validation_failed / invalid_one_time_token / weak_password / cookie_session_needs_https' })
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
  @ApiProblems('validation')
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
  @Public()
  @ApiOkResponse({ type: Jwks })
  jwks(): Jwks {
    return this.keys.jwks();
  }
}
