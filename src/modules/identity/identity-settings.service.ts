import { Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { fromUnits, toUnits } from '@app/money';
import { TenantDb } from '@app/tenancy';
import { AuditService } from '../audit/audit.service';
import { IdentitySettingsView, UpdateIdentitySettingsRequest } from './dto/identity.dto';
import { IDENTITY_SETTINGS } from './identity.permissions';
import { IdentityRepository, IdentitySettingsRow } from './identity.repository';

const view = (row: IdentitySettingsRow): IdentitySettingsView => ({
  signUpEnabled: row.signUpEnabled,
  signUpDomains: row.signUpDomains,
  signUpBonus: fromUnits(toUnits(row.signUpBonus)),
  requireStaffTwoFactor: row.requireStaffTwoFactor,
  updatedAt: row.updatedAt ? new Date(row.updatedAt).toISOString() : null,
});

/** The owner's identity settings of their own tenant (sign-up, bonus, staff two-factor). */
@Injectable()
export class IdentitySettingsService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: IdentityRepository,
    private readonly audit: AuditService,
  ) {}

  get(): Promise<IdentitySettingsView> {
    const tenantId = this.auth.principal.tenantId;
    return this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('read', IDENTITY_SETTINGS, { tenantId });
      return view(await this.repository.settings(m, tenantId));
    });
  }

  update(input: UpdateIdentitySettingsRequest): Promise<IdentitySettingsView> {
    const { tenantId, userId } = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('update', IDENTITY_SETTINGS, { tenantId });
      const before = await this.repository.settings(m, tenantId);
      const after: IdentitySettingsRow = {
        signUpEnabled: input.signUpEnabled ?? before.signUpEnabled,
        signUpDomains: input.signUpDomains ? [...new Set(input.signUpDomains)] : before.signUpDomains,
        signUpBonus: input.signUpBonus !== undefined ? fromUnits(toUnits(input.signUpBonus)) : before.signUpBonus,
        requireStaffTwoFactor: input.requireStaffTwoFactor ?? before.requireStaffTwoFactor,
        updatedAt: null,
      };
      await this.repository.saveSettings(m, tenantId, after, userId);
      const { updatedAt: _b, ...auditedBefore } = before;
      const { updatedAt: _a, ...auditedAfter } = after;
      await this.audit.record(m, { tenantId, action: 'tenant.identity_settings_updated', subjectType: IDENTITY_SETTINGS, subjectId: tenantId, before: auditedBefore, after: auditedAfter });
      return view(await this.repository.settings(m, tenantId));
    });
  }
}
