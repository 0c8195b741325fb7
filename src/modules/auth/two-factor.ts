import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { SecretBox } from '@app/providers';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import { EntityManager } from 'typeorm';
import { AuthErrorCode, authError } from './auth.exceptions';
import { LoginThrottle } from './login-throttle';
import { digest } from './token-secrets';
import { TwoFactorRepository } from './two-factor.repository';

export interface SecondFactorInput {
  code?: string;
  recoveryCode?: string;
}

const RECOVERY_CODES = 10;
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** A recovery code as typed: case, spaces and dashes do not matter. */
export function normaliseRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

/**
 * TOTP two-factor (RFC 6238, otplib): the secret is sealed at rest bound to its user (like channel
 * keys), a code is accepted once (its time step is remembered), and recovery codes are kept as
 * SHA-256 digests (50 random bits each), each usable once. Wrong codes count toward the same lock
 * as wrong passwords (per account and per IP), so codes cannot be guessed faster than passwords.
 */
@Injectable()
export class TwoFactor {
  private readonly box: SecretBox;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly repository: TwoFactorRepository,
    private readonly throttle: LoginThrottle,
  ) {
    this.box = new SecretBox(config.CHANNEL_ENCRYPTION_KEYS);
  }

  newSecret(): string {
    return generateSecret();
  }

  seal(tenantId: string, userId: string, secret: string): string {
    return this.box.encrypt(secret, context(tenantId, userId));
  }

  async provisioning(issuer: string, label: string, secret: string): Promise<{ otpauthUrl: string; qrCodeDataUrl: string }> {
    const otpauthUrl = generateURI({ issuer, label, secret });
    return { otpauthUrl, qrCodeDataUrl: await QRCode.toDataURL(otpauthUrl, { errorCorrectionLevel: 'M', margin: 1, width: 220 }) };
  }

  newRecoveryCodes(): { codes: string[]; hashes: Buffer[] } {
    const codes: string[] = [];
    for (let i = 0; i < RECOVERY_CODES; i++) {
      const bytes = randomBytes(10);
      const chars = [...bytes].map((b) => RECOVERY_ALPHABET[b % RECOVERY_ALPHABET.length]).join('');
      codes.push(`${chars.slice(0, 5)}-${chars.slice(5)}`);
    }
    return { codes, hashes: codes.map((c) => digest(normaliseRecoveryCode(c))) };
  }

  /**
   * Checks a TOTP code (against the confirmed secret, or the pending one when `pending`) or a
   * recovery code, spending it. False when wrong, replayed or when no secret is set.
   */
  async check(m: EntityManager, tenantId: string, userId: string, input: SecondFactorInput, options: { pending?: boolean } = {}): Promise<false | 'totp' | 'recovery'> {
    const state = await this.repository.state(m, tenantId, userId, true);
    if (!state?.sealedSecret) return false;
    if (!options.pending && !state.enabledAt) return false;
    if (input.code !== undefined) {
      const code = input.code.replace(/\s/g, '');
      if (!/^\d{6}$/.test(code)) return false;
      const secret = this.box.decrypt(state.sealedSecret, context(tenantId, userId));
      const result = await verify({ secret, token: code, epochTolerance: 30 });
      if (!result.valid) return false;
      const step = (result as { timeStep?: number }).timeStep;
      if (typeof step !== 'number') return false;
      return (await this.repository.useStep(m, tenantId, userId, step)) ? 'totp' : false;
    }
    if (input.recoveryCode !== undefined && state.enabledAt) {
      return (await this.repository.useRecoveryCode(m, tenantId, userId, digest(normaliseRecoveryCode(input.recoveryCode)))) ? 'recovery' : false;
    }
    return false;
  }

  /**
   * Runs a code check under the sign-in lock: refused at once while the account or IP is locked; a
   * wrong code is a failed sign-in (slowed down, then locked with 429 login_locked).
   */
  async underLock<T>(accountKey: string, ip: string, attempt: () => Promise<T | false>): Promise<T> {
    await this.throttle.assertNotLocked(accountKey, ip);
    const outcome = await attempt();
    if (outcome !== false) return outcome;
    const failure = await this.throttle.recordFailure(accountKey, ip);
    if (failure.locked) throw authError(AuthErrorCode.LoginLocked, `Try again in ${failure.retryAfterSeconds} s.`, { retryAfterSeconds: failure.retryAfterSeconds });
    if (failure.delayMs > 0) await sleep(failure.delayMs);
    throw authError(AuthErrorCode.InvalidSecondFactor);
  }
}

function context(tenantId: string, userId: string): string {
  return `aigateway:totp:${tenantId}:${userId}`;
}
