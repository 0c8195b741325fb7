import { Injectable } from '@nestjs/common';
import { trimDecimal } from '@app/money';
import { EntityManager } from 'typeorm';

/** Requests and tokens per clock hour and per day (the tenant's time-zone day); null: no limit. */
export interface WindowLimits {
  rph: number | null;
  rpd: number | null;
  tph: number | null;
  tpd: number | null;
}

export const WINDOW_FIELDS = ['rph', 'rpd', 'tph', 'tpd'] as const;

/** The window columns of a row (bigint token columns arrive as strings). */
export function windowsOf(row: Partial<Record<(typeof WINDOW_FIELDS)[number], number | string | null>> | undefined): WindowLimits {
  const n = (v: number | string | null | undefined) => (v === null || v === undefined ? null : Number(v));
  return { rph: n(row?.rph), rpd: n(row?.rpd), tph: n(row?.tph), tpd: n(row?.tpd) };
}

export interface StoredLimits extends WindowLimits {
  rpm: number | null;
  tpm: number | null;
  concurrency: number | null;
}

export type Period = 'day' | 'week' | 'month';
export interface BudgetRow {
  subject: 'customer' | 'key';
  subjectId: string;
  period: Period;
  amount: string;
}

export interface TenantStored extends WindowLimits {
  rpm: number | null;
  tpm: number | null;
  /** Requests per minute per client address on /v1. */
  ipRpm: number | null;
}

/** Per-tenant limits as the hot path reads them. */
export interface TenantLimitsData {
  tenant: TenantStored;
  customers: Map<string, StoredLimits>;
  timeZone: string;
  /** Per `${subject}:${subjectId}`, its budgets. */
  budgets: Map<string, BudgetRow[]>;
  /** Whether the tenant or any of its customers has an hour or day window (else the hot path skips them). */
  hasWindows: boolean;
}

/** Rate and concurrency limits stored per tenant and per customer. SQL only; the caller's transaction. */
@Injectable()
export class LimitsRepository {
  async tenant(manager: EntityManager, tenantId: string): Promise<TenantStored> {
    const [row] = await manager.query(`SELECT rpm, tpm, ip_rpm, rph, rpd, tph, tpd FROM tenant_limits WHERE tenant_id = $1`, [tenantId]);
    return { rpm: row?.rpm ?? null, tpm: row?.tpm ?? null, ipRpm: row?.ip_rpm ?? null, ...windowsOf(row) };
  }

  async customer(manager: EntityManager, tenantId: string, customerId: string): Promise<StoredLimits> {
    const [row] = await manager.query(`SELECT rpm, tpm, concurrency, rph, rpd, tph, tpd FROM customer_limits WHERE customer_id = $1 AND tenant_id = $2`, [customerId, tenantId]);
    return { rpm: row?.rpm ?? null, tpm: row?.tpm ?? null, concurrency: row?.concurrency ?? null, ...windowsOf(row) };
  }

  async setTenant(manager: EntityManager, tenantId: string, limits: TenantStored, by: string): Promise<void> {
    await manager.query(
      `INSERT INTO tenant_limits (tenant_id, rpm, tpm, ip_rpm, updated_by, rph, rpd, tph, tpd) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (tenant_id) DO UPDATE SET rpm = EXCLUDED.rpm, tpm = EXCLUDED.tpm, ip_rpm = EXCLUDED.ip_rpm, updated_by = EXCLUDED.updated_by, updated_at = now(),
                                             rph = EXCLUDED.rph, rpd = EXCLUDED.rpd, tph = EXCLUDED.tph, tpd = EXCLUDED.tpd`,
      [tenantId, limits.rpm, limits.tpm, limits.ipRpm, by, limits.rph, limits.rpd, limits.tph, limits.tpd],
    );
  }

  async setCustomer(manager: EntityManager, tenantId: string, customerId: string, limits: StoredLimits, by: string): Promise<void> {
    await manager.query(
      `INSERT INTO customer_limits (customer_id, tenant_id, rpm, tpm, concurrency, updated_by, rph, rpd, tph, tpd) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (customer_id) DO UPDATE SET rpm = EXCLUDED.rpm, tpm = EXCLUDED.tpm, concurrency = EXCLUDED.concurrency,
                                               updated_by = EXCLUDED.updated_by, updated_at = now(),
                                               rph = EXCLUDED.rph, rpd = EXCLUDED.rpd, tph = EXCLUDED.tph, tpd = EXCLUDED.tpd`,
      [customerId, tenantId, limits.rpm, limits.tpm, limits.concurrency, by, limits.rph, limits.rpd, limits.tph, limits.tpd],
    );
  }

