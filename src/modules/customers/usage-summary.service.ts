import { Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { TenantDb } from '@app/tenancy';
import { UsageRecordsRepository } from '../usage/usage-records.repository';
import { toTotals, usageRange, usageScope } from '../usage/usage-scope';
import { UsageExportQuery, UsageGroup, UsageSummary, UsageSummaryQuery } from './dto/customer.dto';
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
      const { totals, groups } = await this.usage.summarize(m, scope, { ...range, tenantId: query.tenantId, keyId: query.keyId, model: query.model }, query.groupBy);
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
   * The requests of the caller's scope as CSV (a customer: their own), oldest first, with the
   * summary's filters. At most USAGE_EXPORT_MAX_ROWS rows; `truncated` says when there were more
   * (narrow the range). Text a spreadsheet would run as a formula is defused with a leading `'`.
   */
  export(query: UsageExportQuery): Promise<{ csv: string; truncated: boolean }> {
    const range = usageRange(query);
    return this.tenantDb.forRequest(async (m) => {
      const scope = usageScope(this.auth.ability);
      if (!scope) throw AppException.forbidden('You may not read usage.');
      const rows = await this.usage.exportRows(m, scope, { ...range, tenantId: query.tenantId, keyId: query.keyId, model: query.model }, USAGE_EXPORT_MAX_ROWS + 1);
      const truncated = rows.length > USAGE_EXPORT_MAX_ROWS;
      const lines = [USAGE_CSV_COLUMNS.join(',')];
      for (const r of rows.slice(0, USAGE_EXPORT_MAX_ROWS)) {
        lines.push(
          [
            new Date(r.created_at).toISOString(),
            r.request_id,
            r.customer_id,
            r.api_key_id ?? '',
            r.key_name ?? '',
            r.model,
            r.input_tokens,
            r.output_tokens,
            r.cache_read_tokens,
            r.cache_write_tokens,
            r.retail_charge,
            r.status,
            String(r.latency_ms),
          ]
            .map(csvField)
            .join(','),
        );
      }
      return { csv: `${lines.join('\r\n')}\r\n`, truncated };
    });
  }
}

export const USAGE_EXPORT_MAX_ROWS = 100_000;

export const USAGE_CSV_COLUMNS = [
  'time',
  'request_id',
  'customer_id',
  'key_id',
  'key_name',
  'model',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'charge',
  'status',
  'latency_ms',
];

/** RFC 4180 quoting, and a `'` before text a spreadsheet would evaluate (=, +, -, @, tab, CR). */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) && !/^-?\d+(\.\d+)?$/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
