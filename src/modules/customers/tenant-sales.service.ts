import { Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { TenantDb } from '@app/tenancy';
import { EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { TENANT } from '../tenants/tenants.permissions';
import { TenantsRepository } from '../tenants/tenants.repository';
import { TenantSalesView } from './dto/customer.dto';
import { CustomerErrorCode, customerError } from './customers.exceptions';
import { TENANT_SALES_BINDING } from './customers.permissions';
import { CustomersRepository } from './customers.repository';

/**
 * Platform salespeople bound to reseller tenants. Platform owner and operator bind, unbind and
 * reassign; the bound salesperson then reaches that reseller's tenant record and aggregate usage
 * (their principal's boundTenantIds, loaded per request, widen RLS and CASL together).
 */
@Injectable()
export class TenantSalesService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly customers: CustomersRepository,
    private readonly tenants: TenantsRepository,
    private readonly audit: AuditService,
  ) {}

  get(resellerId: string): Promise<TenantSalesView> {
    return this.tenantDb.forRequest(async (m) => {
      const reseller = await this.tenants.findById(m, resellerId);
      if (!reseller) throw AppException.notFound(TENANT);
      this.auth.assertCan('read', TENANT_SALES_BINDING, { resellerId });
      return this.view(m, resellerId);
    });
  }

  set(resellerId: string, salesUserId: string | null): Promise<TenantSalesView> {
    const principal = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      const reseller = await this.customers.lockTenant(m, resellerId);
      if (!reseller) throw AppException.notFound(TENANT);
      this.auth.assertCan('assign', TENANT_SALES_BINDING, { resellerId });
      if (reseller.type !== 'reseller') throw customerError(CustomerErrorCode.NotAReseller);
      if (salesUserId) {
        const salesperson = await this.customers.lockSalesperson(m, principal.tenantId, salesUserId);
        if (!salesperson) throw customerError(CustomerErrorCode.SalespersonNotFound);
        if (!salesperson.isSales) throw customerError(CustomerErrorCode.NotASalesperson);
        if (salesperson.status !== 'active') throw customerError(CustomerErrorCode.SalespersonInactive);
      }
      const history = await this.customers.resellerHistory(m, principal.tenantId, resellerId);
      const current = history[0] && !history[0].unboundAt ? history[0].salesperson.id : null;
      if (current !== salesUserId) {
        if (current) await this.customers.unbindReseller(m, principal.tenantId, resellerId, principal.userId, salesUserId ? 'reassigned' : 'unbound');
        if (salesUserId) await this.customers.bindReseller(m, principal.tenantId, resellerId, salesUserId, principal.userId);
        await this.audit.record(m, {
          tenantId: principal.tenantId,
          action: salesUserId ? 'tenant.sales_bound' : 'tenant.sales_unbound',
          subjectType: TENANT,
          subjectId: resellerId,
          before: { salesUserId: current },
          after: { salesUserId },
        });
      }
      return this.view(m, resellerId);
    });
  }

  private async view(m: EntityManager, resellerId: string): Promise<TenantSalesView> {
    const history = await this.customers.resellerHistory(m, this.auth.principal.tenantId, resellerId);
    const current = history[0] && !history[0].unboundAt ? history[0] : null;
    return { resellerId, salesperson: current?.salesperson ?? null, boundAt: current?.boundAt ?? null, history };
  }
}
