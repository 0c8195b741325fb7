import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { TenantDb } from '@app/tenancy';
import { ClsService } from 'nestjs-cls';
import { AuditService } from '../audit/audit.service';
import { PasswordHasher } from '../users/password-hasher';
import { passwordWeakness } from '../users/password-policy';
import { User } from '../users/user.entity';
import { UsersRepository } from '../users/users.repository';
import { AuthErrorCode, authError } from './auth.exceptions';
import { ChangePasswordRequest, ChangePasswordResult, SessionList, UpdateProfileRequest } from './dto/account.dto';
import { MeUser } from './dto/auth.dto';
import { LoginThrottle } from './login-throttle';
import { Revocations } from './revocations';
import { Sessions } from './sessions';

/**
 * The signed-in user's own account: profile, password and sessions. Everything is the caller's own
 * (their user id, in their tenant's RLS scope); nobody can reach another user's account here.
 */
@Injectable()
export class AccountService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly throttle: LoginThrottle,
    private readonly sessions: Sessions,
    private readonly revocations: Revocations,
    private readonly audit: AuditService,
    private readonly cls: ClsService,
  ) {}

  updateProfile(input: UpdateProfileRequest): Promise<MeUser> {
    const principal = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      const user = await this.users.findById(m, principal.tenantId, principal.userId);
      if (!user) throw authError(AuthErrorCode.AccountDisabled);
      const before = { displayName: user.displayName, preferredLanguage: user.preferredLanguage };
      if (input.displayName !== undefined) user.displayName = input.displayName;
      if (input.preferredLanguage !== undefined) user.preferredLanguage = input.preferredLanguage;
      await m.update(User, { id: user.id, tenantId: principal.tenantId }, { displayName: user.displayName, preferredLanguage: user.preferredLanguage });
      const after = { displayName: user.displayName, preferredLanguage: user.preferredLanguage };
      if (before.displayName !== after.displayName || before.preferredLanguage !== after.preferredLanguage) {
        await this.audit.record(m, { tenantId: principal.tenantId, action: 'member.profile_updated', subjectType: 'Member', subjectId: user.id, before, after });
      }
      return { id: user.id, email: user.email, displayName: user.displayName, preferredLanguage: user.preferredLanguage };
    });
  }

  /**
   * Changes the password. A wrong current password counts as a failed sign-in of the account and
   * address (the same lock as at login, 429 once locked), so this route cannot be used to guess
   * it. Every other session ends; this one stays signed in.
   */
  async changePassword(input: ChangePasswordRequest): Promise<ChangePasswordResult> {
    const principal = this.auth.principal;
    const accountKey = `${principal.tenantId}:${principal.email.toLowerCase()}`;
    const ip = (this.cls.isActive() && this.cls.get<string | null>('clientIp')) || 'unknown';
    await this.throttle.assertNotLocked(accountKey, ip);
    const user = await this.tenantDb.forRequest((m) => this.users.findByEmail(m, principal.tenantId, principal.email, true));
    if (!user || user.id !== principal.userId || !user.passwordHash) throw authError(AuthErrorCode.AccountDisabled);
    if (!(await this.hasher.verify(user.passwordHash, input.currentPassword))) {
      const outcome = await this.throttle.recordFailure(accountKey, ip);
      if (outcome.locked) {
        if (outcome.newlyLocked === 'account') {
          await this.tenantDb.forRequest((m) =>
            this.audit.record(m, {
              tenantId: principal.tenantId,
              action: 'auth.account_locked',
              subjectType: 'Member',
              subjectId: principal.userId,
              after: { email: principal.email, lockedForSeconds: outcome.retryAfterSeconds, by: 'password_change' },
            }),
          );
        }
        throw authError(AuthErrorCode.LoginLocked, `Try again in ${outcome.retryAfterSeconds} s.`, { retryAfterSeconds: outcome.retryAfterSeconds });
      }
      throw authError(AuthErrorCode.WrongPassword, undefined, { errors: [{ field: 'currentPassword', messages: ['the current password is wrong'] }] });
    }
    const weakness = passwordWeakness(input.newPassword, principal.email);
    if (weakness) throw authError(AuthErrorCode.WeakPassword, `The password ${weakness}.`);
    await this.throttle.recordSuccess(accountKey);
    const hash = await this.hasher.hash(input.newPassword);
    const ended = await this.tenantDb.forRequest(async (m) => {
      await this.users.setPassword(m, principal.tenantId, principal.userId, hash);
      const revoked = await this.sessions.revokeOthersOfUser(m, principal.tenantId, principal.userId, principal.sessionId);
      await this.audit.record(m, {
        tenantId: principal.tenantId,
        action: 'auth.password_changed',
        subjectType: 'Member',
        subjectId: principal.userId,
        after: { passwordHash: 'changed', sessionsRevoked: revoked.length },
      });
      return revoked;
    });
    await Promise.all(ended.map((sid) => this.revocations.revokeSession(sid, this.config.ACCESS_TOKEN_TTL_SECONDS)));
    return { sessionsEnded: ended.length };
  }

  sessionList(): Promise<SessionList> {
    const principal = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      const live = await this.sessions.listLive(m, principal.tenantId, principal.userId);
      return {
        items: live.map((s) => ({
          id: s.familyId,
          current: s.familyId === principal.sessionId,
          startedAt: s.startedAt.toISOString(),
          lastActiveAt: s.lastActiveAt.toISOString(),
          expiresAt: s.expiresAt.toISOString(),
          ip: s.ip,
          userAgent: s.userAgent,
        })),
      };
    });
  }

  /** Ends one of the caller's sessions at once (its access tokens too); another's is not found. */
  async revokeSession(sessionId: string): Promise<void> {
    const principal = this.auth.principal;
    await this.tenantDb.forRequest(async (m) => {
      if (!(await this.sessions.revokeOwn(m, principal.tenantId, principal.userId, sessionId))) throw AppException.notFound('session');
      await this.audit.record(m, { tenantId: principal.tenantId, action: 'auth.session_revoked', subjectType: 'Session', subjectId: sessionId });
    });
    await this.revocations.revokeSession(sessionId, this.config.ACCESS_TOKEN_TTL_SECONDS);
  }
}