  /** Everything the proxy needs of one tenant (its own limits and every customer's that has any). */
  async load(manager: EntityManager, tenantId: string): Promise<TenantLimitsData> {
    const tenant = await this.tenant(manager, tenantId);
    const rows: Array<{ customer_id: string; rpm: number | null; tpm: number | null; concurrency: number | null; rph: number | null; rpd: number | null; tph: string | null; tpd: string | null }> = await manager.query(
      `SELECT customer_id, rpm, tpm, concurrency, rph, rpd, tph, tpd FROM customer_limits WHERE tenant_id = $1`,
      [tenantId],
    );
    const budgets = new Map<string, BudgetRow[]>();
    for (const b of await this.budgets(manager, tenantId)) {
      const key = `${b.subject}:${b.subjectId}`;
      budgets.set(key, [...(budgets.get(key) ?? []), b]);
    }
    const customers = new Map<string, StoredLimits>(rows.map((r) => [r.customer_id, { rpm: r.rpm, tpm: r.tpm, concurrency: r.concurrency, ...windowsOf(r) }]));
    const any = (w: WindowLimits) => w.rph !== null || w.rpd !== null || w.tph !== null || w.tpd !== null;
    return {
      tenant,
      hasWindows: any(tenant) || [...customers.values()].some(any),
      customers,
      timeZone: await this.timeZone(manager, tenantId),
      budgets,
    };
  }

  async timeZone(manager: EntityManager, tenantId: string): Promise<string> {
    const [row] = await manager.query(`SELECT time_zone FROM tenants WHERE id = $1`, [tenantId]);
    return row?.time_zone ?? 'UTC';
  }

  async setTimeZone(manager: EntityManager, tenantId: string, timeZone: string): Promise<void> {
    await manager.query(`UPDATE tenants SET time_zone = $2 WHERE id = $1`, [tenantId, timeZone]);
  }

  async budgets(manager: EntityManager, tenantId: string, subject?: { subject: 'customer' | 'key'; subjectId: string }): Promise<BudgetRow[]> {
    const rows: Array<{ subject: 'customer' | 'key'; subject_id: string; period: Period; amount: string }> = subject
      ? await manager.query(`SELECT subject, subject_id, period, amount FROM budgets WHERE tenant_id = $1 AND subject = $2 AND subject_id = $3 ORDER BY period`, [
          tenantId,
          subject.subject,
          subject.subjectId,
        ])
      : await manager.query(`SELECT subject, subject_id, period, amount FROM budgets WHERE tenant_id = $1`, [tenantId]);
    return rows.map((r) => ({ subject: r.subject, subjectId: r.subject_id, period: r.period, amount: trimDecimal(r.amount) }));
  }

  async setBudget(manager: EntityManager, tenantId: string, b: { subject: 'customer' | 'key'; subjectId: string; period: Period }, amount: string | null, by: string): Promise<void> {
    if (amount === null) {
      await manager.query(`DELETE FROM budgets WHERE tenant_id = $1 AND subject = $2 AND subject_id = $3 AND period = $4`, [tenantId, b.subject, b.subjectId, b.period]);
      return;
    }
    await manager.query(
      `INSERT INTO budgets (tenant_id, subject, subject_id, period, amount, set_by) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant_id, subject, subject_id, period) DO UPDATE SET amount = EXCLUDED.amount, set_by = EXCLUDED.set_by, updated_at = now()`,
      [tenantId, b.subject, b.subjectId, b.period, amount, by],
    );
  }

  async keyOf(manager: EntityManager, tenantId: string, keyId: string): Promise<boolean> {
    const rows = await manager.query(`SELECT 1 FROM api_keys WHERE id = $1 AND tenant_id = $2`, [keyId, tenantId]);
    return rows.length > 0;
  }

  async isCustomer(manager: EntityManager, tenantId: string, customerId: string): Promise<boolean> {
    const rows = await manager.query(
      `SELECT 1 FROM users u WHERE u.id = $1 AND u.tenant_id = $2
          AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.tenant_id = u.tenant_id AND r.role = 'user')`,
      [customerId, tenantId],
    );
    return rows.length > 0;
  }

  async tenantType(manager: EntityManager, tenantId: string): Promise<string | null> {
    const [row] = await manager.query(`SELECT type FROM tenants WHERE id = $1`, [tenantId]);
    return row?.type ?? null;
  }
}
