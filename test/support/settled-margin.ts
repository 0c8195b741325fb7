import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { fromUnits, toUnits } from '../../libs/money/src';

/**
 * TEST SETUP: credits a reseller's settled margin the way the statements job does at a period's
 * close (a balanced `settlement` transaction: reseller_revenue -retail, wholesale_payable
 * +wholesale, reseller_settled +margin), written through the system role. Here retail is three
 * times the margin and wholesale twice.
 */
export async function fundSettledMargin(system: Client, tenantId: string, margin: string): Promise<void> {
  const units = toUnits(margin);
  await system.query('BEGIN');
  try {
    const account = async (kind: string) => {
      await system.query(
        `INSERT INTO ledger_accounts (id, tenant_id, kind) VALUES ($1, $2, $3) ON CONFLICT (tenant_id, kind) WHERE customer_id IS NULL DO NOTHING`,
        [uuidv7(), tenantId, kind],
      );
      const { rows } = await system.query(`SELECT id FROM ledger_accounts WHERE tenant_id = $1 AND kind = $2 AND customer_id IS NULL`, [tenantId, kind]);
      return rows[0].id as string;
    };
    const revenue = await account('reseller_revenue');
    const payable = await account('wholesale_payable');
    const settled = await account('reseller_settled');
    const id = uuidv7();
    await system.query(
      `INSERT INTO ledger_transactions (id, tenant_id, kind, idempotency_key, amount, note) VALUES ($1, $2, 'settlement', $3, 0, 'test setup: settled margin')`,
      [id, tenantId, `settlement:test-${id}`],
    );
    await system.query(
      `INSERT INTO ledger_entries (tenant_id, transaction_id, account_id, amount) VALUES ($1, $2, $3, $4), ($1, $2, $5, $6), ($1, $2, $7, $8)`,
      [tenantId, id, revenue, fromUnits(-3n * units), payable, fromUnits(2n * units), settled, fromUnits(units)],
    );
    await system.query('COMMIT');
  } catch (error) {
    await system.query('ROLLBACK');
    throw error;
  }
}

/** The balance of a tenant-level ledger account ('0.000000000' when it does not exist yet). */
export async function accountBalance(system: Client, tenantId: string, kind: string): Promise<string> {
  const { rows } = await system.query(`SELECT balance::text AS balance FROM ledger_accounts WHERE tenant_id = $1 AND kind = $2 AND customer_id IS NULL`, [
    tenantId,
    kind,
  ]);
  return rows[0]?.balance ?? '0.000000000';
}
