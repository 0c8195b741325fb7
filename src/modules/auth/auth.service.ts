import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { packRules } from '@casl/ability/extra';
import { AppConfig, APP_CONFIG } from '@app/config';
import { Principal, RequestAuth } from '@app/authorization';
import { AppException, CommonErrorCode } from '@app/errors';
import { ResolvedTenant, TenantContext, TenantDb, TenantResolver, UNKNOWN_HOST_DETAIL } from '@app/tenancy';
import { ClsService } from 'nestjs-cls';
import { EntityManager } from 'typeorm';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { v7 as uuidv7 } from 'uuid';
import { AuditService } from '../audit/audit.service';
import { MailQueue } from '../mail/mail.queue';
import { PasswordHasher } from '../users/password-hasher';
import { passwordFailures } from '../users/password-policy';
import { UsersRepository } from '../users/users.repository';
import { AuthErrorCode, authError } from './auth.exceptions';
import { SecondFactorLogin } from './dto/two-factor.dto';
import { AcceptInvitationRequest, LoginRequest, MeResponse, PasswordResetConfirm, PasswordResetRequest, TokenPair } from './dto/auth.dto';
import { LoginThrottle } from './login-throttle';
import { OneTimePurpose } from './one-time-token.entity';
import { OneTimeTokens } from './one-time-tokens';
import { PrincipalLoader } from './principal.loader';
import { Revocations } from './revocations';
import { Sessions } from './sessions';
import { SigningKeys } from './signing-keys';
import { parseOpaqueToken } from './token-secrets';
import { TwoFactor } from './two-factor';

const SECOND_FACTOR_TTL_SECONDS = 300;
const SIGN_IN_AGAIN = 'The sign-in step expired or was used; sign in again.';

