import { Injectable } from '@nestjs/common';
import { Principal, RequestAuth } from '@app/authorization';
import { TenantDb } from '@app/tenancy';
import { ClsService } from 'nestjs-cls';
import { AuditService } from '../audit/audit.service';
import { AuthErrorCode, authError } from './auth.exceptions';
import { RecoveryCodes, SecondFactorProof, TwoFactorCode, TwoFactorEnrolment, TwoFactorStatus } from './dto/two-factor.dto';
import { TwoFactor } from './two-factor';
import { TwoFactorRepository } from './two-factor.repository';

/** Whether a principal counts as staff (anyone holding a role other than `user`). */
export const isStaff = (roles: readonly string[]): boolean => roles.some((r) => r !== 'user');

/** The signed-in person's own two-factor sign-in: status, enrol, confirm, new recovery codes, turn off. */
@Injectable()
export class TwoFactorService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly twoFactor: TwoFactor,
    private readonly repository: TwoFactorRepository,
    private readonly audit: AuditService,
    private readonly cls: ClsService,
  ) {}

  status(): Promise<TwoFactorStatus> {
    const p = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      const state = await this.repository.state(m, p.tenantId, p.userId);
      return {
        enabled: !!state?.enabledAt,
        pending: !!state?.sealedSecret && !state.enabledAt,
        recoveryCodesLeft: state?.enabledAt ? await this.repository.recoveryCodesLeft(m, p.tenantId, p.userId) : 0,
        required: isStaff(p.roles) && (await this.repository.requiredForStaff(m, p.tenantId)),
      };
    });
  }

  /** Starts (or restarts) an enrolment: a new secret, pending until a code from it is confirmed. */
  enrol(): Promise<TwoFactorEnrolment> {
    const p = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      const state = await this.repository.state(m, p.tenantId, p.userId, true);
      if (state?.enabledAt) throw authError(AuthErrorCode.TwoFactorAlreadyEnabled);
      const secret = this.twoFactor.newSecret();
      await this.repository.setPending(m, p.tenantId, p.userId, this.twoFactor.seal(p.tenantId, p.userId, secret));
      const [tenant] = await m.query(`SELECT coalesce(branding->>'displayName', name) AS name FROM tenants WHERE id = $1`, [p.tenantId]);
      return { secret, ...(await this.twoFactor.provisioning(tenant?.name ?? p.tenantSlug, p.email, secret)) };
    });
  }

  /** Confirms the enrolment with a first code; answers the recovery codes, this once. */
  async confirm(input: TwoFactorCode): Promise<RecoveryCodes> {
    const p = this.auth.principal;
    return this.twoFactor.underLock(this.accountKey(p), this.ip(), () =>
      this.tenantDb.forRequest(async (m) => {
        const state = await this.repository.state(m, p.tenantId, p.userId, true);
        if (state?.enabledAt) throw authError(AuthErrorCode.TwoFactorAlreadyEnabled);
        if (!state?.sealedSecret) throw authError(AuthErrorCode.TwoFactorNotEnabled, 'Start an enrolment first.');
        if (!(await this.twoFactor.check(m, p.tenantId, p.userId, { code: input.code }, { pending: true }))) return false;
        await this.repository.enable(m, p.tenantId, p.userId);
        const { codes, hashes } = this.twoFactor.newRecoveryCodes();
        await this.repository.replaceRecoveryCodes(m, p.tenantId, p.userId, hashes);
        await this.audit.record(m, { tenantId: p.tenantId, action: 'auth.two_factor_enabled', subjectType: 'Member', subjectId: p.userId });
        return { recoveryCodes: codes };
      }),
    );
  }

  /** New recovery codes (the old ones stop working); needs a current code. */
  regenerateRecoveryCodes(input: TwoFactorCode): Promise<RecoveryCodes> {
    const p = this.auth.principal;
    return this.twoFactor.underLock(this.accountKey(p), this.ip(), () =>
      this.tenantDb.forRequest(async (m) => {
        await this.assertEnabled(m, p);
        if (!(await this.twoFactor.check(m, p.tenantId, p.userId, { code: input.code }))) return false;
        const { codes, hashes } = this.twoFactor.newRecoveryCodes();
        await this.repository.replaceRecoveryCodes(m, p.tenantId, p.userId, hashes);
        await this.audit.record(m, { tenantId: p.tenantId, action: 'auth.recovery_codes_regenerated', subjectType: 'Member', subjectId: p.userId });
        return { recoveryCodes: codes };
      }),
    );
  }

  /** Turns two-factor off with a code or a recovery code; staff cannot while their tenant requires it. */
  async disable(input: SecondFactorProof): Promise<void> {
    const p = this.auth.principal;
    await this.twoFactor.underLock(this.accountKey(p), this.ip(), () =>
      this.tenantDb.forRequest(async (m) => {
        await this.assertEnabled(m, p);
        if (isStaff(p.roles) && (await this.repository.requiredForStaff(m, p.tenantId))) throw authError(AuthErrorCode.TwoFactorRequiredByTenant);
        if (!(await this.twoFactor.check(m, p.tenantId, p.userId, input))) return false;
        await this.repository.clear(m, p.tenantId, p.userId);
        await this.audit.record(m, { tenantId: p.tenantId, action: 'auth.two_factor_disabled', subjectType: 'Member', subjectId: p.userId });
        return true;
      }),
    );
  }

  private async assertEnabled(m: Parameters<TwoFactorRepository['state']>[0], p: Principal): Promise<void> {
    const state = await this.repository.state(m, p.tenantId, p.userId);
    if (!state?.enabledAt) throw authError(AuthErrorCode.TwoFactorNotEnabled);
  }

  private accountKey(p: Principal): string {
    return `${p.tenantId}:${p.email.toLowerCase()}`;
  }

  private ip(): string {
    return (this.cls.isActive() && this.cls.get<string | null>('clientIp')) || 'unknown';
  }
}
