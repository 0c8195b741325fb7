import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';

/**
 * A closed statement written straight into the table (system role), with round figures and one
 * line of each kind: for tests of who may read statements, not of how they are computed.
 */
export async function insertStatement(
  system: Client,
  tenant: { id: string; type: 'platform' | 'reseller' },
  periodStart: Date,
  figures: { retail?: string; wholesale?: string; upstream?: string; salesUserId?: string } = {},
): Promise<string> {
  const id = uuidv7();
  const end = new Date(periodStart.getTime() + 24 * 3600 * 1000);
  const retail = figures.retail ?? '10.000000000';
  const wholesale = figures.wholesale ?? '6.000000000';
  const upstream = figures.upstream ?? '4.000000000';
  await system.query(
    `INSERT INTO statements (id, tenant_id, tenant_type, period_kind, period_start, period_end, closed_at,
                             requests, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                             retail_revenue, wholesale_cost, upstream_cost, margin,
                             correction_requests, correction_retail, correction_wholesale, correction_upstream, correction_margin)
     VALUES ($1, $2, $3, 'day', $4, $5, $5, 3, 300, 150, 0, 0, $6::numeric, $7::numeric, $8::numeric,
             CASE WHEN $3 = 'platform' THEN $6::numeric - $8::numeric ELSE $6::numeric - $7::numeric END, 0, 0, 0, 0, 0)`,
    [id, tenant.id, tenant.type, periodStart.toISOString(), end.toISOString(), retail, wholesale, upstream],
  );
  await system.query(
    `INSERT INTO statement_lines (statement_id, tenant_id, kind, model, sales_user_id, requests, input_tokens, output_tokens,
                                  cache_read_tokens, cache_write_tokens, retail_revenue, wholesale_cost, upstream_cost, margin)
     SELECT $1, $2, k.kind, k.model, k.sales, 3, 300, 150, 0, 0, s.retail_revenue, s.wholesale_cost, s.upstream_cost, s.margin
       FROM statements s, (VALUES ('model', '=cmd|calc', NULL::uuid), ('sales', NULL, $3::uuid)) AS k(kind, model, sales)
      WHERE s.id = $1`,
    [id, tenant.id, figures.salesUserId ?? null],
  );
  return id;
}

/** A UTC day start `days` before today's. */
export function utcDay(daysAgo: number, from = new Date()): Date {
  return new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate() - daysAgo));
}
