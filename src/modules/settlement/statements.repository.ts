import { Injectable } from '@nestjs/common';
import { SqlFilter } from '@app/authorization';
import { EntityManager } from 'typeorm';
import { PeriodKind } from './periods';

/** Sums of usage records, as PostgreSQL returns them (integers and NUMERIC(30,9) as strings). */
export interface FigureRow {
  requests: string;
  input_tokens: string;
  output_tokens: string;
  cache_read_tokens: string;
  cache_write_tokens: string;
  retail_revenue: string;
  wholesale_cost: string;
  upstream_cost: string;
  margin: string;
}

export interface ModelLineRow extends FigureRow {
  model: string;
  /** What the model's records were billed in, and how many of it (a model whose unit changed in the period has a line per unit). */
  unit: string;
  quantity: string;
}
export interface SalesLineRow extends FigureRow {
  sales_user_id: string | null;
}
export interface CorrectionLineRow extends FigureRow {
  corrects_statement_id: string | null;
}

/** Manual adjustments settled by a statement, summed by the statement they correct. */
export interface AdjustmentLineRow {
  corrects_statement_id: string;
  amount: string;
}

export interface LastStatement {
  id: string;
  periodEnd: Date;
  /** Exact to the microsecond (ISO text): a Date would truncate it, and a record could be counted twice. */
  closedAt: string;
}

/** A timestamptz as ISO text with its microseconds. */
const EXACT = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export interface TenantToClose {
  id: string;
  type: 'platform' | 'reseller';
  createdAt: Date;
  lastPeriodEnd: Date | null;
}

export interface StatementRow extends FigureRow {
  id: string;
  tenant_id: string;
  tenant_slug: string;
  tenant_type: 'platform' | 'reseller';
  period_kind: PeriodKind;
  period_start: Date;
  period_end: Date;
  closed_at: Date;
  correction_requests: string;
  correction_retail: string;
  correction_wholesale: string;
  correction_upstream: string;
  correction_margin: string;
  corrected_statement_ids: string[];
  settlement_transaction_id: string | null;
  adjustments: string;
}

export interface LineRow extends FigureRow {
  kind: 'model' | 'sales' | 'correction' | 'adjustment';
  model: string | null;
  unit: string | null;
  quantity: string | null;
  sales_user_id: string | null;
  sales_email: string | null;
  corrects_statement_id: string | null;
}

export interface NewStatement {
  id: string;
  tenantId: string;
  tenantType: 'platform' | 'reseller';
  kind: PeriodKind;
  start: Date;
  end: Date;
  closedAt: string;
  previousClosedAt: string | null;
  totals: FigureRow;
  corrections: FigureRow;
  correctedStatementIds: string[];
  settlementTransactionId: string | null;
  /** Sum of the manual adjustments reported by this statement (their money moved when they were made). */
  adjustments: string;
}

/** Margin: a reseller's retail minus what it owes the platform; the platform's own, retail minus upstream. */
const MARGIN = `CASE WHEN $2 = 'platform' THEN sum(ur.retail_charge) - sum(ur.upstream_cost)
                     ELSE sum(ur.retail_charge) - sum(ur.wholesale_cost) END`;

const FIGURES = `coalesce(sum(ur.requests), 0)::text AS requests,
       coalesce(sum(ur.input_tokens), 0)::text AS input_tokens,
       coalesce(sum(ur.output_tokens), 0)::text AS output_tokens,
       coalesce(sum(ur.cache_read_tokens), 0)::text AS cache_read_tokens,
       coalesce(sum(ur.cache_write_tokens), 0)::text AS cache_write_tokens,
       coalesce(sum(ur.retail_charge), 0)::numeric(30, 9)::text AS retail_revenue,
       coalesce(sum(ur.wholesale_cost), 0)::numeric(30, 9)::text AS wholesale_cost,
       coalesce(sum(ur.upstream_cost), 0)::numeric(30, 9)::text AS upstream_cost,
       coalesce(${MARGIN}, 0)::numeric(30, 9)::text AS margin`;

