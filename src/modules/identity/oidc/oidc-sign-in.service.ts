import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { generators, TokenSet, UserinfoResponse } from 'openid-client';
import { AppConfig, APP_CONFIG } from '@app/config';
import { REDIS } from '@app/redis';
import { ResolvedTenant, TenantDb } from '@app/tenancy';
import Redis from 'ioredis';
import { ClsService } from 'nestjs-cls';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { QueryFailedError } from 'typeorm';
import { AuditService } from '../../audit/audit.service';
import { AuthService } from '../../auth/auth.service';
import { OneTimeTokens } from '../../auth/one-time-tokens';
import { User } from '../../users/user.entity';
import { UsersRepository } from '../../users/users.repository';
import { IdentityRepository } from '../identity.repository';
import { OidcClients } from './oidc-clients';
import { OidcRepository } from './oidc.repository';

/** The browser cookie that ties a started sign-in to the browser that started it (no login CSRF). */
export const OIDC_FLOW_COOKIE = '__Host-aigw_oidc';
const SECOND_FACTOR_TTL_SECONDS = 300;
const FLOW_KEY = (state: string) => `auth:oidc:flow:${createHash('sha256').update(state).digest('base64url')}`;

/** Why a sign-in through the provider did not happen: the console's sign-in page explains each. */
export type OidcFailure =
  | 'oidc_not_enabled'
  | 'oidc_rate_limited'
  | 'oidc_unavailable'
  | 'oidc_provider_unavailable'
  | 'oidc_sign_in_failed'
  | 'oidc_denied'
  | 'oidc_email_not_verified'
  | 'oidc_domain_not_allowed'
  | 'oidc_no_account'
  | 'account_disabled'
  | 'tenant_disabled'
  | 'tenant_mismatch';

export class OidcSignInError extends Error {
  constructor(
    readonly code: OidcFailure,
    detail: string,
  ) {
    super(detail);
  }
}

interface Flow {
  tenantId: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  /** The configuration the flow was started with: a change in between voids it. */
  configAt: string;
  browserHash: string;
  next: string;
}

export type OidcOutcome =
  | { kind: 'signed_in'; refreshToken: string; next: string }
  | { kind: 'second_factor'; challenge: string; next: string };

/**
 * OpenID Connect sign-in at the Host's tenant with the tenant's own provider: authorization code
 * with PKCE (S256), state and nonce. The flow (state, nonce, verifier, redirect URI) is kept in
 * Redis for OIDC_FLOW_TTL_SECONDS and taken out atomically by the callback (GETDEL), so a state
 * works once; it is also bound to the browser by a cookie. openid-client checks the `iss` of the
 * authorization response, the ID token's signature, issuer, audience, expiry and nonce.
 *
 * The person is matched by e-mail within this tenant only, and only when the provider says the
 * address is verified; with no account and `createAccounts` on, a customer is created (active,
 * address verified, no password, no sign-up bonus). Then the session is the password sign-in's:
 * with two-factor on, the callback hands a second-factor challenge to the console instead; staff
 * of a tenant that requires two-factor without it set up get the same enrol-only session as after
 * a password.
 */
