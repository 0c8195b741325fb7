import { Injectable } from '@nestjs/common';
import { abilityToSql, AppAbility } from '@app/authorization';
import { EntityManager } from 'typeorm';
import { returnedRows } from '../../common/sql';
import { WithdrawalListQuery, WithdrawalStatus, WithdrawalSummary, WithdrawalView } from './dto/withdrawal.dto';
import { WITHDRAWAL } from './withdrawals.permissions';

const COLUMNS = { tenantId: 'w.tenant_id', status: 'w.status' } as const;
/** The same rules applied to the ledger accounts of the summary (they carry no status). */
const ACCOUNT_COLUMNS = { tenantId: 'a.tenant_id' } as const;

const SELECT_VIEW = `SELECT w.id, w.tenant_id, w.amount::text AS amount, w.status, w.note, w.destination, w.reference,
         w.requested_by, w.requested_at, w.decided_by, w.decided_at, w.reject_reason, w.paid_by, w.paid_at,
         w.payment_reference, w.updated_at
    FROM withdrawals w`;

export interface NewWithdrawal {
  id: string;
  tenantId: string;
  amount: string;
  note: string | null;
  destination: string | null;
  reference: string | null;
  requestedBy: string;
}

/** The columns a decision sets, besides the status. */
export type Decision =
  | { status: 'approved'; by: string }
  | { status: 'rejected'; by: string; reason: string }
  | { status: 'paid'; by: string; paymentReference: string };

/** SQL of withdrawals. Callers pass the EntityManager of their tenant transaction. */
@Injectable()
export class WithdrawalsRepository {
  async tenantType(m: EntityManager, tenantId: string): Promise<'platform' | 'reseller' | null> {
    const [row] = await m.query(`SELECT type FROM tenants WHERE id = $1`, [tenantId]);
    return row ? row.type : null;
  }

  /** The balance of an account, locked (FOR UPDATE) until the end of the transaction. */
  async lockAccount(m: EntityManager, accountId: string): Promise<string> {
    const [row] = await m.query(`SELECT balance::text AS balance FROM ledger_accounts WHERE id = $1 FOR UPDATE`, [accountId]);
    return row.balance;
  }