/**
 * What a tenant's statements sum: its usage records (its customers' requests) and its resale rows
 * (a sub-reseller's requests: what the child paid it as revenue, what it paid its own parent as
 * cost; no customer, no request counted, no upstream cost: those are the child's and the
 * platform's). Parameter $1: the tenant.
 */
const RECORDS = `(SELECT tenant_id, customer_id, created_at, recorded_at, model, unit, quantity, 1 AS requests,
         input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, retail_charge, wholesale_cost, upstream_cost
    FROM usage_records WHERE tenant_id = $1
  UNION ALL
  SELECT tenant_id, NULL::uuid, created_at, recorded_at, model, unit, quantity, 0,
         input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, revenue, cost, 0::numeric(30, 9)
    FROM usage_resale WHERE tenant_id = $1) ur`;

/**
 * The records of a statement's own period: created in [start, end), recorded by its cutoff.
 * Parameters: $1 tenant, $2 tenant type, $3 start, $4 end, $5 cutoff.
 */
const IN_PERIOD = `FROM ${RECORDS}
  WHERE ur.tenant_id = $1 AND ur.created_at >= $3 AND ur.created_at < $4 AND ur.recorded_at <= $5`;

/**
 * Late records settled by this statement: created before its period, recorded after the previous
 * statement's cutoff ($6, NULL for a tenant's first statement) and by this one's.
 */
const LATE = `FROM ${RECORDS}
  WHERE ur.tenant_id = $1 AND ur.created_at < $3 AND $3 < $4 AND ur.recorded_at <= $5
    AND ($6::timestamptz IS NULL OR ur.recorded_at > $6::timestamptz)`;

/** The salesperson who held the customer when the request happened (the binding period containing it). */
const SALES_AT_REQUEST_TIME = `(SELECT hb.sales_user_id FROM customer_bindings hb
   WHERE hb.customer_id = ur.customer_id AND hb.bound_at <= ur.created_at
     AND (hb.unbound_at IS NULL OR hb.unbound_at > ur.created_at)
   ORDER BY hb.bound_at DESC LIMIT 1)`;

const LINE_FIGURES = `l.requests::text AS requests, l.input_tokens::text AS input_tokens, l.output_tokens::text AS output_tokens,
  l.cache_read_tokens::text AS cache_read_tokens, l.cache_write_tokens::text AS cache_write_tokens,
  l.retail_revenue::text AS retail_revenue, l.wholesale_cost::text AS wholesale_cost, l.upstream_cost::text AS upstream_cost,
  l.margin::text AS margin`;

const STATEMENT_COLUMNS = `s.id, s.tenant_id, t.slug AS tenant_slug, s.tenant_type, s.period_kind, s.period_start, s.period_end, s.closed_at,
  s.requests::text AS requests, s.input_tokens::text AS input_tokens, s.output_tokens::text AS output_tokens,
  s.cache_read_tokens::text AS cache_read_tokens, s.cache_write_tokens::text AS cache_write_tokens,
  s.retail_revenue::text AS retail_revenue, s.wholesale_cost::text AS wholesale_cost, s.upstream_cost::text AS upstream_cost,
  s.margin::text AS margin, s.correction_requests::text AS correction_requests, s.correction_retail::text AS correction_retail,
  s.correction_wholesale::text AS correction_wholesale, s.correction_upstream::text AS correction_upstream,
  s.correction_margin::text AS correction_margin, s.corrected_statement_ids, s.settlement_transaction_id,
  s.adjustments::text AS adjustments`;

const adjustmentFigures = (margin: string): FigureRow => ({
  requests: '0',
  input_tokens: '0',
  output_tokens: '0',
  cache_read_tokens: '0',
  cache_write_tokens: '0',
  retail_revenue: '0',
  wholesale_cost: '0',
  upstream_cost: '0',
  margin,
});

/** CASL fields of a statement, for `abilityToSql`. */
export const STATEMENT_COLUMNS_FOR_CASL = { tenantId: 's.tenant_id' } as const;

export interface RollupRow {
  tenants: string;
  reseller_retail: string;
  reseller_wholesale: string;
  platform_direct_retail: string;
  upstream_cost: string;
  requests: string;
  correction_reseller_wholesale: string;
  correction_platform_direct_retail: string;
  correction_upstream: string;
}

