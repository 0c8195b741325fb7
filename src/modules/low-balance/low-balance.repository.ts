import { Injectable } from '@nestjs/common';
import { currentSalesUserSql } from '@app/authorization';
import { fromUnits } from '@app/money';
import { EntityManager } from 'typeorm';

/** A wallet that lost money in the caller's transaction, with its balance before and after and its threshold. */
export interface WalletMove {
  customerId: string;
  before: string;
  after: string;
  threshold: string;
}

@Injectable()
export class LowBalanceRepository {
  /**
   * For the wallets of `tenantId` that lost `debited` (nano-units, positive) in the caller's
   * transaction: their balance now and before, and their effective threshold (customer, else
   * tenant, else `platformDefault`). One statement for a whole batch. Only the wallets that may
   * have crossed (were above zero before and are now at or below zero or below their threshold)
   * come back: in the metering path almost none do.
   *
   * The caller's transaction holds the wallet rows locked (the ledger's entries trigger locks the
   * accounts it moves until commit), so `balance + debited` is exactly the balance before it.
   */
  async debitedWallets(m: EntityManager, tenantId: string, debited: ReadonlyMap<string, bigint>, platformDefault: string): Promise<WalletMove[]> {
    const ids = [...debited.keys()].sort();
    if (ids.length === 0) return [];
    const rows: Array<{ customer_id: string; before: string; after: string; threshold: string }> = await m.query(
      `SELECT d.customer_id, (a.balance + d.debited)::text AS before, a.balance::text AS after, x.threshold::text AS threshold
         FROM unnest($2::uuid[], $3::numeric[]) AS d(customer_id, debited)
         JOIN ledger_accounts a ON a.tenant_id = $1 AND a.kind = 'customer_wallet' AND a.customer_id = d.customer_id
         LEFT JOIN users u ON u.id = d.customer_id AND u.tenant_id = $1
         CROSS JOIN LATERAL (
           SELECT coalesce(u.low_balance_threshold, (SELECT t.low_balance_threshold FROM tenants t WHERE t.id = $1), $4::numeric)::numeric(30, 9) AS threshold
         ) x
        WHERE d.debited > 0 AND a.balance + d.debited > 0 AND (a.balance <= 0 OR a.balance <= x.threshold)
        ORDER BY d.customer_id`,
      [tenantId, ids, ids.map((id) => fromUnits(debited.get(id)!)), platformDefault],
    );
    return rows.map((r) => ({ customerId: r.customer_id, before: r.before, after: r.after, threshold: r.threshold }));
  }

  /** A customer (a user holding the `user` role) of `tenantId` with their salesperson and own threshold. */
  async customer(m: EntityManager, tenantId: string, customerId: string, lock = false): Promise<{ id: string; salesUserId: string | null; threshold: string | null } | null> {
    const [row] = await m.query(
      `SELECT u.id, ${currentSalesUserSql('u.id')} AS sales_user_id, u.low_balance_threshold::text AS threshold FROM users u
        WHERE u.id = $1 AND u.tenant_id = $2 AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = 'user')${lock ? ' FOR UPDATE OF u' : ''}`,
      [customerId, tenantId],
    );
    return row ? { id: row.id, salesUserId: row.sales_user_id, threshold: row.threshold } : null;
  }

  async setCustomerThreshold(m: EntityManager, tenantId: string, customerId: string, threshold: string | null): Promise<void> {
    await m.query(`UPDATE users SET low_balance_threshold = $3, updated_at = now() WHERE id = $1 AND tenant_id = $2`, [customerId, tenantId, threshold]);
  }

  /** A tenant visible in the caller's scope, with its default threshold. */
  async tenant(m: EntityManager, tenantId: string, lock = false): Promise<{ id: string; threshold: string | null } | null> {
    const [row] = await m.query(`SELECT id, low_balance_threshold::text AS threshold FROM tenants WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [tenantId]);
    return row ? { id: row.id, threshold: row.threshold } : null;
  }

  async setTenantThreshold(m: EntityManager, tenantId: string, threshold: string | null): Promise<void> {
    await m.query(`UPDATE tenants SET low_balance_threshold = $2, updated_at = now() WHERE id = $1`, [tenantId, threshold]);
  }
}
