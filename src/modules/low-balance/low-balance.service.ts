import { Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { trimDecimal } from '@app/money';
import { TenantDb } from '@app/tenancy';
import { EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { CUSTOMER } from '../customers/customers.permissions';
import { CustomerThresholdView, TenantThresholdView } from './dto/low-balance.dto';
import { LowBalanceAlerts } from './low-balance-alerts';
import { LOW_BALANCE_SETTINGS } from './low-balance.permissions';
import { LowBalanceRepository } from './low-balance.repository';

const trimmed = (v: string | null) => (v === null ? null : trimDecimal(v));

/** Reading and setting low-balance thresholds: a customer's own, and a tenant's default. */
@Injectable()
export class LowBalanceService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: LowBalanceRepository,
    private readonly alerts: LowBalanceAlerts,
    private readonly audit: AuditService,
  ) {}

  customerThreshold(customerId: string): Promise<CustomerThresholdView> {
    return this.tenantDb.forRequest(async (m) => {
      const customer = await this.customer(m, customerId, 'read');
      return this.customerView(m, customerId, customer.threshold);
    });
  }

  setCustomerThreshold(customerId: string, threshold: string | null): Promise<CustomerThresholdView> {
    const value = trimmed(threshold);
    return this.tenantDb.forRequest(async (m) => {
      const customer = await this.customer(m, customerId, 'update', true);
      await this.repository.setCustomerThreshold(m, this.auth.principal.tenantId, customerId, value);
      await this.audit.record(m, {
        tenantId: this.auth.principal.tenantId,
        action: 'customer.low_balance_threshold_set',
        subjectType: CUSTOMER,
        subjectId: customerId,
        before: { lowBalanceThreshold: trimmed(customer.threshold) },
        after: { lowBalanceThreshold: value },
      });
      return this.customerView(m, customerId, value);
    });
  }

  tenantThreshold(tenantId: string): Promise<TenantThresholdView> {
    return this.tenantDb.forRequest(async (m) => {
      const tenant = await this.tenant(m, tenantId, 'read');
      return this.tenantView(tenantId, tenant.threshold);
    });
  }

  setTenantThreshold(tenantId: string, threshold: string | null): Promise<TenantThresholdView> {
    const value = trimmed(threshold);
    return this.tenantDb.forRequest(async (m) => {
      const tenant = await this.tenant(m, tenantId, 'update', true);
      await this.repository.setTenantThreshold(m, tenantId, value);
      await this.audit.record(m, {
        tenantId,
        action: 'tenant.low_balance_threshold_set',
        subjectType: LOW_BALANCE_SETTINGS,
        subjectId: tenantId,
        before: { lowBalanceThreshold: trimmed(tenant.threshold) },
        after: { lowBalanceThreshold: value },
      });
      return this.tenantView(tenantId, value);
    });
  }

  private async customerView(m: EntityManager, customerId: string, own: string | null): Promise<CustomerThresholdView> {
    if (own !== null) return { customerId, threshold: trimDecimal(own), effectiveThreshold: trimDecimal(own), source: 'customer' };
    const tenant = await this.repository.tenant(m, this.auth.principal.tenantId);
    const fallback = this.tenantView(this.auth.principal.tenantId, tenant?.threshold ?? null);
    return { customerId, threshold: null, effectiveThreshold: fallback.effectiveThreshold, source: fallback.source };
  }

  private tenantView(tenantId: string, own: string | null): TenantThresholdView {
    return own !== null
      ? { tenantId, threshold: trimDecimal(own), effectiveThreshold: trimDecimal(own), source: 'tenant' }
      : { tenantId, threshold: null, effectiveThreshold: trimDecimal(this.alerts.platformDefault), source: 'platform' };
  }

  /** Unknown, another tenant's or out of reach: 404; visible but not this action: 403. */
  private async customer(m: EntityManager, customerId: string, action: 'read' | 'update', lock = false) {
    const tenantId = this.auth.principal.tenantId;
    const customer = await this.repository.customer(m, tenantId, customerId, lock);
    if (!customer) throw AppException.notFound(CUSTOMER);
    this.auth.assertCan(action, CUSTOMER, { id: customer.id, tenantId, salesUserId: customer.salesUserId });
    return customer;
  }

  private async tenant(m: EntityManager, tenantId: string, action: 'read' | 'update', lock = false) {
    const tenant = await this.repository.tenant(m, tenantId, lock);
    if (!tenant) throw AppException.notFound('tenant');
    this.auth.assertCan(action, LOW_BALANCE_SETTINGS, { tenantId: tenant.id });
    return tenant;
  }
}
