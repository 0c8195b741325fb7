import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { StatementAdjustmentView } from './dto/statement-adjustment.dto';

export interface NewStatementAdjustment {
  id: string;
  tenantId: string;
  correctsStatementId: string;
  amount: string;
  reason: string;
  createdBy: string | null;
  ledgerTransactionId: string;
}

const COLUMNS = `id, tenant_id, corrects_statement_id, amount::text AS amount, reason, created_by, ledger_transaction_id, created_at`;

/** SQL of manual statement adjustments (append-only; run in the caller's tenant transaction). */
@Injectable()
export class StatementAdjustmentsRepository {
  /** An account's balance, its row locked (FOR UPDATE) until the transaction ends. */
  async lockAccount(m: EntityManager, accountId: string): Promise<string> {
    const [row] = await m.query(`SELECT balance::text AS balance FROM ledger_accounts WHERE id = $1 FOR UPDATE`, [accountId]);
    return row.balance;
  }

  async insert(m: EntityManager, a: NewStatementAdjustment): Promise<StatementAdjustmentView> {
    const [row] = await m.query(
      `INSERT INTO statement_adjustments (id, tenant_id, corrects_statement_id, amount, reason, created_by, ledger_transaction_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [a.id, a.tenantId, a.correctsStatementId, a.amount, a.reason, a.createdBy, a.ledgerTransactionId],
    );
    return toView(row);
  }

  async listForStatement(m: EntityManager, statementId: string): Promise<StatementAdjustmentView[]> {
    const rows = await m.query(`SELECT ${COLUMNS} FROM statement_adjustments WHERE corrects_statement_id = $1 ORDER BY created_at, id`, [statementId]);
    return rows.map(toView);
  }
}

function toView(row: Record<string, any>): StatementAdjustmentView {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    correctsStatementId: row.corrects_statement_id,
    amount: row.amount,
    reason: row.reason,
    createdBy: row.created_by,
    ledgerTransactionId: row.ledger_transaction_id,
    createdAt: new Date(row.created_at).toISOString(),
  };
}
