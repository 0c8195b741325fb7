import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { AppException, CommonErrorCode } from '@app/errors';
import { REDIS } from '@app/redis';
import Redis from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AuthErrorCode, authError } from './auth.exceptions';

export type FailureOutcome = { locked: false; delayMs: number } | { locked: true; retryAfterSeconds: number; newlyLocked: 'account' | 'ip' | null };

/**
 * Brute-force protection on sign-in, per account (tenant + e-mail) and per client IP, kept in
 * Redis so every api instance counts together. Repeated failures are slowed down (a delay that
 * doubles), then the account (or the IP, at four times the count) is locked for a while.
 */
@Injectable()
export class LoginThrottle implements OnModuleInit {
  private perAccount!: RateLimiterRedis;
  private perIp!: RateLimiterRedis;
  private resetMailPerAccount!: RateLimiterRedis;
  private resetMailPerIp!: RateLimiterRedis;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    const window = this.config.LOGIN_LOCK_SECONDS;
    this.perAccount = new RateLimiterRedis({
      storeClient: this.redis,
      keyPrefix: 'auth:login-fail:account',
      points: this.config.LOGIN_MAX_FAILURES,
      duration: window,
      blockDuration: window,
    });
    this.perIp = new RateLimiterRedis({
      storeClient: this.redis,
      keyPrefix: 'auth:login-fail:ip',
      points: this.config.LOGIN_MAX_FAILURES * 4,
      duration: window,
      blockDuration: window,
    });
    this.resetMailPerAccount = new RateLimiterRedis({ storeClient: this.redis, keyPrefix: 'auth:reset-mail:account', points: 3, duration: 3600 });
    this.resetMailPerIp = new RateLimiterRedis({ storeClient: this.redis, keyPrefix: 'auth:reset-mail:ip', points: 20, duration: 3600 });
  }

  /**
   * Password-reset mail: at most 3 per account and 20 per IP an hour, so the form cannot be used
   * to flood someone's inbox. Returns false when over the limit.
   */
  async allowResetMail(accountKey: string, ip: string): Promise<boolean> {
    const [account, address] = await this.guard(() =>
      Promise.all([this.consume(this.resetMailPerAccount, accountKey), this.consume(this.resetMailPerIp, ip)]),
    );
    return account.consumedPoints <= 3 && address.consumedPoints <= 20;
  }

  /** Refuses a sign-in attempt outright while the account or the IP is locked. */
  async assertNotLocked(accountKey: string, ip: string): Promise<void> {
    const [account, address] = await this.guard(() => Promise.all([this.perAccount.get(accountKey), this.perIp.get(ip)]));
    const blocked = [
      account && account.consumedPoints > this.config.LOGIN_MAX_FAILURES ? account : null,
      address && address.consumedPoints > this.config.LOGIN_MAX_FAILURES * 4 ? address : null,
    ].filter((r): r is RateLimiterRes => r !== null);
    if (blocked.length > 0) {
      const retryAfterSeconds = Math.ceil(Math.max(...blocked.map((r) => r.msBeforeNext)) / 1000);
      throw authError(AuthErrorCode.LoginLocked, `Try again in ${retryAfterSeconds} s.`, { retryAfterSeconds });
    }
  }

  async recordFailure(accountKey: string, ip: string): Promise<FailureOutcome> {
    const [account, address] = await this.guard(() =>
      Promise.all([this.consume(this.perAccount, accountKey), this.consume(this.perIp, ip)]),
    );
    const accountLocked = account.consumedPoints > this.config.LOGIN_MAX_FAILURES;
    const ipLocked = address.consumedPoints > this.config.LOGIN_MAX_FAILURES * 4;
    if (accountLocked || ipLocked) {
      const newlyLocked =
        accountLocked && account.consumedPoints === this.config.LOGIN_MAX_FAILURES + 1
          ? 'account'
          : ipLocked && address.consumedPoints === this.config.LOGIN_MAX_FAILURES * 4 + 1
            ? 'ip'
            : null;
      return { locked: true, retryAfterSeconds: Math.ceil(Math.max(account.msBeforeNext, address.msBeforeNext) / 1000), newlyLocked };
    }
    const extra = account.consumedPoints - 2;
    const delayMs = extra > 0 ? Math.min(this.config.LOGIN_SLOWDOWN_MS * 2 ** (extra - 1), 4000) : 0;
    return { locked: false, delayMs };
  }

  async recordSuccess(accountKey: string): Promise<void> {
    await this.guard(() => this.perAccount.delete(accountKey));
  }

  /** consume() rejects with the limiter state once over the limit; either way we want the state. */
  private async consume(limiter: RateLimiterRedis, key: string): Promise<RateLimiterRes> {
    try {
      return await limiter.consume(key);
    } catch (result) {
      if (result instanceof RateLimiterRes) return result;
      throw result;
    }
  }

  /** Without Redis we cannot count failures; refuse sign-in rather than allow unlimited guessing. */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof AppException) throw error;
      throw AppException.common(CommonErrorCode.ServiceUnavailable, 503, 'Sign-in is unavailable for a moment; retry shortly.', {
        retryAfterSeconds: 2,
      });
    }
  }
}
