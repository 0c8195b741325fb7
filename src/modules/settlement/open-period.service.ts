import type { PriceUnitName } from '@app/money';
import { Inject, Injectable } from '@nestjs/common';
import { hasRole, Principal, RequestAuth } from '@app/authorization';
import { AppConfig, APP_CONFIG } from '@app/config';
import { AppException } from '@app/errors';
import { fromUnits, toUnits } from '@app/money';
import { TenantDb } from '@app/tenancy';
import { OpenPeriodQuery, OpenPeriodView } from './dto/open-period.dto';
import { StatementFigures, StatementLineView } from './dto/statement.dto';
import { periodEndAfter, periodStartOf } from './periods';
import { STATEMENT } from './settlement.permissions';
import { FigureRow, StatementsRepository } from './statements.repository';

/**
 * The open settlement period of a tenant (api): what its next statement will contain if it closed
 * now, computed by the closer's own queries (StatementsRepository.figures) over the usage recorded
 * so far, in the caller's RLS scope. It takes no cutoff (that lock would pause metering) and writes
 * nothing: the figures are a preview, the statement itself is closed by the worker.
 */
@Injectable()
export class OpenPeriodService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly statements: StatementsRepository,
  ) {}

  get(query: OpenPeriodQuery): Promise<OpenPeriodView> {
    const principal = this.auth.principal;
    const tenantId = query.tenantId?.toLowerCase() ?? principal.tenantId;
    // Whoever may read the tenant's statements may read its open period (404 otherwise).
    this.auth.assertCan('read', STATEMENT, { tenantId });
    return this.tenantDb.forRequest(async (m) => {
      const tenant = await this.statements.tenant(m, tenantId);
      if (!tenant) throw AppException.notFound(STATEMENT);
      const kind = this.config.SETTLEMENT_PERIOD;
      const last = await this.statements.last(m, tenantId);
      const start = last?.periodEnd ?? periodStartOf(tenant.createdAt, kind);
      const asOf = new Date();
      const figures = await this.statements.figures(m, {
        tenantId,
        tenantType: tenant.type,
        start,
        end: asOf,
        cutoff: asOf.toISOString(),
        previousCutoff: last?.closedAt ?? null,
      });
      const salesIds = figures.bySales.map((l) => l.sales_user_id).filter((id): id is string => id !== null);
      const emails = new Map<string, string>();
      if (salesIds.length > 0 && tenantId === principal.tenantId) {
        const rows: Array<{ id: string; email: string }> = await m.query(`SELECT id, email FROM users WHERE tenant_id = $1 AND id = ANY($2::uuid[])`, [
          tenantId,
          salesIds,
        ]);
        for (const row of rows) emails.set(row.id, row.email);
      }
      const end = periodEndAfter(start, kind);
      const c = figures.correctionTotals;
      const adjustments = fromUnits(figures.adjustments.reduce((sum, a) => sum + toUnits(a.amount), 0n));
      const lines: StatementLineView[] = [
        ...figures.byModel.map((l) => ({ kind: 'model' as const, model: l.model, unit: l.unit as PriceUnitName, quantity: Number(l.quantity), ...toFigures(l, principal) })),
        ...figures.bySales.map((l) => ({
          kind: 'sales' as const,
          salesUserId: l.sales_user_id,
          salesEmail: l.sales_user_id ? (emails.get(l.sales_user_id) ?? null) : null,
          ...toFigures(l, principal),
        })),
      ];
      return {
        tenantId,
        periodKind: kind,
        periodStart: start.toISOString(),
        periodEnd: end.toISOString(),
        asOf: asOf.toISOString(),
        includesLaterPeriods: end < asOf,
        totals: toFigures(figures.totals, principal),
        corrections: {
          requests: Number(c.requests),
          retailRevenue: c.retail_revenue,
          wholesaleCost: c.wholesale_cost,
          ...(showsUpstream(principal) ? { upstreamCost: c.upstream_cost } : {}),
          margin: c.margin,
          correctedStatementIds: [
            ...new Set([...figures.corrections.map((x) => x.corrects_statement_id), ...figures.adjustments.map((a) => a.corrects_statement_id)]),
          ].filter((id): id is string => id !== null),
        },
        settledMargin: fromUnits(toUnits(figures.totals.margin) + toUnits(c.margin)),
        adjustments,
        lines,
      };
    });
  }
}

function showsUpstream(principal: Principal): boolean {
  return principal.tenantType === 'platform' && hasRole(principal, 'owner', 'finance');
}

function toFigures(row: FigureRow, principal: Principal): StatementFigures {
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
