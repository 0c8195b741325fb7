import { Body, Controller, Delete, Get, HttpCode, Put, Query, Req, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiForbiddenResponse, ApiFoundResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { serialize } from 'cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public, RequirePermission } from '@app/authorization';
import { AppException, CommonErrorCode } from '@app/errors';
import { TenantContext, UNKNOWN_HOST_DETAIL } from '@app/tenancy';
import { ApiProblems, ProblemSchema } from '../../../common/problem.schema';
import { SessionCookie } from '../../auth/session-cookie';
import { OidcSettingsView, UpdateOidcSettingsRequest } from '../dto/oidc.dto';
import { IDENTITY_SETTINGS } from '../identity.permissions';
import { OIDC_CALLBACK_PATH, OidcSettingsService } from './oidc-settings.service';
import { OIDC_FLOW_COOKIE, OidcSignInError, OidcSignInService } from './oidc-sign-in.service';

const SIGN_IN_PAGE = '/console/sign-in';
const HOME = '/console/';

/** The redirect URI of this request's origin (the owner registers it at the provider). */
function redirectUriOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}${OIDC_CALLBACK_PATH}`;
}

/** Where to land after signing in: a console path of this origin, nothing else. */
function safeNext(next: unknown): string {
  if (typeof next !== 'string' || next.length > 500 || !/^\/console(\/[\w\-./?=&%~+,]*)?$/.test(next) || next.includes('//')) return HOME;
  return next;
}

@ApiTags('auth')
@Controller('api/v1/identity-settings/oidc')
export class OidcSettingsController {
  constructor(private readonly settings: OidcSettingsService) {}

  @Get()
  @RequirePermission('read', IDENTITY_SETTINGS)
  @ApiOperation({ summary: "Your tenant's OpenID Connect provider (owner); the client secret is never returned, only whether one is set" })
  @ApiOkResponse({ type: OidcSettingsView })
  @ApiForbiddenResponse({ type: ProblemSchema, description: 'owner only' })
  get(@Req() request: FastifyRequest): Promise<OidcSettingsView> {
    return this.settings.get(redirectUriOf(request));
  }

  @Put()
  @RequirePermission('update', IDENTITY_SETTINGS)
  @ApiOperation({ summary: 'Configure it: issuer, client, whether accounts are created on first sign-in, allowed domains. Turning it on reads the discovery document first' })
  @ApiOkResponse({ type: OidcSettingsView })
  @ApiBadRequestResponse({ type: ProblemSchema, description: 'validation_failed / oidc_provider_unusable (discovery failed, or it names another issuer)' })
  @ApiForbiddenResponse({ type: ProblemSchema, description: 'owner only' })
  update(@Body() body: UpdateOidcSettingsRequest, @Req() request: FastifyRequest): Promise<OidcSettingsView> {
    return this.settings.update(body, redirectUriOf(request));
  }

  @Delete()
  @HttpCode(204)
  @RequirePermission('update', IDENTITY_SETTINGS)
  @ApiOperation({ summary: 'Remove the provider (and its sealed secret); sign-in with it ends' })
  @ApiNoContentResponse()
  @ApiProblems('validation')
  @ApiForbiddenResponse({ type: ProblemSchema, description: 'owner only' })
  remove(): Promise<void> {
    return this.settings.remove();
  }
}

/**
 * The browser's side of OIDC sign-in: both routes answer with redirects (never JSON), to the
 * provider, to the console, or to the sign-in page with `?oidc_error=<code>`.
 */
@ApiTags('auth')
@Controller('api/v1/auth/oidc')
export class OidcSignInController {
  constructor(
    private readonly signIn: OidcSignInService,
    private readonly tenantContext: TenantContext,
    private readonly cookie: SessionCookie,
  ) {}

  @Get('start')
  @Public()
  @ApiOperation({ summary: "Start signing in with the tenant's identity provider: 302 to the provider (state, nonce and PKCE kept here), or to the sign-in page with ?oidc_error=" })
  @ApiQuery({ name: 'next', required: false, description: 'A console path to land on afterwards (/console/...)' })
  @ApiFoundResponse({ description: 'Location: the provider, or /console/sign-in?oidc_error=oidc_not_enabled|oidc_rate_limited|oidc_unavailable|oidc_provider_unavailable|cookie_session_needs_https|tenant_disabled' })
  @ApiBadRequestResponse({ type: ProblemSchema, description: '`next` given more than once, or longer than 500 characters' })
  async start(@Query('next') next: string | string[] | undefined, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    // Malformed input is refused; a well-formed path that is not the console's lands on the console.
    if (Array.isArray(next) || (next !== undefined && next.length > 500)) {
      throw AppException.validation([{ field: 'next', messages: ['next must be one console path of at most 500 characters'] }]);
    }
    const tenant = this.hostTenant();
    try {
      this.cookie.assertAllowed(request);
    } catch {
      return this.fail(reply, 'cookie_session_needs_https');
    }
    try {
      const { url, browserSecret } = await this.signIn.start(tenant, redirectUriOf(request), safeNext(next));
      reply.header('set-cookie', this.flowCookie(browserSecret));
      reply.header('cache-control', 'no-store');
      return void reply.redirect(url, 302);
    } catch (error) {
      if (!(error instanceof OidcSignInError)) throw error;
      this.signIn.logFailure(tenant.id, error);
      return this.fail(reply, error.code);
    }
  }

  @Get('callback')
  @Public()
  @ApiOperation({ summary: "The provider's answer: signs in (Set-Cookie of the console session) and 302 to the console, or to the sign-in page with ?oidc_error=" })
  @ApiFoundResponse({
    description:
      'Location: /console/... signed in; /console/sign-in#oidc_challenge=... when two-factor is on; or /console/sign-in?oidc_error=oidc_sign_in_failed|oidc_unavailable|oidc_denied|oidc_email_not_verified|oidc_domain_not_allowed|oidc_no_account|account_disabled|tenant_mismatch',
  })
  async callback(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const tenant = this.hostTenant();
    const browserSecret = this.readFlowCookie(request);
    // The flow cookie is spent whatever happens.
    reply.header('set-cookie', serialize(OIDC_FLOW_COOKIE, '', { httpOnly: true, secure: true, sameSite: 'lax', path: '/', maxAge: 0 }));
    reply.header('cache-control', 'no-store');
    try {
      const outcome = await this.signIn.callback(tenant, request.raw, browserSecret);
      if (outcome.kind === 'second_factor') {
        const query = outcome.next === HOME ? '' : `?next=${encodeURIComponent(outcome.next.replace(/^\/console/, ''))}`;
        return void reply.redirect(`${SIGN_IN_PAGE}${query}#oidc_challenge=${encodeURIComponent(outcome.challenge)}`, 302);
      }
      this.cookie.set(reply, outcome.refreshToken);
      return void reply.redirect(outcome.next, 302);
    } catch (error) {
      if (!(error instanceof OidcSignInError)) throw error;
      this.signIn.logFailure(tenant.id, error);
      return this.fail(reply, error.code);
    }
  }

  private fail(reply: FastifyReply, code: string): void {
    reply.header('cache-control', 'no-store');
    return void reply.redirect(`${SIGN_IN_PAGE}?oidc_error=${encodeURIComponent(code)}`, 302);
  }

  private flowCookie(value: string): string {
    // Lax, not Strict: the provider's redirect back is a cross-site top-level navigation.
    return serialize(OIDC_FLOW_COOKIE, value, { httpOnly: true, secure: true, sameSite: 'lax', path: '/', maxAge: 15 * 60 });
  }

  private readFlowCookie(request: FastifyRequest): string | undefined {
    const header = request.headers.cookie;
    if (!header) return undefined;
    const match = header.split(/;\s*/).find((part) => part.startsWith(`${OIDC_FLOW_COOKIE}=`));
    return match ? decodeURIComponent(match.slice(OIDC_FLOW_COOKIE.length + 1)) || undefined : undefined;
  }

  private hostTenant() {
    const host = this.tenantContext.hostTenant;
    if (!host) throw AppException.common(CommonErrorCode.UnknownTenant, 404, UNKNOWN_HOST_DETAIL);
    return host;
  }
}
