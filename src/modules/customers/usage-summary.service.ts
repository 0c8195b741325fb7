import { Injectable } from '@nestjs/common';
import { Readable, Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import QueryStream from 'pg-query-stream';
import { abilityToSql, hasRole, RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { TenantDb } from '@app/tenancy';
import { AuditService } from '../audit/audit.service';
import { UsageExportRow, UsageFilters, UsageRecordsRepository } from '../usage/usage-records.repository';
import { decodeCursor, encodeCursor, seesChannels, toListView, toTotals, usageRange, usageScope } from '../usage/usage-scope';
import {
  TopCustomerList,
  UsageExportQuery,
  UsageGroup,
  UsageRecordList,
  UsageRecordView,
  UsageRecordsQuery,
  UsageSummary,
  UsageSummaryQuery,
  UsageTopCustomersQuery,
} from './dto/customer.dto';
import { REQUEST_LOG } from './customers.permissions';
import { CustomersRepository } from './customers.repository';

const DEFAULT_PAGE = 50;
/** Rows the export fetches from its cursor at a time: memory stays flat however many rows there are. */
const EXPORT_BATCH = 500;

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
    private readonly audit: AuditService,
  ) {}

  /** The narrowing filters of a query (never widening the caller's scope). */
  private filters(query: UsageExportQuery): Omit<UsageFilters, 'from' | 'to'> {
    return { tenantId: query.tenantId, keyId: query.keyId, model: query.model, customerId: query.customerId, status: query.status };
  }

  summary(query: UsageSummaryQuery): Promise<UsageSummary> {
    const principal = this.auth.principal;
    const range = usageRange(query);
    return this.tenantDb.forReport(async (m) => {
      const scope = usageScope(this.auth.ability);
      if (!scope) throw AppException.forbidden('You may not read usage.');
      if (query.groupBy === 'channel' && !seesChannels(principal)) throw AppException.forbidden('Only platform staff see channels.');
      const { totals, groups } = await this.usage.summarize(m, scope, { ...range, ...this.filters(query) }, query.groupBy);
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
   * The caller's requests, newest first, one keyset page at a time, under exactly the scope of the
   * summaries (what the caller may aggregate is what it may list). With `requestId` and no range,
   * all time is searched (support looking up a disputed request).
   */
  records(query: UsageRecordsQuery): Promise<UsageRecordList> {
    return this.tenantDb.forReport(async (m) => {
      const scope = usageScope(this.auth.ability);
      if (!scope) throw AppException.forbidden('You may not read usage.');
      return this.page(m, scope, query);
    });
  }

  /**
   * Platform tech (and the platform owner) reading requests across resellers for monitoring: the
   * platform-wide RLS scope their role gets, a rule of its own (request logs, not usage and bills:
   * no money is shown to tech), and an audit entry for every read.
   */
  platformRecords(query: UsageRecordsQuery): Promise<UsageRecordList> {
    const principal = this.auth.principal;
    return this.tenantDb.forRequest(async (m) => {
      const scope = abilityToSql(this.auth.ability, 'read', REQUEST_LOG, { tenantId: 'ur.tenant_id' }, 'rlog');
      if (!scope) throw AppException.forbidden('You may not read request logs.');
      const page = await this.page(m, scope, query);
      // Tech monitors requests; money is for the roles of "usage and bills".
      if (!hasRole(principal, 'owner', 'operator', 'finance')) for (const item of page.items) delete item.spend;
      await this.audit.record(m, {
        tenantId: principal.tenantId,
        action: 'usage.records.read',
        subjectType: 'UsageRecords',
        subjectId: null,
        after: { ...query, returned: page.items.length },
      });
      return page;
    });
  }

  private async page(m: Parameters<UsageRecordsRepository['list']>[0], scope: Parameters<UsageRecordsRepository['list']>[1], query: UsageRecordsQuery): Promise<UsageRecordList> {
    const principal = this.auth.principal;
    const range = query.requestId && !query.from && !query.to ? {} : usageRange(query);
    const limit = query.limit ?? DEFAULT_PAGE;
    const rows = await this.usage.list(m, scope, { ...range, ...this.filters(query), httpRequestId: query.requestId }, decodeCursor(query.cursor), limit);
    const more = rows.length > limit;
    const items = rows.slice(0, limit);
    const views = items.map((row) => toListView(row, principal));
    await this.nameParties(m, views);
    return { items: views, nextCursor: more ? encodeCursor(items[items.length - 1]) : null };
  }

  /**
   * Whose requests they were, for staff: the e-mail and name of their own tenant's customers, and
   * the slug of other tenants (platform views). Nothing personal about another tenant's customers,
   * and nothing for a customer reading their own.
   */
  private async nameParties(m: Parameters<UsageRecordsRepository['list']>[0], views: UsageRecordView[]): Promise<void> {
    const principal = this.auth.principal;
    if (principal.roles.every((role) => role === 'user')) return;
    const own = [...new Set(views.filter((v) => v.tenantId === principal.tenantId).map((v) => v.customerId))];
    const others = [...new Set(views.filter((v) => v.tenantId !== principal.tenantId).map((v) => v.tenantId))];
    const people = await this.customers.people(m, principal.tenantId, own);
    const slugs = await this.customers.tenantSlugs(m, others);
    for (const view of views) {
      if (view.tenantId === principal.tenantId) {
        const person = people.get(view.customerId);
        view.customerEmail = person?.email ?? null;
        view.customerName = person?.displayName ?? null;
      } else {
        view.tenantSlug = slugs.get(view.tenantId) ?? null;
      }
    }
  }

  /** The `limit` customers of the caller's scope with the highest spend over the range. */
  topCustomers(query: UsageTopCustomersQuery): Promise<TopCustomerList> {
    const principal = this.auth.principal;
    const range = usageRange(query);
    return this.tenantDb.forReport(async (m) => {
      const scope = usageScope(this.auth.ability);
      if (!scope) throw AppException.forbidden('You may not read usage.');
      const rows = await this.usage.topCustomers(m, scope, { ...range, ...this.filters(query) }, query.limit ?? 10);
      // E-mails only of the caller's own tenant's customers (a platform salesperson sees ids).
      const own = rows.filter((r) => r.tenant_id === principal.tenantId).map((r) => r.key!);
      const people = principal.tenantType === 'reseller' || own.length ? await this.customers.people(m, principal.tenantId, own) : new Map();
      return {
        ...range,
        items: rows.map((r) => ({
          customerId: r.key!,
          tenantId: r.tenant_id,
          ...(r.tenant_id === principal.tenantId ? { email: people.get(r.key!)?.email ?? null } : {}),
          ...toTotals(r, principal),
        })),
      };
    });
  }

  /**
   * The requests of the caller's scope as CSV (a customer: their own), oldest first, with the
   * summary's filters, streamed from a database cursor: `open` gets the body stream once the scope
   * checks passed, and the tenant transaction stays open until the last row was written (or the
   * client went away). Text a spreadsheet would run as a formula is defused with a leading `'`.
   */
  export(query: UsageExportQuery, open: (body: Readable) => void): Promise<void> {
    const range = usageRange(query);
    return this.tenantDb.forReport(async (m) => {
      const scope = usageScope(this.auth.ability);
      if (!scope) throw AppException.forbidden('You may not read usage.');
      const [sql, params] = this.usage.exportQuery(m, scope, { ...range, ...this.filters(query) });
      const client = (m.queryRunner as unknown as { databaseConnection: PoolClient }).databaseConnection;
      const rows = client.query(new QueryStream(sql, params as unknown[], { batchSize: EXPORT_BATCH }));
      let header = true;
      const body = new Transform({
        writableObjectMode: true,
        transform(row: UsageExportRow, _encoding, done) {
          const line = csvLine(row);
          done(null, header ? `${USAGE_CSV_COLUMNS.join(',')}\r\n${line}` : line);
          header = false;
        },
        flush(done) {
          done(null, header ? `${USAGE_CSV_COLUMNS.join(',')}\r\n` : undefined);
        },
      });
      rows.on('error', (error) => body.destroy(error));
      body.on('close', () => rows.destroy());
      rows.pipe(body);
      open(body);
      try {
        await finished(body);
      } catch (error) {
        // The client went away: the cursor is closed (above) and the read-only transaction ends.
        if ((error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw error;
      }
    });
  }
}

function csvLine(r: UsageExportRow): string {
  return `${[
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
    .join(',')}\r\n`;
}

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