/**
 * SQL of statements. Closing runs on the system role (worker); reading runs in the caller's
 * tenant transaction with a CASL filter, so RLS bounds it as well.
 */
@Injectable()
export class StatementsRepository {
  /** Every tenant with the end of its last statement, for the scheduled close. */
  async tenantsToClose(m: EntityManager): Promise<TenantToClose[]> {
    const rows = await m.query(
      `SELECT t.id, t.type, t.created_at,
              (SELECT s.period_end FROM statements s WHERE s.tenant_id = t.id ORDER BY s.period_start DESC LIMIT 1) AS last_end
         FROM tenants t ORDER BY t.id`,
    );
    return rows.map((r: Record<string, any>) => ({
      id: r.id,
      type: r.type,
      createdAt: new Date(r.created_at),
      lastPeriodEnd: r.last_end ? new Date(r.last_end) : null,
    }));
  }

  async tenant(m: EntityManager, tenantId: string): Promise<{ id: string; type: 'platform' | 'reseller'; createdAt: Date } | null> {
    const [row] = await m.query(`SELECT id, type, created_at FROM tenants WHERE id = $1`, [tenantId]);
    return row ? { id: row.id, type: row.type, createdAt: new Date(row.created_at) } : null;
  }

  /**
   * Serialises the closes of one tenant (two workers): the second waits, then sees the first's
   * statement. Transaction-level, released at commit.
   */
  async lockTenant(m: EntityManager, tenantId: string): Promise<void> {
    await m.query(`SELECT pg_advisory_xact_lock(hashtextextended('settlement:' || $1::text, 0))`, [tenantId]);
  }

  async last(m: EntityManager, tenantId: string): Promise<LastStatement | null> {
    const [row] = await m.query(
      `SELECT id, period_end, ${EXACT('closed_at')} AS closed_at FROM statements WHERE tenant_id = $1 ORDER BY period_start DESC LIMIT 1`,
      [tenantId],
    );
    return row ? { id: row.id, periodEnd: new Date(row.period_end), closedAt: row.closed_at } : null;
  }

  async findByPeriod(m: EntityManager, tenantId: string, start: Date): Promise<{ id: string } | null> {
    const [row] = await m.query(`SELECT id FROM statements WHERE tenant_id = $1 AND period_start = $2`, [tenantId, start.toISOString()]);
    return row ?? null;
  }

  /**
   * The cutoff of a close: waits for the usage inserts in flight to commit and reads the clock
   * (see the Statements migration). Run it in a transaction of its own (it holds a lock that
   * pauses metering until that transaction ends); every record recorded by the cutoff is then
   * visible to the next statements of a READ COMMITTED transaction.
   */
  async cutoff(m: EntityManager): Promise<string> {
    const [row] = await m.query(`SELECT ${EXACT('c')} AS cutoff FROM settlement_cutoff() AS c`);
    return row.cutoff;
  }

