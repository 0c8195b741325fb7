import { Inject, Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppConfig, APP_CONFIG } from '@app/config';
import { AppException } from '@app/errors';
import { TenantDb } from '@app/tenancy';
import { AuditService } from '../audit/audit.service';
import { TENANT } from '../tenants/tenants.permissions';
import { budgetCounter } from '@app/billing';
import { fromUnits, trimDecimal } from '@app/money';
import { EntityManager } from 'typeorm';
import { isTimeZone, periodIds } from './budget-periods';
import { BudgetListView, BudgetQuery, BudgetView, CustomerLimitsView, SetBudgetRequest, SetCustomerLimitsRequest, SetTenantLimitsRequest, SetTimeZoneRequest, TenantLimitsView } from './dto/limits.dto';
import { LimitsRuntime } from './limits-runtime';
import { CUSTOMER_LIMITS, TENANT_LIMITS } from './limits.permissions';
import { LimitsRepository, StoredLimits, TenantStored, WindowLimits } from './limits.repository';

const value = (stored: number | null, fallback: number) => ({ stored, effective: stored ?? fallback });
/** The hour and day windows of a view: no platform default, so effective 0 (none) when unset. */
const windowValues = (w: WindowLimits) => ({ rph: value(w.rph, 0), rpd: value(w.rpd, 0), tph: value(w.tph, 0), tpd: value(w.tpd, 0) });
/** The windows after a PUT: a named field replaces, an absent one is kept. */
const mergeWindows = (before: WindowLimits, input: Partial<WindowLimits>): WindowLimits => ({
  rph: input.rph === undefined ? before.rph : input.rph,
  rpd: input.rpd === undefined ? before.rpd : input.rpd,
  tph: input.tph === undefined ? before.tph : input.tph,
  tpd: input.tpd === undefined ? before.tpd : input.tpd,
});

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
      const after: TenantStored = {
        rpm: input.rpm === undefined ? before.rpm : input.rpm,
        tpm: input.tpm === undefined ? before.tpm : input.tpm,
        ipRpm: input.ipRpm === undefined ? before.ipRpm : input.ipRpm,
        ...mergeWindows(before, input),
      };
      await this.repository.setTenant(m, tenantId, after, this.auth.principal.userId);
      await this.audit.record(m, { tenantId, action: 'limits.tenant_set', subjectType: TENANT_LIMITS, subjectId: tenantId, before: { ...before }, after: { ...after } });
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
        ...mergeWindows(before, input),
      };
      await this.repository.setCustomer(m, tenantId, customerId, after, this.auth.principal.userId);
      await this.audit.record(m, { tenantId, action: 'limits.customer_set', subjectType: CUSTOMER_LIMITS, subjectId: customerId, before: { ...before }, after: { ...after } });
      return this.customerView(customerId, after);
    });
    await this.runtime.invalidate(tenantId);
    return view;
  }

  async budgets(query: BudgetQuery): Promise<BudgetListView> {
    const tenantId = this.auth.principal.tenantId;
    const { rows, timeZone } = await this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('read', CUSTOMER_LIMITS, { tenantId });
      await this.assertSubject(m, tenantId, query);
      return { rows: await this.repository.budgets(m, tenantId, query), timeZone: await this.repository.timeZone(m, tenantId) };
    });
    const ids = periodIds(Date.now(), timeZone);
    const items: BudgetView[] = [];
    for (const b of rows) {
      const spent = await this.runtime.spent(tenantId, budgetCounter(b.subject, b.subjectId, b.period, ids[b.period])).catch(() => 0n);
      items.push({ subject: b.subject, subjectId: b.subjectId, period: b.period, amount: b.amount, periodId: ids[b.period], spent: trimDecimal(fromUnits(spent)) });
    }
    return { timeZone, items };
  }

  /** Sets (or with null removes) a budget of a customer or a key: the tenant's owner. */
  async setBudget(input: SetBudgetRequest): Promise<BudgetListView> {
    const tenantId = this.auth.principal.tenantId;
    const amount = input.amount === null ? null : trimDecimal(input.amount);
    await this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('update', CUSTOMER_LIMITS, { tenantId });
      await this.assertSubject(m, tenantId, input);
      const before = (await this.repository.budgets(m, tenantId, input)).find((b) => b.period === input.period)?.amount ?? null;
      await this.repository.setBudget(m, tenantId, input, amount, this.auth.principal.userId);
      await this.audit.record(m, {
        tenantId,
        action: 'limits.budget_set',
        subjectType: CUSTOMER_LIMITS,
        subjectId: input.subjectId,
        before: { subject: input.subject, period: input.period, amount: before },
        after: { subject: input.subject, period: input.period, amount },
      });
    });
    await this.runtime.invalidate(tenantId);
    return this.budgets({ subject: input.subject, subjectId: input.subjectId });
  }

  async setTimeZone(input: SetTimeZoneRequest): Promise<{ timeZone: string }> {
    const tenantId = this.auth.principal.tenantId;
    if (!isTimeZone(input.timeZone)) throw AppException.validation([{ field: 'timeZone', messages: ['timeZone must be an IANA time zone such as Asia/Shanghai'] }]);
    await this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('update', CUSTOMER_LIMITS, { tenantId });
      const before = await this.repository.timeZone(m, tenantId);
      await this.repository.setTimeZone(m, tenantId, input.timeZone);
      await this.audit.record(m, { tenantId, action: 'limits.time_zone_set', subjectType: CUSTOMER_LIMITS, subjectId: tenantId, before: { timeZone: before }, after: { timeZone: input.timeZone } });
    });
    await this.runtime.invalidate(tenantId);
    return { timeZone: input.timeZone };
  }

  private async assertSubject(m: EntityManager, tenantId: string, s: { subject: 'customer' | 'key'; subjectId: string }): Promise<void> {
    const found = s.subject === 'customer' ? await this.repository.isCustomer(m, tenantId, s.subjectId) : await this.repository.keyOf(m, tenantId, s.subjectId);
    if (!found) throw AppException.notFound(s.subject === 'customer' ? 'customer' : 'API key');
  }

  private tenantView(tenantId: string, stored: TenantStored): TenantLimitsView {
    return {
      tenantId,
      rpm: value(stored.rpm, this.config.INFERENCE_TENANT_RPM),
      tpm: value(stored.tpm, this.config.INFERENCE_TENANT_TPM),
      ipRpm: value(stored.ipRpm, this.config.INFERENCE_IP_RPM),
      ...windowValues(stored),
    };
  }

  private customerView(customerId: string, stored: StoredLimits): CustomerLimitsView {
    return {
      customerId,
      rpm: value(stored.rpm, this.config.INFERENCE_CUSTOMER_RPM),
      tpm: value(stored.tpm, this.config.INFERENCE_CUSTOMER_TPM),
      concurrency: value(stored.concurrency, this.config.INFERENCE_CUSTOMER_CONCURRENCY),
      ...windowValues(stored),
    };
  }
}
