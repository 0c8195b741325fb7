import type { PriceUnitName } from '@app/money';
import { Injectable } from '@nestjs/common';
import { abilityToSql, hasRole, Principal, RequestAuth, SqlFilter } from '@app/authorization';
import { AppException } from '@app/errors';
import { fromUnits, toUnits } from '@app/money';
import { TenantDb } from '@app/tenancy';
import { csvRow } from './csv';
import { OpenRollup, OpenRollupQuery, RollupQuery, StatementDetail, StatementFigures, StatementLineView, StatementListQuery, StatementPage, StatementRollup, StatementView } from './dto/statement.dto';
import { periodEndAfter, periodStartOf } from './periods';
import { settlementError, SettlementErrorCode } from './settlement.exceptions';
import { STATEMENT, STATEMENT_ROLLUP } from './settlement.permissions';
import { FigureRow, LineRow, STATEMENT_COLUMNS_FOR_CASL, StatementRow, StatementsRepository } from './statements.repository';

/** CASL fields of a usage record when read as part of a statement-to-be. */
const OPEN_PERIOD_COLUMNS_FOR_CASL = { tenantId: 'ur.tenant_id' } as const;

/**
 * Reading statements (api). Lists are filtered by the caller's abilities in SQL and run in their
 * RLS scope; one statement outside their reach is 404. Upstream cost is the platform's business:
 * only its owner and finance see it.
 */