  /** The figures of a period: totals, lines by model and by salesperson of the request's time, and the late records by corrected statement. */
  async figures(
    m: EntityManager,
    p: { tenantId: string; tenantType: string; start: Date; end: Date; cutoff: string; previousCutoff: string | null },
  ): Promise<{
    totals: FigureRow;
    byModel: ModelLineRow[];
    bySales: SalesLineRow[];
    corrections: CorrectionLineRow[];
    correctionTotals: FigureRow;
    adjustments: AdjustmentLineRow[];
  }> {
    // The cutoffs go as PostgreSQL wrote them, microseconds intact.
    const params = [p.tenantId, p.tenantType, p.start.toISOString(), p.end.toISOString(), p.cutoff, p.previousCutoff];
    const [totals] = await m.query(`SELECT ${FIGURES} ${IN_PERIOD}`, params.slice(0, 5));
    const byModel = await m.query(
      `SELECT ur.model, ur.unit, sum(ur.quantity)::text AS quantity, ${FIGURES} ${IN_PERIOD} GROUP BY ur.model, ur.unit ORDER BY ur.model, ur.unit`,
      params.slice(0, 5),
    );
    const bySales = await m.query(
      `SELECT x.sales_user_id, ${FIGURES.replace(/ur\./g, 'x.')}
         FROM (SELECT ur.*, ${SALES_AT_REQUEST_TIME} AS sales_user_id ${IN_PERIOD}) x
        GROUP BY x.sales_user_id ORDER BY x.sales_user_id NULLS LAST`,
      params.slice(0, 5),
    );
    const [correctionTotals] = await m.query(`SELECT ${FIGURES} ${LATE}`, params);
    const corrections = await m.query(
      `SELECT x.corrects_statement_id, ${FIGURES.replace(/ur\./g, 'x.')}
         FROM (SELECT ur.*, (SELECT s.id FROM statements s WHERE s.tenant_id = ur.tenant_id
                               AND s.period_start <= ur.created_at AND s.period_end > ur.created_at) AS corrects_statement_id
               ${LATE}) x
        GROUP BY x.corrects_statement_id ORDER BY x.corrects_statement_id NULLS FIRST`,
      params,
    );
    // Manual adjustments made after the previous statement's cutoff and by this one's (their
    // created_at is exact: see the StatementAdjustments migration).
    const adjustments: AdjustmentLineRow[] = await m.query(
      `SELECT a.corrects_statement_id, sum(a.amount)::numeric(30, 9)::text AS amount
         FROM statement_adjustments a
        WHERE a.tenant_id = $1 AND a.created_at <= $2 AND ($3::timestamptz IS NULL OR a.created_at > $3::timestamptz)
        GROUP BY a.corrects_statement_id ORDER BY a.corrects_statement_id`,
      [p.tenantId, p.cutoff, p.previousCutoff],
    );
    return { totals, byModel, bySales, corrections, correctionTotals, adjustments };
  }

