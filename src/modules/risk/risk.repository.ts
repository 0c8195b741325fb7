import { Injectable } from '@nestjs/common';
import { trimDecimal } from '@app/money';
import { EntityManager } from 'typeorm';
import { RiskFlagView } from './dto/risk.dto';
import { RiskAction, RiskRule, StoredRiskRule } from './risk-rules';

interface FlagRow {
  id: string;
  rule: string;
  subject_type: string;
  subject_id: string;
  customer_id: string;
  customer_email: string | null;
  key_name: string | null;
  key_prefix: string | null;
  window_start: Date;
  window_end: Date;
  observed: string;
  threshold: string;
  action: string;
  suspended_key_ids: string[];
  status: string;
  created_at: Date;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolution_note: string | null;
  reactivated_key_ids: string[] | null;
}

const FLAG_SELECT = `SELECT f.id, f.rule, f.subject_type, f.subject_id, f.customer_id, u.email AS customer_email, f.window_start, f.window_end,
                            f.observed::text AS observed, f.threshold::text AS threshold, f.action, f.suspended_key_ids::text[] AS suspended_key_ids, f.status, f.created_at,
                            f.resolved_at, f.resolved_by, f.resolution_note, f.reactivated_key_ids::text[] AS reactivated_key_ids,
                            k.name AS key_name, k.prefix AS key_prefix
                       FROM risk_flags f LEFT JOIN users u ON u.id = f.customer_id AND u.tenant_id = f.tenant_id
                       LEFT JOIN api_keys k ON f.subject_type = 'key' AND k.id = f.subject_id AND k.tenant_id = f.tenant_id`;

const flagView = (r: FlagRow): RiskFlagView => ({
  id: r.id,
  rule: r.rule,
  subjectType: r.subject_type,
  subjectId: r.subject_id,
  customerId: r.customer_id,
  customerEmail: r.customer_email,
  keyName: r.key_name,
  keyPrefix: r.key_prefix,
  windowStart: r.window_start,
  windowEnd: r.window_end,
  observed: trimDecimal(r.observed),
  threshold: trimDecimal(r.threshold),
  action: r.action,
  suspendedKeyIds: r.suspended_key_ids,
  status: r.status,
  createdAt: r.created_at,
  resolvedAt: r.resolved_at,
  resolvedBy: r.resolved_by,
  resolutionNote: r.resolution_note,
  reactivatedKeyIds: r.reactivated_key_ids,
});

/** SQL of the risk module; every query names the tenant (and runs under its RLS scope). */
@Injectable()
export class RiskRepository {
  async tenantExists(m: EntityManager, tenantId: string): Promise<boolean> {
    return (await m.query(`SELECT 1 FROM tenants WHERE id = $1`, [tenantId])).length > 0;
  }

  async rules(m: EntityManager, tenantId: string): Promise<StoredRiskRule[]> {
    const rows: Array<{ rule: RiskRule; enabled: boolean; threshold: string; action: RiskAction }> = await m.query(
      `SELECT rule, enabled, threshold::text AS threshold, action FROM risk_rules WHERE tenant_id = $1`,
      [tenantId],
    );
    return rows.map((r) => ({ ...r, threshold: trimDecimal(r.threshold) }));
  }

  async setRule(m: EntityManager, tenantId: string, rule: StoredRiskRule, by: string): Promise<void> {
    await m.query(
      `INSERT INTO risk_rules (tenant_id, rule, enabled, threshold, action, updated_by) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant_id, rule) DO UPDATE SET enabled = EXCLUDED.enabled, threshold = EXCLUDED.threshold, action = EXCLUDED.action,
         updated_by = EXCLUDED.updated_by, updated_at = now()`,
      [tenantId, rule.rule, rule.enabled, rule.threshold, rule.action, by],
    );
    // The rule's running window totals are kept only while it is on: they start again from the
    // usage records (RiskEvaluator), under the lock metering takes for the rule.
    await m.query(`SELECT pg_advisory_xact_lock(hashtext('aigateway:risk:' || $1::text), hashtext($2))`, [tenantId, rule.rule]);
    await m.query(`DELETE FROM risk_window_totals WHERE tenant_id = $1 AND rule = $2`, [tenantId, rule.rule]);
    if (rule.rule === 'key_distinct_ips') await m.query(`DELETE FROM risk_window_addresses WHERE tenant_id = $1`, [tenantId]);
  }

  async flags(m: EntityManager, tenantId: string, status: string | undefined, offset: number, limit: number): Promise<{ items: RiskFlagView[]; total: number }> {
    const where = `f.tenant_id = $1${status ? ' AND f.status = $2' : ''}`;
    const params: unknown[] = status ? [tenantId, status] : [tenantId];
    const rows: FlagRow[] = await m.query(`${FLAG_SELECT} WHERE ${where} ORDER BY f.created_at DESC, f.id DESC OFFSET $${params.length + 1} LIMIT $${params.length + 2}`, [...params, offset, limit]);
    const [{ n }] = await m.query(`SELECT count(*)::int AS n FROM risk_flags f WHERE ${where}`, params);
    return { items: rows.map(flagView), total: n };
  }

  async flag(m: EntityManager, tenantId: string, id: string, lock = false): Promise<RiskFlagView | null> {
    if (lock) await m.query(`SELECT 1 FROM risk_flags WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [tenantId, id]);
    const rows: FlagRow[] = await m.query(`${FLAG_SELECT} WHERE f.tenant_id = $1 AND f.id = $2`, [tenantId, id]);
    return rows[0] ? flagView(rows[0]) : null;
  }

  /**
   * Back to active: the flag's keys still suspended and not held by another open flag (each
   * suspension is lifted by the review of every flag that imposed it).
   */
  async reactivate(m: EntityManager, tenantId: string, flagId: string, keyIds: readonly string[]): Promise<string[]> {
    if (keyIds.length === 0) return [];
    const rows: Array<{ id: string }> = await m.query(
      `WITH reactivated AS (
         UPDATE api_keys k SET status = 'active', updated_at = now()
          WHERE k.id IN (SELECT id FROM api_keys WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND status = 'suspended' ORDER BY id FOR UPDATE)
            AND NOT EXISTS (SELECT 1 FROM risk_flags o WHERE o.tenant_id = $1 AND o.id <> $3 AND o.status = 'open' AND k.id = ANY(o.suspended_key_ids))
          RETURNING k.id)
       SELECT id FROM reactivated`,
      [tenantId, [...keyIds], flagId],
    );
    return rows.map((r) => r.id).sort();
  }

  async resolve(m: EntityManager, tenantId: string, id: string, by: string, note: string | null, reactivated: string[] | null): Promise<void> {
    await m.query(
      `UPDATE risk_flags SET status = 'resolved', resolved_at = now(), resolved_by = $3, resolution_note = $4, reactivated_key_ids = $5::uuid[] WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id, by, note, reactivated],
    );
  }
}
