import { Inject, Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppConfig, APP_CONFIG } from '@app/config';
import { AppException } from '@app/errors';
import { TenantDb } from '@app/tenancy';
import { AuditService } from '../audit/audit.service';
import { TENANT } from '../tenants/tenants.permissions';
import { CustomerLimitsView, SetCustomerLimitsRequest, SetTenantLimitsRequest, TenantLimitsView } from './dto/limits.dto';
import { LimitsRuntime } from './limits-runtime';
import { CUSTOMER_LIMITS, TENANT_LIMITS } from './limits.permissions';
import { LimitsRepository, StoredLimits } from './limits.repository';

const value = (stored: number | null, fallback: number) => ({ stored, effective: stored ?? fallback });

/**
 * Stored rate and concurrency limits (issue 26): a tenant's (the platform sets them) and a
 * customer's (its tenant's owner sets them), over the environment's defaults. A PUT replaces
 * every field it names; an absent field is unchanged; null returns it to the default.
 */
@Injectable()
export class LimitsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: LimitsRepository,
    private readonly runtime: LimitsRuntime,
    private readonly audit: AuditService,
  ) {}

  getTenant(tenantId: string): Promise<TenantLimitsView> {
    return this.tenantDb.forRequest(async (m) => {
      if (!(await this.repository.tenantType(m, tenantId))) throw AppException.notFound(TENANT);
      this.auth.assertCan('read', TENANT_LIMITS, { tenantId });
      return this.tenantView(tenantId, await this.repository.tenant(m, tenantId));
    });
  }

  async setTenant(tenantId: string, input: SetTenantLimitsRequest): Promise<TenantLimitsView> {
    const view = await this.tenantDb.forRequest(async (m) => {
      if (!(await this.repository.tenantType(m, tenantId))) throw AppException.notFound(TENANT);
      this.auth.assertCan('update', TENANT_LIMITS, { tenantId });
      const before = await this.repository.tenant(m, tenantId);
      const after = { rpm: input.rpm === undefined ? before.rpm : input.rpm, tpm: input.tpm === undefined ? before.tpm : input.tpm };
      await this.repository.setTenant(m, tenantId, after, this.auth.principal.userId);
      await this.audit.record(m, { tenantId, action: 'limits.tenant_set', subjectType: TENANT_LIMITS, subjectId: tenantId, before, after });
      return this.tenantView(tenantId, after);
    });
    await this.runtime.invalidate(tenantId);
    return view;
  }

  getCustomer(customerId: string): Promise<CustomerLimitsView> {
    const tenantId = this.auth.principal.tenantId;
    return this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('read', CUSTOMER_LIMITS, { tenantId });
      if (!(await this.repository.isCustomer(m, tenantId, customerId))) throw AppException.notFound('customer');
      return this.customerView(customerId, await this.repository.customer(m, tenantId, customerId));
    });
  }

  async setCustomer(customerId: string, input: SetCustomerLimitsRequest): Promise<CustomerLimitsView> {
    const tenantId = this.auth.principal.tenantId;
    const view = await this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('update', CUSTOMER_LIMITS, { tenantId });
      if (!(await this.repository.isCustomer(m, tenantId, customerId))) throw AppException.notFound('customer');
      const before = await this.repository.customer(m, tenantId, customerId);
      const after: StoredLimits = {
        rpm: input.rpm === undefined ? before.rpm : input.rpm,
        tpm: input.tpm === undefined ? before.tpm : input.tpm,
        concurrency: input.concurrency === undefined ? before.concurrency : input.concurrency,
      };
      await this.repository.setCustomer(m, tenantId, customerId, after, this.auth.principal.userId);
      await this.audit.record(m, { tenantId, action: 'limits.customer_set', subjectType: CUSTOMER_LIMITS, subjectId: customerId, before: { ...before }, after: { ...after } });
      return this.customerView(customerId, after);
    });
    await this.runtime.invalidate(tenantId);
    return view;
  }

  private tenantView(tenantId: string, stored: { rpm: number | null; tpm: number | null }): TenantLimitsView {
    return { tenantId, rpm: value(stored.rpm, this.config.INFERENCE_TENANT_RPM), tpm: value(stored.tpm, this.config.INFERENCE_TENANT_TPM) };
  }

  private customerView(customerId: string, stored: StoredLimits): CustomerLimitsView {
    return {
      customerId,
      rpm: value(stored.rpm, this.config.INFERENCE_CUSTOMER_RPM),
      tpm: value(stored.tpm, this.config.INFERENCE_CUSTOMER_TPM),
      concurrency: value(stored.concurrency, this.config.INFERENCE_CUSTOMER_CONCURRENCY),
    };
  }
}