@Injectable()
export class OidcSignInService implements OnModuleInit {
  private readonly logger = new Logger('OidcSignIn');
  private perIp!: RateLimiterRedis;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly tenantDb: TenantDb,
    private readonly repository: OidcRepository,
    private readonly clients: OidcClients,
    private readonly users: UsersRepository,
    private readonly identity: IdentityRepository,
    private readonly oneTimeTokens: OneTimeTokens,
    private readonly authService: AuthService,
    private readonly audit: AuditService,
    private readonly cls: ClsService,
  ) {}

  onModuleInit(): void {
    this.perIp = new RateLimiterRedis({ storeClient: this.redis, keyPrefix: 'auth:oidc-start:ip', points: this.config.OIDC_START_MAX_PER_IP_MINUTE, duration: 60 });
  }

  /** The provider's authorization URL for a new flow, and the browser-binding cookie's value. */
  async start(tenant: ResolvedTenant, redirectUri: string, next: string): Promise<{ url: string; browserSecret: string }> {
    if (tenant.status !== 'active') throw new OidcSignInError('tenant_disabled', 'the tenant is disabled');
    const settings = await this.tenantDb.run({ tenantId: tenant.id }, (m) => this.repository.find(m, tenant.id));
    if (!settings?.enabled) throw new OidcSignInError('oidc_not_enabled', 'OIDC sign-in is not enabled here');
    const client = await this.clients.client(tenant.id, settings, redirectUri).catch((error: unknown) => {
      throw new OidcSignInError('oidc_provider_unavailable', `discovery failed: ${(error as Error).message}`);
    });
    await this.limit();
    const browserSecret = randomBytes(32).toString('base64url');
    const flow: Flow = {
      tenantId: tenant.id,
      state: generators.state(),
      nonce: generators.nonce(),
      codeVerifier: generators.codeVerifier(),
      redirectUri,
      configAt: new Date(settings.updatedAt).toISOString(),
      browserHash: sha256(browserSecret),
      next,
    };
    await this.redis.set(FLOW_KEY(flow.state), JSON.stringify(flow), 'EX', this.config.OIDC_FLOW_TTL_SECONDS).catch((error: Error) => {
      throw new OidcSignInError('oidc_unavailable', `the flow could not be kept: ${error.message}`);
    });
    const url = client.authorizationUrl({
      scope: 'openid email profile',
      response_type: 'code',
      state: flow.state,
      nonce: flow.nonce,
      code_challenge: generators.codeChallenge(flow.codeVerifier),
      code_challenge_method: 'S256',
    });
    return { url, browserSecret };
  }

  /** The provider's answer at the callback: signs in, or says why not. */
  async callback(tenant: ResolvedTenant, request: IncomingMessage, browserSecret: string | undefined): Promise<OidcOutcome> {
    const params = new URL(request.url ?? '/', 'http://callback.invalid').searchParams;
    const state = params.get('state');
    if (!state || state.length > 512) throw new OidcSignInError('oidc_sign_in_failed', 'no state in the answer');
    // Taken out at once: a state (and so its code) is good for one callback, even two at once.
    const raw = await this.redis.getdel(FLOW_KEY(state)).catch((error: Error) => {
      throw new OidcSignInError('oidc_unavailable', `the flow could not be read: ${error.message}`);
    });
    if (!raw) throw new OidcSignInError('oidc_sign_in_failed', 'unknown, expired or used state');
    const flow = JSON.parse(raw) as Flow;
    if (flow.tenantId !== tenant.id) throw new OidcSignInError('tenant_mismatch', 'the sign-in was started at another tenant');
    if (!browserSecret || !equalHashes(sha256(browserSecret), flow.browserHash)) {
      throw new OidcSignInError('oidc_sign_in_failed', 'the sign-in was started in another browser');
    }
    if (params.get('error')) throw new OidcSignInError('oidc_denied', `the provider answered ${params.get('error')}`);
    if (tenant.status !== 'active') throw new OidcSignInError('tenant_disabled', 'the tenant is disabled');

    const settings = await this.tenantDb.run({ tenantId: tenant.id }, (m) => this.repository.find(m, tenant.id));
    if (!settings?.enabled) throw new OidcSignInError('oidc_not_enabled', 'OIDC sign-in was turned off');
    if (new Date(settings.updatedAt).toISOString() !== flow.configAt) throw new OidcSignInError('oidc_sign_in_failed', 'the configuration changed during the sign-in');

    let claims: { sub: string; email?: unknown; email_verified?: unknown; name?: unknown };
    try {
      const client = await this.clients.client(tenant.id, settings, flow.redirectUri);
      const tokens: TokenSet = await client.callback(flow.redirectUri, client.callbackParams(request), {
        response_type: 'code',
        state: flow.state,
        nonce: flow.nonce,
        code_verifier: flow.codeVerifier,
      });
      claims = tokens.claims();
      if (claims.email === undefined && tokens.access_token && client.issuer.metadata.userinfo_endpoint) {
        // Providers that keep the ID token small put the address in userinfo (its `sub` is checked against the ID token's).
        const info: UserinfoResponse = await client.userinfo(tokens);
        claims = { ...claims, email: info.email, email_verified: info.email_verified, name: info.name ?? claims.name };
      }
    } catch (error) {
      throw new OidcSignInError('oidc_sign_in_failed', (error as Error).message);
    }

    if (typeof claims.email !== 'string' || !claims.email.includes('@')) throw new OidcSignInError('oidc_email_not_verified', 'the provider gave no e-mail address');
    if (claims.email_verified !== true) throw new OidcSignInError('oidc_email_not_verified', 'the provider does not say the address is verified');
    const email = claims.email.trim();
    const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
    if (settings.allowedDomains.length > 0 && !settings.allowedDomains.includes(domain)) {
      throw new OidcSignInError('oidc_domain_not_allowed', `addresses at ${domain} may not sign in here`);
    }

    const user = await this.accountFor(tenant, email, typeof claims.name === 'string' ? claims.name : null, settings.createAccounts, claims.sub);
    if (user.totpEnabledAt) {
      const challenge = await this.tenantDb.run({ tenantId: tenant.id }, (m) =>
        this.oneTimeTokens.issue(m, { tenantId: tenant.id, userId: user.id, purpose: 'second_factor', ttlSeconds: SECOND_FACTOR_TTL_SECONDS }),
      );
      return { kind: 'second_factor', challenge, next: flow.next };
    }
    const pair = await this.authService.startSignedIn(tenant.id, user.id, 'oidc');
    return { kind: 'signed_in', refreshToken: pair.refreshToken!, next: flow.next };
  }

  /** The tenant's account with that address (never another tenant's), or a new customer when allowed. */
  private async accountFor(tenant: ResolvedTenant, email: string, name: string | null, createAccounts: boolean, sub: string): Promise<User> {
    const found = await this.tenantDb.run({ tenantId: tenant.id }, async (m) => {
      const existing = await this.users.findByEmail(m, tenant.id, email);
      if (existing) return existing;
      if (!createAccounts) return null;
      const user = m.create(User, { tenantId: tenant.id, email, displayName: name?.slice(0, 200) || null, status: 'active', emailVerifiedAt: new Date() });
      try {
        await m.insert(User, user);
      } catch (error) {
        if (error instanceof QueryFailedError && (error as QueryFailedError & { code?: string }).code === '23505') return 'raced' as const;
        throw error;
      }
      await this.identity.grantCustomerRole(m, tenant.id, user.id);
      await this.audit.record(m, {
        tenantId: tenant.id,
        action: 'customer.signed_up',
        subjectType: 'Customer',
        subjectId: user.id,
        after: { status: 'active', source: 'oidc', issuerSubject: sub },
        actor: { userId: null, tenantId: null },
      });
      return user;
    });
    if (found === 'raced') return this.accountFor(tenant, email, name, false, sub);
    if (!found) throw new OidcSignInError('oidc_no_account', 'no account with that address here, and the tenant does not create accounts on sign-in');
    if (found.status !== 'active' || found.deletedAt) throw new OidcSignInError('account_disabled', 'the account is not active');
    return found;
  }

  /** At most OIDC_START_MAX_PER_IP_MINUTE starts a minute per client IP: each keeps a flow in Redis. */
  private async limit(): Promise<void> {
    const ip = (this.cls.isActive() && this.cls.get<string | null>('clientIp')) || 'unknown';
    try {
      await this.perIp.consume(ip);
    } catch (result) {
      if (result instanceof RateLimiterRes) throw new OidcSignInError('oidc_rate_limited', `more than ${this.config.OIDC_START_MAX_PER_IP_MINUTE} starts a minute from ${ip}`);
      throw new OidcSignInError('oidc_unavailable', `the rate limiter failed: ${(result as Error).message}`);
    }
  }

  /** Logged for the owner's operators: why a sign-in failed (never shown to the visitor beyond its code). */
  logFailure(tenantId: string, error: OidcSignInError): void {
    this.logger.warn({ tenantId, code: error.code, detail: error.message }, 'OIDC sign-in failed');
  }
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

function equalHashes(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