@Injectable()
export class StatementsService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly statements: StatementsRepository,
  ) {}

  list(query: StatementListQuery): Promise<StatementPage> {
    const principal = this.auth.principal;
    const from = query.from ? new Date(query.from) : undefined;
    const to = query.to ? new Date(query.to) : undefined;
    if (from && to && !(from < to)) throw settlementError(SettlementErrorCode.InvalidRange, '`from` must be before `to`.');
    const limit = query.limit ?? 50;
    const before = decodeCursor(query.cursor);
    return this.tenantDb.forReport(async (m) => {
      const rows = await this.statements.list(m, this.filter(), { tenantId: query.tenantId, from, to, limit: limit + 1, before });
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map((r) => toView(r, principal)),
        nextCursor: rows.length > limit && last ? encodeCursor(new Date(last.period_start).toISOString(), last.id) : null,
      };
    });
  }

  detail(id: string): Promise<StatementDetail> {
    const principal = this.auth.principal;
    return this.tenantDb.forReport(async (m) => {
      const row = await this.readable(m, id);
      const lines = await this.statements.lines(m, id);
      return { ...toView(row, principal), lines: lines.map((l) => toLine(l, row, principal)) };
    });
  }

  /** The statement as CSV: a header row, the totals, the corrections, the adjustments, then every line. */
  async csv(id: string): Promise<{ filename: string; body: string }> {
    const statement = await this.detail(id);
    const upstream = statement.totals.upstreamCost !== undefined;
    const header = ['row', 'key', 'requests', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'retail_revenue', 'wholesale_cost', ...(upstream ? ['upstream_cost'] : []), 'margin'];
    const figures = (f: Partial<StatementFigures> & { requests: number; retailRevenue: string; wholesaleCost: string; margin: string }) => [
      f.requests,
      f.inputTokens ?? '',
      f.outputTokens ?? '',
      f.cacheReadTokens ?? '',
      f.cacheWriteTokens ?? '',
      f.retailRevenue,
      f.wholesaleCost,
      ...(upstream ? [f.upstreamCost ?? ''] : []),
      f.margin,
    ];
    let body = csvRow(['statement', statement.id, 'tenant', statement.tenantSlug, 'period', statement.periodKind, statement.periodStart, statement.periodEnd, 'closed', statement.closedAt]);
    body += csvRow(header);
    body += csvRow(['total', '', ...figures(statement.totals)]);
    body += csvRow(['corrections', statement.corrections.correctedStatementIds.join(' '), ...figures(statement.corrections)]);
    body += csvRow(['settled_margin', '', '', '', '', '', '', '', '', ...(upstream ? [''] : []), statement.settledMargin]);
    body += csvRow(['adjustments', '', '', '', '', '', '', '', '', ...(upstream ? [''] : []), statement.adjustments]);
    for (const line of statement.lines) {
      const key =
        line.kind === 'model'
          ? line.model
          : line.kind === 'sales'
            ? (line.salesEmail ?? line.salesUserId ?? 'unassigned')
            : (line.correctsStatementId ?? 'before-first-statement');
      body += csvRow([line.kind, key, ...figures(line)]);
    }
    return { filename: `statement-${statement.tenantSlug}-${statement.periodStart.slice(0, 10)}.csv`, body };
  }

  rollup(query: RollupQuery): Promise<StatementRollup> {
    const periodStart = new Date(query.periodStart);
    if (periodStart.getTime() !== periodStartOf(periodStart, 'day').getTime()) {
      throw settlementError(SettlementErrorCode.InvalidPeriod, 'periodStart must be the start of a UTC day, week or month.');
    }
    return this.tenantDb.forReport(async (m) => {
      if (!this.auth.ability.can('read', STATEMENT_ROLLUP)) throw AppException.forbidden('You may not read the platform rollup.');
      const r = await this.statements.rollup(m, this.filter(), periodStart);
      const margin = (wholesale: string, retail: string, upstream: string) => fromUnits(toUnits(wholesale) + toUnits(retail) - toUnits(upstream));
      return {
        periodStart: periodStart.toISOString(),
        tenants: Number(r.tenants),
        requests: Number(r.requests),
        resellerRetail: r.reseller_retail,
        resellerWholesale: r.reseller_wholesale,
        platformDirectRetail: r.platform_direct_retail,
        upstreamCost: r.upstream_cost,
        platformMargin: margin(r.reseller_wholesale, r.platform_direct_retail, r.upstream_cost),
        corrections: {
          resellerWholesale: r.correction_reseller_wholesale,
          platformDirectRetail: r.correction_platform_direct_retail,
          upstreamCost: r.correction_upstream,
          platformMargin: margin(r.correction_reseller_wholesale, r.correction_platform_direct_retail, r.correction_upstream),
        },
      };
    });
  }

  /**
   * The rollup of the period that has not closed yet (the current day, week or month), from the
   * usage records so far: what day one of a period shows instead of an empty page.
   */
  openRollup(query: OpenRollupQuery): Promise<OpenRollup> {
    const now = new Date();
    const start = periodStartOf(now, query.periodKind);
    const end = periodEndAfter(start, query.periodKind);
    return this.tenantDb.forReport(async (m) => {
      if (!this.auth.ability.can('read', STATEMENT_ROLLUP)) throw AppException.forbidden('You may not read the platform rollup.');
      const filter = abilityToSql(this.auth.ability, 'read', STATEMENT, OPEN_PERIOD_COLUMNS_FOR_CASL, 'open');
      if (!filter) throw AppException.forbidden('You may not read statements.');
      const rows = await this.statements.openPeriod(m, filter, start, end);
      const sum = (pick: (r: (typeof rows)[number]) => string, type?: 'platform' | 'reseller') =>
        rows.filter((r) => !type || r.tenant_type === type).reduce((total, r) => total + toUnits(pick(r)), 0n);
      // The platform earns what the top of each chain pays; end customers paid every reseller's
      // retail less what sub-resellers paid their parents (their parents' resale revenue).
      const resellerWholesale = rows.filter((r) => r.tenant_type === 'reseller' && !r.sub_reseller).reduce((total, r) => total + toUnits(r.wholesale), 0n);
      const subWholesale = rows.filter((r) => r.sub_reseller).reduce((total, r) => total + toUnits(r.wholesale), 0n);
      const platformDirectRetail = sum((r) => r.retail, 'platform');
      const upstreamCost = sum((r) => r.upstream);
      return {
        periodKind: query.periodKind,
        periodStart: start.toISOString(),
        periodEnd: end.toISOString(),
        asOf: now.toISOString(),
        tenants: rows.length,
        requests: rows.reduce((n, r) => n + Number(r.requests), 0),
        resellerRetail: fromUnits(sum((r) => r.retail, 'reseller') - subWholesale),
        resellerWholesale: fromUnits(resellerWholesale),
        platformDirectRetail: fromUnits(platformDirectRetail),
        upstreamCost: fromUnits(upstreamCost),
        platformMargin: fromUnits(resellerWholesale + platformDirectRetail - upstreamCost),
        byTenant: rows.map((r) => ({
          tenantId: r.tenant_id,
          tenantSlug: r.tenant_slug,
          tenantType: r.tenant_type,
          requests: Number(r.requests),
          retail: fromUnits(toUnits(r.retail)),
          wholesale: r.tenant_type === 'platform' ? fromUnits(0n) : fromUnits(toUnits(r.wholesale)),
          upstreamCost: fromUnits(toUnits(r.upstream)),
          margin: fromUnits(r.tenant_type === 'platform' ? toUnits(r.retail) - toUnits(r.upstream) : toUnits(r.retail) - toUnits(r.wholesale)),
        })),
      };
    });
  }

  private filter(): SqlFilter {
    const filter = abilityToSql(this.auth.ability, 'read', STATEMENT, STATEMENT_COLUMNS_FOR_CASL, 'stmt');
    if (!filter) throw AppException.forbidden('You may not read statements.');
    return filter;
  }

  /** One statement the caller may read; 404 otherwise (RLS hides other tenants', CASL the rest). */
  private async readable(m: Parameters<StatementsRepository['get']>[0], id: string): Promise<StatementRow> {
    const row = await this.statements.get(m, id);
    if (!row) throw AppException.notFound('statement');
    this.auth.assertCan('read', STATEMENT, { tenantId: row.tenant_id });
    return row;
  }
}

