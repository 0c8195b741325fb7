import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { TenantDb } from '@app/tenancy';
import { ClsService } from 'nestjs-cls';
import { EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { AuthErrorCode, authError } from '../auth/auth.exceptions';
import { LoginThrottle } from '../auth/login-throttle';
import { Revocations } from '../auth/revocations';
import { Sessions } from '../auth/sessions';
import { KeysRuntime } from '../keys/keys-runtime';
import { PasswordHasher } from '../users/password-hasher';
import { UsersRepository } from '../users/users.repository';
import { DeleteAccountRequest, ErasureResult, PersonalDataExport } from './dto/identity.dto';
import { IdentityErrorCode, identityError } from './identity.exceptions';
import { PERSONAL_DATA } from './identity.permissions';
import { IdentityRepository } from './identity.repository';

const iso = (value: Date | string | null): string | null => (value === null ? null : new Date(value).toISOString());

/**
 * Personal data: the export of one's own (profile, keys without secrets, usage, wallet movements,
 * remembered sign-ins) and the erasure of a customer's account, by the person or by the owner.
 * Erasure pseudonymises the person (see IdentityRepository.pseudonymise) and ends their sessions
 * and keys at once; ledger, usage records and statements are not touched, so they still balance.
 */
@Injectable()
export class PersonalDataService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: IdentityRepository,
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly throttle: LoginThrottle,
    private readonly sessions: Sessions,
    private readonly revocations: Revocations,
    private readonly keysRuntime: KeysRuntime,
    private readonly audit: AuditService,
    private readonly cls: ClsService,
  ) {}

  exportMine(): Promise<PersonalDataExport> {
    const { tenantId, userId } = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      const profile = await this.repository.exportProfile(m, tenantId, userId);
      if (!profile) throw authError(AuthErrorCode.AccountDisabled);
      const [roles, keys, usage, transactions, sessions, balance] = [
        await this.repository.roles(m, tenantId, userId),
        await this.repository.exportKeys(m, tenantId, userId),
        await this.repository.exportUsage(m, tenantId, userId),
        await this.repository.exportTransactions(m, tenantId, userId),
        await this.repository.exportSessions(m, tenantId, userId),
        await this.repository.walletBalance(m, tenantId, userId),
      ];
      await this.audit.record(m, { tenantId, action: 'member.personal_data_exported', subjectType: 'Member', subjectId: userId });
      return {
        exportedAt: new Date().toISOString(),
        profile: {
          id: profile.id,
          email: profile.email,
          displayName: profile.display_name,
          preferredLanguage: profile.preferred_language,
          status: profile.status,
          roles,
          createdAt: iso(profile.created_at)!,
          lastLoginAt: iso(profile.last_login_at),
          emailVerifiedAt: iso(profile.email_verified_at),
          twoFactorEnabled: profile.two_factor,
        },
        apiKeys: keys.map((k) => ({ id: k.id, name: k.name, prefix: k.prefix, status: k.status, allowedModels: k.allowed_models, expiresAt: iso(k.expires_at), createdAt: iso(k.created_at)! })),
        usage: usage.map((u) => ({
          requestId: u.request_id,
          model: u.model,
          apiKeyId: u.api_key_id,
          inputTokens: u.input_tokens,
          outputTokens: u.output_tokens,
          cacheReadTokens: u.cache_read_tokens,
          cacheWriteTokens: u.cache_write_tokens,
          charge: u.retail_charge,
          status: u.status,
          clientIp: u.client_ip,
          createdAt: iso(u.created_at)!,
        })),
        transactions: transactions.map((t) => ({ id: t.id, kind: t.kind, amount: t.amount, note: t.note, createdAt: iso(t.created_at)! })),
        balance,
        sessions: sessions.map((s) => ({ startedAt: iso(s.started_at)!, ip: s.ip, userAgent: s.user_agent })),
      };
    });
  }

  /** The person deletes their own customer account, confirming with their password (a wrong one counts toward the sign-in lock). */
  async deleteMine(input: DeleteAccountRequest): Promise<ErasureResult> {
    const principal = this.auth.principal;
    const accountKey = `${principal.tenantId}:${principal.email.toLowerCase()}`;
    const ip = (this.cls.isActive() && this.cls.get<string | null>('clientIp')) || 'unknown';
    await this.throttle.assertNotLocked(accountKey, ip);
    const user = await this.tenantDb.forRequest((m) => this.users.findByEmail(m, principal.tenantId, principal.email, true));
    if (!user || user.id !== principal.userId || !user.passwordHash || !(await this.hasher.verify(user.passwordHash, input.password))) {
      const outcome = await this.throttle.recordFailure(accountKey, ip);
      if (outcome.locked) throw authError(AuthErrorCode.LoginLocked, `Try again in ${outcome.retryAfterSeconds} s.`, { retryAfterSeconds: outcome.retryAfterSeconds });
      throw authError(AuthErrorCode.WrongPassword, undefined, { errors: [{ field: 'password', messages: ['the password is wrong'] }] });
    }
    return this.erase(principal.tenantId, principal.userId, 'self');
  }

  /** The owner erases a customer's personal data on their request. */
  eraseCustomer(customerId: string): Promise<ErasureResult> {
    const tenantId = this.auth.principal.tenantId;
    this.auth.assertCan('delete', PERSONAL_DATA, { tenantId });
    return this.erase(tenantId, customerId, 'owner');
  }

  private async erase(tenantId: string, userId: string, by: 'self' | 'owner'): Promise<ErasureResult> {
    const done = await this.tenantDb.forRequest(async (m: EntityManager) => {
      const target = await this.repository.lockCustomer(m, tenantId, userId);
      if (!target || !target.roles.includes('user')) throw AppException.notFound('customer');
      if (target.roles.some((r) => r !== 'user')) throw identityError(IdentityErrorCode.StaffAccountDeletion);
      if (target.deletedAt) throw identityError(IdentityErrorCode.AccountDeleted);
      const sessionIds = await this.sessions.revokeAllOfUser(m, tenantId, userId);
      const { keysRevoked, deletedAt } = await this.repository.pseudonymise(m, tenantId, userId);
      await this.audit.record(m, {
        tenantId,
        action: 'customer.personal_data_erased',
        subjectType: 'Customer',
        subjectId: userId,
        after: { by, sessionsEnded: sessionIds.length, keysRevoked },
      });
      return { sessionIds, keysRevoked, deletedAt };
    });
    await Promise.all(done.sessionIds.map((sid) => this.revocations.revokeSession(sid, this.config.ACCESS_TOKEN_TTL_SECONDS)));
    await this.keysRuntime.invalidateCustomer(userId);
    return { id: userId, deletedAt: iso(done.deletedAt)!, sessionsEnded: done.sessionIds.length, keysRevoked: done.keysRevoked };
  }
}