  async insert(
    m: EntityManager,
    s: NewStatement,
    lines: { byModel: ModelLineRow[]; bySales: SalesLineRow[]; corrections: CorrectionLineRow[]; adjustments: AdjustmentLineRow[] },
  ): Promise<void> {
    const t = s.totals;
    const c = s.corrections;
    await m.query(
      `INSERT INTO statements (id, tenant_id, tenant_type, period_kind, period_start, period_end, closed_at, previous_closed_at,
                               requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                               retail_revenue, wholesale_cost, upstream_cost, margin,
                               correction_requests, correction_retail, correction_wholesale, correction_upstream, correction_margin,
                               corrected_statement_ids, settlement_transaction_id, adjustments)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
      [
        s.id, s.tenantId, s.tenantType, s.kind, s.start.toISOString(), s.end.toISOString(), s.closedAt, s.previousClosedAt,
        t.requests, t.input_tokens, t.output_tokens, t.cache_read_tokens, t.cache_write_tokens,
        t.retail_revenue, t.wholesale_cost, t.upstream_cost, t.margin,
        c.requests, c.retail_revenue, c.wholesale_cost, c.upstream_cost, c.margin,
        s.correctedStatementIds, s.settlementTransactionId, s.adjustments,
      ],
    );
    const all = [
      ...lines.byModel.map((l) => ({ kind: 'model', model: l.model, unit: l.unit as string | null, quantity: l.quantity as string | null, sales: null, corrects: null, f: l })),
      ...lines.bySales.map((l) => ({ kind: 'sales', model: null, unit: null, quantity: null, sales: l.sales_user_id, corrects: null, f: l })),
      ...lines.corrections.map((l) => ({ kind: 'correction', model: null, unit: null, quantity: null, sales: null, corrects: l.corrects_statement_id, f: l as FigureRow })),
      // An adjustment line: its amount as margin, every other figure 0.
      ...lines.adjustments.map((l) => ({ kind: 'adjustment', model: null, unit: null, quantity: null, sales: null, corrects: l.corrects_statement_id, f: adjustmentFigures(l.amount) })),
    ];
    if (all.length === 0) return;
    const col = <T>(pick: (l: (typeof all)[number]) => T) => all.map(pick);
    await m.query(
      `INSERT INTO statement_lines (statement_id, tenant_id, kind, model, sales_user_id, corrects_statement_id,
                                    requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                                    retail_revenue, wholesale_cost, upstream_cost, margin, unit, quantity)
       SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::uuid[], $6::uuid[], $7::bigint[], $8::bigint[], $9::bigint[],
                                    $10::bigint[], $11::bigint[], $12::numeric[], $13::numeric[], $14::numeric[], $15::numeric[], $16::text[], $17::bigint[])`,
      [
        s.id, s.tenantId,
        col((l) => l.kind), col((l) => l.model), col((l) => l.sales), col((l) => l.corrects),
        col((l) => l.f.requests), col((l) => l.f.input_tokens), col((l) => l.f.output_tokens),
        col((l) => l.f.cache_read_tokens), col((l) => l.f.cache_write_tokens),
        col((l) => l.f.retail_revenue), col((l) => l.f.wholesale_cost), col((l) => l.f.upstream_cost), col((l) => l.f.margin),
        col((l) => l.unit), col((l) => l.quantity),
      ],
    );
  }

  /** Statements the caller may read (CASL filter), newest period first, keyset-paginated. */
  async list(
    m: EntityManager,
    filter: SqlFilter,
    q: { tenantId?: string; from?: Date; to?: Date; limit: number; before?: { periodStart: string; id: string } },
  ): Promise<StatementRow[]> {
    const qb = m
      .createQueryBuilder()
      .select('1')
      .from('statements', 's')
      .innerJoin('tenants', 't', 't.id = s.tenant_id')
      .where(filter.sql, filter.params);
    if (q.tenantId) qb.andWhere('s.tenant_id = :tenantId', { tenantId: q.tenantId });
    if (q.from) qb.andWhere('s.period_start >= :from', { from: q.from.toISOString() });
    if (q.to) qb.andWhere('s.period_start < :to', { to: q.to.toISOString() });
    if (q.before) qb.andWhere('(s.period_start, s.id) < (:beforeStart::timestamptz, :beforeId::uuid)', { beforeStart: q.before.periodStart, beforeId: q.before.id });
    const [sql, params] = qb.getQueryAndParameters();
    return m.query(`SELECT ${STATEMENT_COLUMNS} ${sql.slice(sql.indexOf('FROM'))} ORDER BY s.period_start DESC, s.id DESC LIMIT ${Number(q.limit)}`, params);
  }

  async get(m: EntityManager, id: string): Promise<StatementRow | null> {
    const [row] = await m.query(`SELECT ${STATEMENT_COLUMNS} FROM statements s JOIN tenants t ON t.id = s.tenant_id WHERE s.id = $1`, [id]);
    return row ?? null;
  }

  async lines(m: EntityManager, statementId: string): Promise<LineRow[]> {
    return m.query(
      `SELECT l.kind, l.model, l.unit, l.quantity::text AS quantity, l.sales_user_id, u.email AS sales_email, l.corrects_statement_id, ${LINE_FIGURES}
         FROM statement_lines l LEFT JOIN users u ON u.id = l.sales_user_id AND u.tenant_id = l.tenant_id
        WHERE l.statement_id = $1
        ORDER BY CASE l.kind WHEN 'model' THEN 0 WHEN 'sales' THEN 1 WHEN 'correction' THEN 2 ELSE 3 END, l.model, l.sales_user_id NULLS LAST, l.corrects_statement_id NULLS FIRST`,
      [statementId],
    );
  }

  /** One period across every tenant (the caller's filter admits them all: platform owner and finance). */
  async rollup(m: EntityManager, filter: SqlFilter, periodStart: Date): Promise<RollupRow> {
    const [sql, params] = m
      .createQueryBuilder()
      .select('1')
      .from('statements', 's')
      .leftJoin('tenants', 't', 't.id = s.tenant_id')
      .where(filter.sql, filter.params)
      .andWhere('s.period_start = :periodStart', { periodStart: periodStart.toISOString() })
      .getQueryAndParameters();
    // Sub-resellers: what the platform earns is the wholesale of the resellers it sells to (the top
    // of each chain); what end customers paid is every reseller's retail less what sub-resellers
    // paid their parents (each parent's revenue from its children). A sub-reseller's statement
    // (t.parent_id set) counts its own customers' requests, as every statement does.
    const [row] = await m.query(
      `SELECT count(*)::text AS tenants,
              coalesce(sum(s.requests), 0)::text AS requests,
              (coalesce(sum(s.retail_revenue) FILTER (WHERE s.tenant_type = 'reseller'), 0)
                - coalesce(sum(s.wholesale_cost) FILTER (WHERE s.tenant_type = 'reseller' AND t.parent_id IS NOT NULL), 0))::numeric(30, 9)::text AS reseller_retail,
              coalesce(sum(s.wholesale_cost) FILTER (WHERE s.tenant_type = 'reseller' AND t.parent_id IS NULL), 0)::numeric(30, 9)::text AS reseller_wholesale,
              coalesce(sum(s.retail_revenue) FILTER (WHERE s.tenant_type = 'platform'), 0)::numeric(30, 9)::text AS platform_direct_retail,
              coalesce(sum(s.upstream_cost), 0)::numeric(30, 9)::text AS upstream_cost,
              coalesce(sum(s.correction_wholesale) FILTER (WHERE s.tenant_type = 'reseller' AND t.parent_id IS NULL), 0)::numeric(30, 9)::text AS correction_reseller_wholesale,
              coalesce(sum(s.correction_retail) FILTER (WHERE s.tenant_type = 'platform'), 0)::numeric(30, 9)::text AS correction_platform_direct_retail,
              coalesce(sum(s.correction_upstream), 0)::numeric(30, 9)::text AS correction_upstream
         ${sql.slice(sql.indexOf('FROM'))}`,
      params,
    );
    return row;
  }

  /**
   * The open period so far, per tenant: usage records created in [start, end) and recorded by now
   * (what the next statements will hold, late records aside), filtered by the caller's statement
   * rule on the tenant (CASL in SQL) within their RLS scope.
   */
  async openPeriod(m: EntityManager, filter: SqlFilter, start: Date, end: Date): Promise<OpenPeriodRow[]> {
    const [sql, params] = m
      .createQueryBuilder()
      .select('1')
      .from('usage_records', 'ur')
      .innerJoin('tenants', 't', 't.id = ur.tenant_id')
      .where(filter.sql, filter.params)
      .andWhere('ur.created_at >= :start AND ur.created_at < :end', { start: start.toISOString(), end: end.toISOString() })
      .getQueryAndParameters();
    // Each tenant's own records and its resale rows (what its sub-resellers paid it), as statements sum them.
    const from = sql.slice(sql.indexOf('FROM')).replace(
      '"usage_records" "ur"',
      `(SELECT tenant_id, created_at, retail_charge, wholesale_cost, upstream_cost, 1 AS requests FROM usage_records
        UNION ALL SELECT tenant_id, created_at, revenue, cost, 0::numeric(30, 9), 0 FROM usage_resale) ur`,
    );
    if (from === sql.slice(sql.indexOf('FROM'))) throw new Error('openPeriod: unexpected query shape');
    return m.query(
      `SELECT ur.tenant_id, t.slug AS tenant_slug, t.type AS tenant_type, (t.parent_id IS NOT NULL) AS sub_reseller, coalesce(sum(ur.requests), 0)::text AS requests,
              coalesce(sum(ur.retail_charge), 0)::numeric(30, 9)::text AS retail,
              coalesce(sum(ur.wholesale_cost), 0)::numeric(30, 9)::text AS wholesale,
              coalesce(sum(ur.upstream_cost), 0)::numeric(30, 9)::text AS upstream
         ${from}
        GROUP BY ur.tenant_id, t.slug, t.type, t.parent_id
        ORDER BY coalesce(sum(ur.retail_charge), 0) DESC, t.slug`,
      params,
    );
  }
}

export interface OpenPeriodRow {
  tenant_id: string;
  tenant_slug: string;
  tenant_type: 'platform' | 'reseller';
  /** A sub-reseller: its wholesale is paid to its parent, not to the platform. */
  sub_reseller: boolean;
  requests: string;
  retail: string;
  wholesale: string;
  upstream: string;
}