@Injectable()
export class AuthService implements OnModuleInit {
  /** Verified against when the e-mail is unknown, so both cases take the same time. */
  private decoyHash = '';

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tenantDb: TenantDb,
    private readonly tenantContext: TenantContext,
    private readonly resolver: TenantResolver,
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly throttle: LoginThrottle,
    private readonly sessions: Sessions,
    private readonly oneTimeTokens: OneTimeTokens,
    private readonly keys: SigningKeys,
    private readonly revocations: Revocations,
    private readonly loader: PrincipalLoader,
    private readonly audit: AuditService,
    private readonly mail: MailQueue,
    private readonly auth: RequestAuth,
    private readonly cls: ClsService,
    private readonly twoFactor: TwoFactor,
  ) {}

  async onModuleInit(): Promise<void> {
    this.decoyHash = await this.hasher.hash(randomBytes(24).toString('base64'));
  }

  async login(input: LoginRequest): Promise<TokenPair> {
    const tenant = await this.tenantFor(input.tenant).catch(async (error: unknown) => {
      // An unknown slug costs the same hashing as a wrong password, so timing tells nothing.
      await this.hasher.verify(this.decoyHash, input.password);
      throw error;
    });
    const email = input.email.trim().toLowerCase();
    const accountKey = `${tenant.id}:${email}`;
    const ip = this.clientIp();
    await this.throttle.assertNotLocked(accountKey, ip);

    const user = await this.tenantDb.run({ tenantId: tenant.id }, (m) => this.users.findByEmail(m, tenant.id, email, true));
    const passwordOk = await this.hasher.verify(user?.passwordHash ?? this.decoyHash, input.password);
    if (!user || !user.passwordHash || !passwordOk) {
      const outcome = await this.throttle.recordFailure(accountKey, ip);
      if (outcome.locked) {
        if (outcome.newlyLocked) {
          await this.tenantDb.run({ tenantId: tenant.id }, (m) =>
            this.audit.record(m, {
              tenantId: tenant.id,
              action: outcome.newlyLocked === 'account' ? 'auth.account_locked' : 'auth.ip_locked',
              subjectType: outcome.newlyLocked === 'account' ? 'Member' : 'ClientIp',
              subjectId: outcome.newlyLocked === 'account' ? (user?.id ?? null) : null,
              after: { email, lockedForSeconds: outcome.retryAfterSeconds },
              actor: { userId: null, tenantId: null },
            }),
          );
        }
        throw authError(AuthErrorCode.LoginLocked, `Try again in ${outcome.retryAfterSeconds} s.`, {
          retryAfterSeconds: outcome.retryAfterSeconds,
        });
      }
      if (outcome.delayMs > 0) await sleep(outcome.delayMs);
      throw authError(AuthErrorCode.InvalidCredentials);
    }
    if (user.status !== 'active') throw authError(AuthErrorCode.AccountDisabled);
    if (tenant.status !== 'active') throw authError(AuthErrorCode.TenantDisabled);
    if (user.totpEnabledAt) {
      // The password alone does not reset the failure count: codes are guessed under the same lock.
      const challenge = await this.tenantDb.run({ tenantId: tenant.id }, (m) =>
        this.oneTimeTokens.issue(m, { tenantId: tenant.id, userId: user.id, purpose: 'second_factor', ttlSeconds: SECOND_FACTOR_TTL_SECONDS }),
      );
      throw authError(AuthErrorCode.SecondFactorRequired, 'Send the code to /api/v1/auth/login/second-factor with this challenge.', {
        members: { challenge, challengeExpiresIn: SECOND_FACTOR_TTL_SECONDS },
      });
    }
    await this.throttle.recordSuccess(accountKey);
    return this.startSignedIn(tenant.id, user.id, 'password');
  }

  /** The second step of a sign-in with two-factor on: the challenge of the first step and a code (or a recovery code). */
  async loginSecondFactor(input: SecondFactorLogin): Promise<TokenPair> {
    const parsed = parseOpaqueToken(input.challenge);
    if (!parsed) throw authError(AuthErrorCode.InvalidOneTimeToken, SIGN_IN_AGAIN);
    this.assertHostAgrees(parsed.tenantId);
    const tenant = await this.tenantById(parsed.tenantId);
    if (tenant.status !== 'active') throw authError(AuthErrorCode.TenantDisabled);
    const pending = await this.tenantDb.run({ tenantId: tenant.id }, (m) => this.oneTimeTokens.peekUser(m, parsed.hash, 'second_factor'));
    if (!pending) throw authError(AuthErrorCode.InvalidOneTimeToken, SIGN_IN_AGAIN);
    const accountKey = `${tenant.id}:${pending.email.toLowerCase()}`;
    const method = await this.twoFactor.underLock(accountKey, this.clientIp(), () =>
      this.tenantDb.run({ tenantId: tenant.id }, async (m) => {
        const used = await this.twoFactor.check(m, tenant.id, pending.userId, input);
        if (!used) return false;
        // Spent with the code in one transaction: a challenge signs in once.
        if (!(await this.oneTimeTokens.consume(m, parsed.hash, 'second_factor'))) throw authError(AuthErrorCode.InvalidOneTimeToken, SIGN_IN_AGAIN);
        const user = await this.users.findById(m, tenant.id, pending.userId);
        if (!user || user.status !== 'active') throw authError(AuthErrorCode.AccountDisabled);
        return used;
      }),
    );
    await this.throttle.recordSuccess(accountKey);
    return this.startSignedIn(tenant.id, pending.userId, method === 'recovery' ? 'recovery_code' : 'totp');
  }

  /** A new session for a user who passed every check, audited as a sign-in by `method`. */
  async startSignedIn(tenantId: string, userId: string, method: 'password' | 'totp' | 'recovery_code' | 'oidc'): Promise<TokenPair> {
    return this.tenantDb.run({ tenantId }, async (m) => {
      const session = await this.sessions.start(m, {
        tenantId,
        userId,
        ttlSeconds: this.config.REFRESH_TOKEN_TTL_SECONDS,
        ip: this.clientIp(),
        userAgent: this.userAgent(),
      });
      await this.users.touchLogin(m, tenantId, userId);
      await this.audit.record(m, {
        tenantId,
        action: 'auth.login',
        subjectType: 'Session',
        subjectId: session.familyId,
        after: method === 'password' ? undefined : { method },
        actor: { userId, tenantId },
      });
      return this.tokenPair(tenantId, userId, session.familyId, session.token);
    });
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const parsed = parseOpaqueToken(refreshToken);
    if (!parsed) throw authError(AuthErrorCode.InvalidRefreshToken);
    this.assertHostAgrees(parsed.tenantId);
    const outcome = await this.tenantDb.run({ tenantId: parsed.tenantId }, async (m) => {
      const result = await this.sessions.rotate(m, parsed.hash, {
        ttlSeconds: this.config.REFRESH_TOKEN_TTL_SECONDS,
        ip: this.clientIp(),
        userAgent: this.userAgent(),
      });
      if (result.kind === 'reused') {
        await this.audit.record(m, {
          tenantId: parsed.tenantId,
          action: 'auth.refresh_token_reused',
          subjectType: 'Session',
          subjectId: result.familyId,
          actor: { userId: null, tenantId: null },
        });
      }
      if (result.kind === 'rotated') {
        const identity = await this.loader.load(parsed.tenantId, result.userId);
        if (!identity || identity.userStatus !== 'active' || identity.tenantStatus !== 'active') {
          await this.sessions.revokeFamily(m, result.familyId);
          return { kind: 'inactive' as const, identity };
        }
      }
      return result;
    });
    if (outcome.kind === 'reused') {
      await this.revocations.revokeSession(outcome.familyId, this.config.ACCESS_TOKEN_TTL_SECONDS);
      throw authError(AuthErrorCode.RefreshTokenReused);
    }
    if (outcome.kind === 'inactive') {
      throw authError(outcome.identity?.tenantStatus === 'disabled' ? AuthErrorCode.TenantDisabled : AuthErrorCode.AccountDisabled);
    }
    if (outcome.kind !== 'rotated') throw authError(AuthErrorCode.InvalidRefreshToken);
    return this.tokenPair(parsed.tenantId, outcome.userId, outcome.familyId, outcome.token);
  }

  async logout(principal: Principal, refreshToken?: string): Promise<void> {
    await this.revocations.revokeToken(principal.tokenId, principal.tokenExpiresAt);
    await this.revocations.revokeSession(principal.sessionId, this.config.ACCESS_TOKEN_TTL_SECONDS);
    await this.tenantDb.run({ tenantId: principal.tenantId }, async (m) => {
      await this.sessions.revokeFamily(m, principal.sessionId);
      const parsed = refreshToken ? parseOpaqueToken(refreshToken) : null;
      if (parsed && parsed.tenantId === principal.tenantId) {
        const rows: Array<{ family_id: string; user_id: string }> = await m.query(
          `SELECT family_id, user_id FROM refresh_tokens WHERE token_hash = $1`,
          [parsed.hash],
        );
        if (rows[0] && rows[0].user_id === principal.userId) await this.sessions.revokeFamily(m, rows[0].family_id);
      }
      await this.audit.record(m, { tenantId: principal.tenantId, action: 'auth.logout', subjectType: 'Session', subjectId: principal.sessionId });
    });
  }

  async acceptInvitation(input: AcceptInvitationRequest): Promise<TokenPair> {
    const parsed = parseOpaqueToken(input.token);
    if (!parsed) throw authError(AuthErrorCode.InvalidOneTimeToken);
    this.assertHostAgrees(parsed.tenantId);
    const tenant = await this.tenantById(parsed.tenantId);
    if (tenant.status !== 'active') throw authError(AuthErrorCode.TenantDisabled);
    const result = await this.tenantDb.run({ tenantId: parsed.tenantId }, async (m) => {
      const claimed = await this.claimWithPassword(m, parsed.hash, 'invitation', input.password);
      const user = await this.users.findById(m, parsed.tenantId, claimed.userId);
      if (!user || user.status !== 'invited') throw authError(AuthErrorCode.InvalidOneTimeToken);
      const before = { status: user.status, displayName: user.displayName };
      user.status = 'active';
      if (input.displayName) user.displayName = input.displayName;
      user.passwordHash = await this.hasher.hash(input.password);
      await m.save(user);
      await this.audit.record(m, {
        tenantId: parsed.tenantId,
        action: 'member.invitation_accepted',
        subjectType: 'Member',
        subjectId: user.id,
        before,
        after: { status: user.status, displayName: user.displayName },
        actor: { userId: user.id, tenantId: parsed.tenantId },
      });
      const session = await this.sessions.start(m, {
        tenantId: parsed.tenantId,
        userId: user.id,
        ttlSeconds: this.config.REFRESH_TOKEN_TTL_SECONDS,
        ip: this.clientIp(),
        userAgent: this.userAgent(),
      });
      return { userId: user.id, session };
    });
    return this.tokenPair(parsed.tenantId, result.userId, result.session.familyId, result.session.token);
  }

  /** Always succeeds from the caller's view, so it cannot be used to find out who has an account. */
  async requestPasswordReset(input: PasswordResetRequest): Promise<void> {
    const tenant = await this.tenantFor(input.tenant);
    if (tenant.status !== 'active') return;
    await this.tenantDb.run({ tenantId: tenant.id }, async (m) => {
      const user = await this.users.findByEmail(m, tenant.id, input.email.trim());
      if (!user || user.status !== 'active') return;
      // Bounded per account and per IP, silently: the answer is 202 either way.
      if (!(await this.throttle.allowResetMail(`${tenant.id}:${user.email.toLowerCase()}`, this.clientIp()))) return;
      const token = await this.oneTimeTokens.issue(m, {
        tenantId: tenant.id,
        userId: user.id,
        purpose: 'password_reset',
        ttlSeconds: this.config.PASSWORD_RESET_TTL_MINUTES * 60,
      });
      await this.audit.record(m, {
        tenantId: tenant.id,
        action: 'auth.password_reset_requested',
        subjectType: 'Member',
        subjectId: user.id,
        actor: { userId: null, tenantId: null },
      });
      const link = this.mail.linkOn(await this.users.primaryDomain(m, tenant.id), `/reset-password?token=${encodeURIComponent(token)}`);
      await this.mail.enqueue({
        tenantId: tenant.id,
        to: user.email,
        kind: 'password_reset',
        subject: `Reset your ${tenant.name} password`,
        text:
          `Someone asked to reset the password of ${user.email} at ${tenant.name}.\n\n` +
          `Set a new password here (valid for ${this.config.PASSWORD_RESET_TTL_MINUTES} minutes):\n${link}\n\n` +
          `Reset token: ${token}\n\nIf it was not you, ignore this mail.`,
      });
    });
  }

  async confirmPasswordReset(input: PasswordResetConfirm): Promise<void> {
    const parsed = parseOpaqueToken(input.token);
    if (!parsed) throw authError(AuthErrorCode.InvalidOneTimeToken);
    this.assertHostAgrees(parsed.tenantId);
    const sessions = await this.tenantDb.run({ tenantId: parsed.tenantId }, async (m) => {
      const claimed = await this.claimWithPassword(m, parsed.hash, 'password_reset', input.password);
      await this.users.setPassword(m, parsed.tenantId, claimed.userId, await this.hasher.hash(input.password));
      // A new password ends every session: whoever knew the old one is signed out.
      const revoked = await this.sessions.revokeAllOfUser(m, parsed.tenantId, claimed.userId);
      await this.audit.record(m, {
        tenantId: parsed.tenantId,
        action: 'auth.password_reset',
        subjectType: 'Member',
        subjectId: claimed.userId,
        after: { passwordHash: 'changed', sessionsRevoked: revoked.length },
        actor: { userId: claimed.userId, tenantId: parsed.tenantId },
      });
      return revoked;
    });
    await Promise.all(sessions.map((sid) => this.revocations.revokeSession(sid, this.config.ACCESS_TOKEN_TTL_SECONDS)));
  }

  async me(): Promise<MeResponse> {
    const principal = this.auth.principal;
    const tenant = await this.tenantById(principal.tenantId);
    const user = await this.tenantDb.run({ tenantId: principal.tenantId }, (m) => this.users.findById(m, principal.tenantId, principal.userId));
    return {
      user: { id: principal.userId, email: principal.email, displayName: user?.displayName ?? null, preferredLanguage: user?.preferredLanguage ?? null },
      tenant: { id: tenant.id, slug: tenant.slug, type: tenant.type, name: tenant.name },
      roles: [...principal.roles],
      rules: packRules(this.auth.ability.rules),
    };
  }

  private async tokenPair(tenantId: string, userId: string, sessionId: string, refreshToken: string): Promise<TokenPair> {
    const identity = await this.loader.load(tenantId, userId);
    if (!identity) throw authError(AuthErrorCode.AccountDisabled);
    const accessToken = await this.keys.sign(
      { tid: tenantId, tty: identity.tenantType, roles: identity.roles, sid: sessionId },
      userId,
      this.config.ACCESS_TOKEN_TTL_SECONDS,
      uuidv7(),
    );
    return {
      accessToken,
      tokenType: 'Bearer',
      expiresIn: this.config.ACCESS_TOKEN_TTL_SECONDS,
      refreshToken,
      refreshExpiresIn: this.config.REFRESH_TOKEN_TTL_SECONDS,
    };
  }

  /**
   * The tenant of an anonymous request: its domain's, never anything else (the Host hook already
   * answered 404 at a Host that is no tenant's domain). A slug, if named, must agree.
   */
  private async tenantFor(slug: string | undefined): Promise<ResolvedTenant> {
    const host = this.hostTenant();
    const named = slug ? await this.resolver.resolveSlug(slug) : null;
    if (slug && !named) throw authError(AuthErrorCode.InvalidCredentials);
    if (named && host.id !== named.id) throw authError(AuthErrorCode.TenantMismatch);
    return host;
  }

  private hostTenant(): ResolvedTenant {
    const host = this.tenantContext.hostTenant;
    if (!host) throw AppException.common(CommonErrorCode.UnknownTenant, 404, UNKNOWN_HOST_DETAIL);
    return host;
  }

  private async tenantById(tenantId: string): Promise<ResolvedTenant> {
    const rows: Array<{ id: string; slug: string; type: 'platform' | 'reseller'; status: 'active' | 'disabled'; name: string }> =
      await this.tenantDb.run({ tenantId }, (m) => m.query(`SELECT id, slug, type, status, name FROM tenants WHERE id = $1`, [tenantId]));
    if (!rows[0]) throw authError(AuthErrorCode.InvalidOneTimeToken);
    return rows[0];
  }

  private assertHostAgrees(tenantId: string): void {
    if (this.hostTenant().id !== tenantId) throw authError(AuthErrorCode.TenantMismatch);
  }

  /**
   * Uses up a one-time link to set `password`. The password is checked before the link is spent,
   * so a weak one can be corrected with the same link.
   */
  private async claimWithPassword(m: EntityManager, hash: Buffer, purpose: OneTimePurpose, password: string) {
    const pending = await this.oneTimeTokens.peekEmail(m, hash, purpose);
    if (!pending) throw authError(AuthErrorCode.InvalidOneTimeToken);
    this.assertStrong(password, pending);
    const claimed = await this.oneTimeTokens.consume(m, hash, purpose);
    if (!claimed) throw authError(AuthErrorCode.InvalidOneTimeToken);
    return claimed;
  }

  /** Every rule the password breaks, at once (`rules`, with stable codes), never one per attempt. */
  private assertStrong(password: string, email: string): void {
    const failures = passwordFailures(password, email);
    if (failures.length === 0) return;
    throw authError(AuthErrorCode.WeakPassword, `The password ${failures.map((f) => f.message).join('; ')}.`, {
      errors: [{ field: 'password', messages: failures.map((f) => f.message) }],
      members: { rules: failures },
    });
  }

  private clientIp(): string {
    return (this.cls.isActive() && this.cls.get<string | null>('clientIp')) || 'unknown';
  }

  private userAgent(): string | null {
    return (this.cls.isActive() && this.cls.get<string | null>('userAgent')) || null;
  }
}