function showsUpstream(principal: Principal): boolean {
  return principal.tenantType === 'platform' && hasRole(principal, 'owner', 'finance');
}

function figures(row: FigureRow, principal: Principal): StatementFigures {
  return {
    requests: Number(row.requests),
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    cacheReadTokens: Number(row.cache_read_tokens),
    cacheWriteTokens: Number(row.cache_write_tokens),
    retailRevenue: row.retail_revenue,
    wholesaleCost: row.wholesale_cost,
    ...(showsUpstream(principal) ? { upstreamCost: row.upstream_cost } : {}),
    margin: row.margin,
  };
}

function toView(row: StatementRow, principal: Principal): StatementView {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    tenantSlug: row.tenant_slug,
    tenantType: row.tenant_type,
    periodKind: row.period_kind,
    periodStart: new Date(row.period_start).toISOString(),
    periodEnd: new Date(row.period_end).toISOString(),
    closedAt: new Date(row.closed_at).toISOString(),
    totals: figures(row, principal),
    corrections: {
      requests: Number(row.correction_requests),
      retailRevenue: row.correction_retail,
      wholesaleCost: row.correction_wholesale,
      ...(showsUpstream(principal) ? { upstreamCost: row.correction_upstream } : {}),
      margin: row.correction_margin,
      correctedStatementIds: row.corrected_statement_ids,
    },
    settledMargin: fromUnits(toUnits(row.margin) + toUnits(row.correction_margin)),
    settlementTransactionId: row.settlement_transaction_id,
    adjustments: row.adjustments,
  };
}

function toLine(line: LineRow, statement: StatementRow, principal: Principal): StatementLineView {
  const view: StatementLineView = { kind: line.kind, ...figures(line, principal) };
  if (line.kind === 'model') {
    view.model = line.model;
    view.unit = (line.unit as PriceUnitName | null) ?? null;
    view.quantity = line.quantity === null ? null : Number(line.quantity);
  }
  if (line.kind === 'sales') {
    view.salesUserId = line.sales_user_id;
    // E-mails of the caller's own colleagues only (a platform reader sees the reseller's ids).
    view.salesEmail = statement.tenant_id === principal.tenantId ? line.sales_email : null;
  }
  if (line.kind === 'correction' || line.kind === 'adjustment') view.correctsStatementId = line.corrects_statement_id;
  return view;
}

function encodeCursor(periodStart: string, id: string): string {
  return Buffer.from(`${periodStart}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string | undefined): { periodStart: string; id: string } | undefined {
  if (!cursor) return undefined;
  const [periodStart, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!periodStart || !id || Number.isNaN(Date.parse(periodStart)) || !/^[0-9a-f-]{36}$/i.test(id)) {
    throw AppException.validation([{ field: 'cursor', messages: ['cursor is not valid'] }]);
  }
  return { periodStart, id };
}
