import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { AppException, CommonErrorCode } from '@app/errors';
import { fromUnits, toUnits } from '@app/money';
import { REDIS } from '@app/redis';
import { TenantContext, TenantDb, UNKNOWN_HOST_DETAIL } from '@app/tenancy';
import Redis from 'ioredis';
import { ClsService } from 'nestjs-cls';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { QueryFailedError } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { AuthErrorCode, authError } from '../auth/auth.exceptions';
import { OneTimeTokens } from '../auth/one-time-tokens';
import { parseOpaqueToken } from '../auth/token-secrets';
import { LedgerErrorCode } from '../ledger/ledger.exceptions';
import { LedgerService } from '../ledger/ledger.service';
import { MailQueue } from '../mail/mail.queue';
import { PasswordHasher } from '../users/password-hasher';
import { passwordFailures } from '../users/password-policy';
import { User } from '../users/user.entity';
import { UsersRepository } from '../users/users.repository';
import { RegisterRequest, RegisterResult, VerifyEmailRequest, VerifyEmailResult } from './dto/identity.dto';
import { IdentityErrorCode, identityError } from './identity.exceptions';
import { IdentityRepository } from './identity.repository';

const ANSWER: RegisterResult = { status: 'verification_sent', message: 'If the address can sign up here, a verification link is on its way.' };

/**
 * Self sign-up at the Host's tenant, when its owner opened it. The answer never tells whether the
 * address already has an account: a new address gets a verification link, a known one a mail
 * saying so, and both paths do the same work (hash the password, one transaction, one mail), so
 * status, body and timing agree. Counted per IP and per address (429 beyond, for both kinds).
 *
 * Verification activates the account and credits the sign-up bonus through the ledger with a
 * reference unique to the customer, BEFORE the link is spent: a crash in between leaves a link
 * that still works and a credit that replays as a no-op, and two clicks at once credit once.
 */
