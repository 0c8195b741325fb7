import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { TENANT } from '../tenants/tenants.permissions';
import { CUSTOMER } from './customers.permissions';
import { CustomersRepository } from './customers.repository';

export type ReleaseReason = 'salesperson_disabled' | 'salesperson_removed' | 'sales_role_removed';

/**
 * When a salesperson is disabled, removed or loses the sales role, their customers (and, for
 * platform sales, their resellers) become unbound in the same transaction, each with an audit
 * entry naming the reason: never left bound to someone who can no longer serve them.
 */
@Injectable()
export class SalespersonRelease {
  constructor(
    private readonly customers: CustomersRepository,
    private readonly audit: AuditService,
  ) {}

  async release(manager: EntityManager, tenantId: string, salesUserId: string, actorId: string | null, reason: ReleaseReason): Promise<number> {
    const released = await this.customers.releaseSalesperson(manager, tenantId, salesUserId, actorId, reason);
    for (const customerId of released.customerIds) {
      await this.audit.record(manager, {
        tenantId,
        action: 'customer.unbound',
        subjectType: CUSTOMER,
        subjectId: customerId,
        before: { salesUserId },
        after: { salesUserId: null, reason },
      });
    }
    for (const resellerId of released.resellerIds) {
      await this.audit.record(manager, {
        tenantId,
        action: 'tenant.sales_unbound',
        subjectType: TENANT,
        subjectId: resellerId,
        before: { salesUserId },
        after: { salesUserId: null, reason },
      });
    }
    return released.customerIds.length + released.resellerIds.length;
  }
}