  async insert(m: EntityManager, w: NewWithdrawal): Promise<void> {
    await m.query(
      `INSERT INTO withdrawals (id, tenant_id, amount, note, destination, reference, requested_by) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [w.id, w.tenantId, w.amount, w.note, w.destination, w.reference, w.requestedBy],
    );
  }

  async findByReference(m: EntityManager, tenantId: string, reference: string): Promise<WithdrawalView | null> {
    const [row] = await m.query(`${SELECT_VIEW} WHERE w.tenant_id = $1 AND w.reference = $2`, [tenantId, reference]);
    return row ? toView(row) : null;
  }

  async find(m: EntityManager, id: string): Promise<WithdrawalView | null> {
    const [row] = await m.query(`${SELECT_VIEW} WHERE w.id = $1`, [id]);
    return row ? toView(row) : null;
  }

  /** The row, locked until the end of the transaction: a concurrent decision waits and then sees the new state. */
  async lock(m: EntityManager, id: string): Promise<WithdrawalView | null> {
    const [row] = await m.query(`${SELECT_VIEW} WHERE w.id = $1 FOR UPDATE`, [id]);
    return row ? toView(row) : null;
  }

  /**
   * Moves the row from `from` to the decision's state. The WHERE on the status makes the step
   * happen at most once even without the row lock; returns null when it did not apply.
   */
  async decide(m: EntityManager, id: string, from: WithdrawalStatus, decision: Decision): Promise<WithdrawalView | null> {
    const sets =
      decision.status === 'paid'
        ? `paid_by = $3, paid_at = now(), payment_reference = $4`
        : `decided_by = $3, decided_at = now(), reject_reason = $4`;
    const extra = decision.status === 'paid' ? decision.paymentReference : decision.status === 'rejected' ? decision.reason : null;
    const result = await m.query(
      `UPDATE withdrawals SET status = $5, ${sets}, updated_at = now() WHERE id = $1 AND status = $2 RETURNING id`,
      [id, from, decision.by, extra, decision.status],
    );
    if (returnedRows(result).length === 0) return null;
    return this.find(m, id);
  }

  /** The withdrawals the caller may read (CASL rules as SQL; RLS is the second layer), newest first. */
  async list(m: EntityManager, ability: AppAbility, query: WithdrawalListQuery, offset: number, limit: number): Promise<[WithdrawalView[], number]> {
    const allowed = abilityToSql(ability, 'read', WITHDRAWAL, COLUMNS);
    if (!allowed) return [[], 0];
    const filters = [allowed.sql];
    const params: Record<string, unknown> = { ...allowed.params, limit, offset };
    if (query.tenantId) filters.push('w.tenant_id = :tenantId');
    if (query.status) filters.push('w.status = :status');
    Object.assign(params, { tenantId: query.tenantId, status: query.status });
    const where = filters.join(' AND ');
    const [{ total }] = await this.query(m, `SELECT count(*)::int AS total FROM withdrawals w WHERE ${where}`, params);
    const rows = await this.query(m, `${SELECT_VIEW} WHERE ${where} ORDER BY w.requested_at DESC, w.id DESC LIMIT :limit OFFSET :offset`, params);
    return [rows.map(toView), total];
  }

  /**
   * Totals over the resellers the caller may read (optionally one): available, pending and
   * approved from the ledger accounts, paid from the paid withdrawals.
   */
  async summary(m: EntityManager, ability: AppAbility, tenantId: string | undefined): Promise<WithdrawalSummary> {
    const zero = '0.000000000';
    const counts: Record<WithdrawalStatus, number> = { requested: 0, approved: 0, rejected: 0, paid: 0 };
    const accounts = abilityToSql(ability, 'read', WITHDRAWAL, ACCOUNT_COLUMNS, 'acc');
    const rows = abilityToSql(ability, 'read', WITHDRAWAL, COLUMNS, 'wd');
    if (!accounts || !rows) return { available: zero, pending: zero, approved: zero, paid: zero, counts };
    const only = tenantId ? ' AND a.tenant_id = :tenantId' : '';
    const [balances] = await this.query(
      m,
      `SELECT coalesce(sum(a.balance) FILTER (WHERE a.kind = 'reseller_settled'), 0)::numeric(30, 9)::text AS available,
              coalesce(sum(a.balance) FILTER (WHERE a.kind = 'withdrawal_pending'), 0)::numeric(30, 9)::text AS pending,
              coalesce(sum(a.balance) FILTER (WHERE a.kind = 'withdrawal_approved'), 0)::numeric(30, 9)::text AS approved
         FROM ledger_accounts a
        WHERE a.customer_id IS NULL AND a.kind IN ('reseller_settled', 'withdrawal_pending', 'withdrawal_approved')
          AND ${accounts.sql}${only}`,
      { ...accounts.params, tenantId },
    );
    const perStatus: Array<{ status: WithdrawalStatus; count: number; total: string }> = await this.query(
      m,
      `SELECT w.status, count(*)::int AS count, sum(w.amount)::numeric(30, 9)::text AS total
         FROM withdrawals w WHERE ${rows.sql}${tenantId ? ' AND w.tenant_id = :tenantId' : ''} GROUP BY w.status`,
      { ...rows.params, tenantId },
    );
    for (const r of perStatus) counts[r.status] = r.count;
    const paid = perStatus.find((r) => r.status === 'paid')?.total ?? zero;
    return { available: balances.available, pending: balances.pending, approved: balances.approved, paid, counts };
  }

  /** Runs SQL with TypeORM-style named parameters (`:name`, `:...list`), as abilityToSql writes them. */
  private query(m: EntityManager, sql: string, params: Record<string, unknown>): Promise<any[]> {
    const [text, values] = m.connection.driver.escapeQueryWithParameters(sql, params, {});
    return m.query(text, values);
  }
}

function iso(value: Date | string | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

function toView(row: Record<string, any>): WithdrawalView {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    amount: row.amount,
    status: row.status,
    note: row.note,
    destination: row.destination,
    reference: row.reference,
    requestedBy: row.requested_by,
    requestedAt: iso(row.requested_at)!,
    decidedBy: row.decided_by,
    decidedAt: iso(row.decided_at),
    rejectReason: row.reject_reason,
    paidBy: row.paid_by,
    paidAt: iso(row.paid_at),
    paymentReference: row.payment_reference,
    updatedAt: iso(row.updated_at)!,
  };
}