@Injectable()
export class SignUpService implements OnModuleInit {
  private perIp!: RateLimiterRedis;
  private perAddress!: RateLimiterRedis;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly tenantDb: TenantDb,
    private readonly tenantContext: TenantContext,
    private readonly identity: IdentityRepository,
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly oneTimeTokens: OneTimeTokens,
    private readonly ledger: LedgerService,
    private readonly mail: MailQueue,
    private readonly audit: AuditService,
    private readonly cls: ClsService,
  ) {}

  onModuleInit(): void {
    this.perIp = new RateLimiterRedis({ storeClient: this.redis, keyPrefix: 'auth:sign-up:ip', points: this.config.SIGN_UP_MAX_PER_IP_HOUR, duration: 3600 });
    this.perAddress = new RateLimiterRedis({ storeClient: this.redis, keyPrefix: 'auth:sign-up:address', points: this.config.SIGN_UP_MAX_PER_ADDRESS_HOUR, duration: 3600 });
  }

  async register(input: RegisterRequest): Promise<RegisterResult> {
    const tenant = this.hostTenant();
    if (tenant.status !== 'active') throw identityError(IdentityErrorCode.SignUpClosed);
    const email = input.email.trim();
    const settings = await this.tenantDb.run({ tenantId: tenant.id }, (m) => this.identity.settings(m, tenant.id));
    if (!settings.signUpEnabled) throw identityError(IdentityErrorCode.SignUpClosed);
    const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
    if (settings.signUpDomains.length > 0 && !settings.signUpDomains.includes(domain)) {
      throw identityError(IdentityErrorCode.SignUpDomainNotAllowed, `Addresses at ${settings.signUpDomains.join(', ')} may sign up here.`);
    }
    const failures = passwordFailures(input.password, email);
    if (failures.length > 0) {
      throw authError(AuthErrorCode.WeakPassword, `The password ${failures.map((f) => f.message).join('; ')}.`, {
        errors: [{ field: 'password', messages: failures.map((f) => f.message) }],
        members: { rules: failures },
      });
    }
    await this.limit(`${tenant.id}:${email.toLowerCase()}`);
    const passwordHash = await this.hasher.hash(input.password);

    await this.tenantDb.run({ tenantId: tenant.id }, async (m) => {
      const existing = await this.users.findByEmail(m, tenant.id, email);
      const domainLink = async (token: string) => this.mail.linkOn(await this.users.primaryDomain(m, tenant.id), `/console/verify-email?token=${encodeURIComponent(token)}`);
      const pendingSelfSignUp = existing && existing.status === 'invited' && (await this.hasPendingVerification(m, tenant.id, existing.id));
      if (existing && !pendingSelfSignUp) {
        // Known address: tell its owner, not the caller. A deleted account's address is a placeholder, never matched.
        await this.mail.enqueue({
          tenantId: tenant.id,
          to: existing.email,
          kind: 'sign_up_existing',
          subject: `Someone tried to sign up at ${tenant.name} with your address`,
          text:
            `Someone (maybe you) tried to create an account at ${tenant.name} with ${existing.email}, which already has one.\n\n` +
            `Sign in instead, or reset your password if you forgot it:\n${this.mail.linkOn(await this.users.primaryDomain(m, tenant.id), '/console/reset-password')}\n\n` +
            `If it was not you, ignore this mail; nothing was changed.`,
        });
        return;
      }
      let userId: string;
      if (existing) {
        // Signed up before and never verified: the newest sign-up's password counts, the old link is void.
        userId = existing.id;
        await this.users.setPassword(m, tenant.id, userId, passwordHash);
        if (input.displayName) await m.update(User, { id: userId, tenantId: tenant.id }, { displayName: input.displayName });
      } else {
        const user = m.create(User, { tenantId: tenant.id, email, displayName: input.displayName ?? null, status: 'invited', passwordHash });
        await m.insert(User, user).catch((e: unknown) => {
          // A concurrent sign-up of the same address: the answer stays the same.
          if (e instanceof QueryFailedError && (e as QueryFailedError & { code?: string }).code === '23505') throw new ConcurrentSignUp();
          throw e;
        });
        userId = user.id;
        await this.identity.grantCustomerRole(m, tenant.id, userId);
        await this.audit.record(m, {
          tenantId: tenant.id,
          action: 'customer.signed_up',
          subjectType: 'Customer',
          subjectId: userId,
          after: { status: 'invited', source: 'self_sign_up' },
          actor: { userId: null, tenantId: null },
        });
      }
      const token = await this.oneTimeTokens.issue(m, {
        tenantId: tenant.id,
        userId,
        purpose: 'email_verification',
        ttlSeconds: this.config.EMAIL_VERIFICATION_TTL_HOURS * 3600,
      });
      await this.mail.enqueue({
        tenantId: tenant.id,
        to: email,
        kind: 'email_verification',
        subject: `Confirm your ${tenant.name} account`,
        text:
          `Welcome to ${tenant.name}.\n\nConfirm your address to activate the account (valid for ${this.config.EMAIL_VERIFICATION_TTL_HOURS} hours):\n${await domainLink(token)}\n\n` +
          `Verification token: ${token}\n\nIf you did not sign up, ignore this mail: the account stays inactive.`,
      });
    }).catch((error: unknown) => {
      if (!(error instanceof ConcurrentSignUp)) throw error;
    });
    return ANSWER;
  }

  async verify(input: VerifyEmailRequest): Promise<VerifyEmailResult> {
    const parsed = parseOpaqueToken(input.token);
    if (!parsed) throw authError(AuthErrorCode.InvalidOneTimeToken);
    const tenant = this.hostTenant();
    if (tenant.id !== parsed.tenantId) throw authError(AuthErrorCode.TenantMismatch);
    if (tenant.status !== 'active') throw authError(AuthErrorCode.TenantDisabled);
    const pending = await this.tenantDb.run({ tenantId: tenant.id }, async (m) => {
      const user = await this.oneTimeTokens.peekUser(m, parsed.hash, 'email_verification');
      return user ? { user, settings: await this.identity.settings(m, tenant.id) } : null;
    });
    if (!pending) return this.alreadyVerified(tenant.id, parsed.hash);
    const { user, settings } = pending;

    let bonus = 0n;
    if (toUnits(settings.signUpBonus) > 0n) {
      try {
        const credit = await this.ledger.creditBySystem({
          tenantId: tenant.id,
          customerId: user.userId,
          units: toUnits(settings.signUpBonus),
          reference: `sign-up-bonus:${user.userId}`,
          note: 'Sign-up bonus',
        });
        bonus = toUnits(credit.amount);
      } catch (error) {
        // Credited before with another amount (the owner changed the bonus since): it stays credited once.
        if (!(error instanceof AppException && error.code === LedgerErrorCode.ReferenceReused)) throw error;
      }
    }

    const activated = await this.tenantDb.run({ tenantId: tenant.id }, async (m) => {
      if (!(await this.oneTimeTokens.consume(m, parsed.hash, 'email_verification'))) return false;
      if (!(await this.identity.activateVerified(m, tenant.id, user.userId))) throw authError(AuthErrorCode.InvalidOneTimeToken);
      await this.audit.record(m, {
        tenantId: tenant.id,
        action: 'customer.email_verified',
        subjectType: 'Customer',
        subjectId: user.userId,
        after: { status: 'active', signUpBonus: fromUnits(bonus) },
        actor: { userId: user.userId, tenantId: tenant.id },
      });
      return true;
    });
    if (!activated) return this.alreadyVerified(tenant.id, parsed.hash);
    return { status: 'verified', email: user.email, bonus: fromUnits(bonus) };
  }

  /** A link opened again (or twice at once): verified is verified; anything else is an invalid link. */
  private async alreadyVerified(tenantId: string, hash: Buffer): Promise<VerifyEmailResult> {
    const done = await this.tenantDb.run({ tenantId }, (m) => this.identity.verifiedByUsedToken(m, hash));
    if (!done) throw authError(AuthErrorCode.InvalidOneTimeToken);
    const bonus = await this.tenantDb.run({ tenantId }, (m) =>
      m.query(`SELECT amount::text AS amount FROM ledger_transactions WHERE tenant_id = $1 AND idempotency_key = $2`, [tenantId, `credit:sign-up-bonus:${done.id}`]),
    );
    return { status: 'verified', email: done.email, bonus: bonus[0]?.amount ?? fromUnits(0n) };
  }

  private async hasPendingVerification(m: Parameters<IdentityRepository['settings']>[0], tenantId: string, userId: string): Promise<boolean> {
    const rows = await m.query(`SELECT 1 FROM one_time_tokens WHERE tenant_id = $1 AND user_id = $2 AND purpose = 'email_verification' LIMIT 1`, [tenantId, userId]);
    return rows.length > 0;
  }

  private async limit(addressKey: string): Promise<void> {
    const ip = (this.cls.isActive() && this.cls.get<string | null>('clientIp')) || 'unknown';
    let results: RateLimiterRes[];
    try {
      results = await Promise.all([consume(this.perIp, ip), consume(this.perAddress, addressKey)]);
    } catch {
      throw AppException.common(CommonErrorCode.ServiceUnavailable, 503, 'Sign-up is unavailable for a moment; retry shortly.', { retryAfterSeconds: 2 });
    }
    const [byIp, byAddress] = results;
    const over = [byIp.consumedPoints > this.config.SIGN_UP_MAX_PER_IP_HOUR ? byIp : null, byAddress.consumedPoints > this.config.SIGN_UP_MAX_PER_ADDRESS_HOUR ? byAddress : null].filter(
      (r): r is RateLimiterRes => r !== null,
    );
    if (over.length > 0) {
      const retryAfterSeconds = Math.ceil(Math.max(...over.map((r) => r.msBeforeNext)) / 1000);
      throw identityError(IdentityErrorCode.SignUpRateLimited, `Try again in ${retryAfterSeconds} s.`, { retryAfterSeconds });
    }
  }

  private hostTenant() {
    const host = this.tenantContext.hostTenant;
    if (!host) throw AppException.common(CommonErrorCode.UnknownTenant, 404, UNKNOWN_HOST_DETAIL);
    return host;
  }
}

class ConcurrentSignUp extends Error {}

async function consume(limiter: RateLimiterRedis, key: string): Promise<RateLimiterRes> {
  try {
    return await limiter.consume(key);
  } catch (result) {
    if (result instanceof RateLimiterRes) return result;
    throw result;
  }
}
