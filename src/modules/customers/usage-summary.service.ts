import { Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { TenantDb } from '@app/tenancy';
import { UsageRecordsRepository } from '../usage/usage-records.repository';
import { toRecordView, toTotals, usageRange, usageScope } from '../usage/usage-scope';
import { UsageGroup, UsageRecordList, UsageRecordsQuery, UsageSummary, UsageSummaryQuery } from './dto/customer.dto';
import { CustomersRepository } from './customers.repository';

/**
 * Usage over the caller's whole scope: a salesperson's customers, a tenant for its owner, operator
 * and finance (also grouped by the salesperson of each request's time), the bound resellers for a
 * platform salesperson, everything for the platform's owner, operator and finance. The scope is
 * the CASL filter in SQL inside the caller's RLS scope, so totals never include a row outside it.
 */
@Injectable()
export class UsageSummaryService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly usage: UsageRecordsRepository,
    private readonly customers: CustomersRepository,
  ) {}

  summary(query: UsageSummaryQuery): Promise<UsageSummary> {
    const principal = this.auth.principal;
    const range = usageRange(query);
    return this.tenantDb.forRequest(async (m) => {
      const scope = usageScope(this.auth.ability);
      if (!scope) throw AppException.forbidden('You may not read usage.');
      const { totals, groups } = await this.usage.summarize(m, scope, { ...range, tenantId: query.tenantId }, query.groupBy);
      let labelled: UsageGroup[] | undefined;
      if (query.groupBy) {
        const keys = groups.map((g) => g.key).filter((k): k is string => k !== null);
        // Labels only for the caller's own colleagues and for tenants their scope already shows.
        const labels =
          query.groupBy === 'sales'
            ? new Map([...(await this.customers.people(m, principal.tenantId, keys))].filter(([, p]) => p.email).map(([id, p]) => [id, p.email]))
            : query.groupBy === 'tenant'
              ? await this.customers.tenantSlugs(m, keys)
              : new Map<string, string | null>();
        labelled = groups.map((g) => ({
          key: g.key,
          ...(query.groupBy === 'sales' || query.groupBy === 'tenant' ? { label: (g.key && labels.get(g.key)) ?? null } : {}),
          ...toTotals(g, principal),
        }));
      }
      return { ...range, totals: toTotals(totals, principal), ...(labelled ? { groups: labelled } : {}) };
    });
  }

  /**
   * The usage records of one `x-request-id` (support looking up a disputed request), under
   * exactly the scope of the summaries: what the caller may aggregate is what it may look up.
   */
  records(query: UsageRecordsQuery): Promise<UsageRecordList> {
    const principal = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      const scope = usageScope(this.auth.ability);
      if (!scope) throw AppException.forbidden('You may not read usage.');
      const rows = await this.usage.findByHttpRequestId(m, scope, query.requestId, query.tenantId);
      return { items: rows.map((row) => toRecordView(row, principal)) };
    });
  }
}
