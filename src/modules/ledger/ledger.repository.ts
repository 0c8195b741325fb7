import { Injectable } from '@nestjs/common';
import { abilityToSql, AppAbility, currentSalesUserSql } from '@app/authorization';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';

export type AccountKind =
  | 'customer_wallet'
  | 'reseller_revenue'
  | 'wholesale_payable'
  | 'adjustments'
  | 'payments'
  | 'platform_revenue'
  | 'upstream_cost'
  | 'upstream_payable'
  // Settlement and withdrawals (migration SettlementLedger).
  | 'reseller_settled'
  | 'withdrawal_pending'
  | 'withdrawal_approved'
  | 'payouts';

export type TransactionKind = 'usage' | 'credit' | 'debit' | 'payment' | 'correction' | 'settlement' | 'withdrawal';

/** One leg of a ledger transaction: a signed amount (decimal string, 9 decimals at most) on an account. */
export interface EntryInput {
  accountId: string;
  tenantId: string;
  amount: string;
}

export interface TransactionInput {
  id?: string;
  tenantId: string;
  kind: TransactionKind;
  idempotencyKey: string;
  customerId: string | null;
  /** What the customer's wallet gained (positive) or lost (negative). */
  amount: string;
  note?: string | null;
  createdBy?: string | null;
  occurredAt?: Date;
  entries: EntryInput[];
}

export interface TransactionView {
  id: string;
  kind: TransactionKind;
  amount: string;
  note: string | null;
  reference: string;
  occurredAt: string;
  createdAt: string;
}

/**
 * SQL of the ledger. Balances are never written here: the entries trigger moves them (see the
 * Ledger migration). Callers pass the EntityManager of their transaction (tenant-scoped for the
 * api, the system role's for the worker).
 */
@Injectable()
export class LedgerRepository {
  /** The id of a tenant-level account, created on first use. */
  async tenantAccount(m: EntityManager, tenantId: string, kind: Exclude<AccountKind, 'customer_wallet'>): Promise<string> {
    await m.query(
      `INSERT INTO ledger_accounts (id, tenant_id, kind) VALUES ($1, $2, $3)
       ON CONFLICT (tenant_id, kind) WHERE customer_id IS NULL DO NOTHING`,
      [uuidv7(), tenantId, kind],
    );
    const [row] = await m.query(`SELECT id FROM ledger_accounts WHERE tenant_id = $1 AND kind = $2 AND customer_id IS NULL`, [tenantId, kind]);
    return row.id;
  }

  /** Wallet ids of the given customers of one tenant, created on first use (one statement each way). */
  async wallets(m: EntityManager, tenantId: string, customerIds: readonly string[]): Promise<Map<string, string>> {
    const ids = [...new Set(customerIds)];
    await m.query(
      `INSERT INTO ledger_accounts (id, tenant_id, kind, customer_id)
       SELECT w.id, $1, 'customer_wallet', w.customer_id FROM unnest($2::uuid[], $3::uuid[]) AS w(id, customer_id)
       ORDER BY w.customer_id
       ON CONFLICT (tenant_id, customer_id) WHERE kind = 'customer_wallet' DO NOTHING`,
      [tenantId, ids.map(() => uuidv7()), ids],
    );
    const rows: Array<{ id: string; customer_id: string }> = await m.query(
      `SELECT id, customer_id FROM ledger_accounts WHERE tenant_id = $1 AND kind = 'customer_wallet' AND customer_id = ANY($2::uuid[])`,
      [tenantId, ids],
    );
    return new Map(rows.map((r) => [r.customer_id, r.id]));
  }

  /** A wallet with its balance, locked (FOR UPDATE) until the end of the transaction: for credits. */
  async lockWallet(m: EntityManager, tenantId: string, customerId: string): Promise<{ id: string; balance: string; allowOverdraft: boolean }> {
    const id = (await this.wallets(m, tenantId, [customerId])).get(customerId)!;
    const [row] = await m.query(`SELECT id, balance::text AS balance, allow_overdraft FROM ledger_accounts WHERE id = $1 FOR UPDATE`, [id]);
    return { id: row.id, balance: row.balance, allowOverdraft: row.allow_overdraft };
  }

  /**
   * A wallet's balance under a share lock (FOR SHARE): a credit holds the row FOR UPDATE until it
   * commits, so a balance read this way never misses a credit that is already applied to Redis.
   * Null when the customer has no wallet yet.
   */
  async walletBalanceShared(m: EntityManager, tenantId: string, customerId: string): Promise<string | null> {
    const [row] = await m.query(
      `SELECT balance::text AS balance FROM ledger_accounts WHERE tenant_id = $1 AND kind = 'customer_wallet' AND customer_id = $2 FOR SHARE`,
      [tenantId, customerId],
    );
    return row ? row.balance : null;
  }

  async walletBalance(m: EntityManager, tenantId: string, customerId: string): Promise<string | null> {
    const [row] = await m.query(
      `SELECT balance::text AS balance FROM ledger_accounts WHERE tenant_id = $1 AND kind = 'customer_wallet' AND customer_id = $2`,
      [tenantId, customerId],
    );
    return row ? row.balance : null;
  }

  /** The transaction with this idempotency key, if one was already written. */
  async findByKey(m: EntityManager, tenantId: string, idempotencyKey: string): Promise<TransactionView | null> {
    const [row] = await m.query(`${SELECT_VIEW} WHERE tenant_id = $1 AND idempotency_key = $2`, [tenantId, idempotencyKey]);
    return row ? toView(row) : null;
  }

  /**
   * Writes transactions and their entries in two statements. Transactions whose idempotency key
   * already exists are skipped (ON CONFLICT DO NOTHING) with their entries; returns the keys that
   * were new. Balances move in the same database transaction (trigger).
   */
  async post(m: EntityManager, transactions: readonly TransactionInput[]): Promise<Set<string>> {
    if (transactions.length === 0) return new Set();
    const withIds = transactions.map((t) => ({ ...t, id: t.id ?? uuidv7() }));
    const col = <T>(pick: (t: (typeof withIds)[number]) => T) => withIds.map(pick);
    const inserted: Array<{ id: string; idempotency_key: string }> = await m.query(
      `INSERT INTO ledger_transactions (id, tenant_id, kind, idempotency_key, customer_id, amount, note, created_by, occurred_at)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::numeric[], $7::text[], $8::uuid[], $9::timestamptz[])
       ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
       RETURNING id, idempotency_key`,
      [
        col((t) => t.id),
        col((t) => t.tenantId),
        col((t) => t.kind),
        col((t) => t.idempotencyKey),
        col((t) => t.customerId),
        col((t) => t.amount),
        col((t) => t.note ?? null),
        col((t) => t.createdBy ?? null),
        col((t) => (t.occurredAt ?? new Date()).toISOString()),
      ],
    );
    const fresh = new Set(inserted.map((r) => r.id));
    const entries = withIds.filter((t) => fresh.has(t.id)).flatMap((t) => t.entries.map((e) => ({ ...e, transactionId: t.id })));
    if (entries.length > 0) {
      await m.query(
        `INSERT INTO ledger_entries (tenant_id, transaction_id, account_id, amount)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::numeric[])`,
        [entries.map((e) => e.tenantId), entries.map((e) => e.transactionId), entries.map((e) => e.accountId), entries.map((e) => e.amount)],
      );
    }
    return new Set(inserted.map((r) => r.idempotency_key));
  }

  /**
   * A customer of the tenant (a user holding the `user` role) with their current salesperson, or
   * null when there is no such customer in the caller's scope.
   */
  async customer(m: EntityManager, tenantId: string, customerId: string): Promise<{ id: string; salesUserId: string | null } | null> {
    const [row] = await m.query(
      `SELECT u.id, ${CURRENT_SALES_USER} AS sales_user_id FROM users u
        WHERE u.tenant_id = $1 AND u.id = $2
          AND EXISTS (SELECT 1 FROM user_roles r WHERE r.tenant_id = u.tenant_id AND r.user_id = u.id AND r.role = 'user')`,
      [tenantId, customerId],
    );
    return row ? { id: row.id, salesUserId: row.sales_user_id } : null;
  }

  async customerExists(m: EntityManager, tenantId: string, customerId: string): Promise<boolean> {
    return (await this.customer(m, tenantId, customerId)) !== null;
  }

  /**
   * A customer's transactions, newest first, with a keyset cursor (created_at, id), each with the
   * wallet's balance right after it. Read from the wallet's entries: a usage transaction is posted
   * per metering batch and tenant, with one leg per customer, and what it took from this customer
   * is its leg on their wallet (for a credit, its amount). One statement (one snapshot): the
   * balance after a transaction is the wallet's balance now minus every transaction listed after
   * it (newer ones of this page, and everything newer than the cursor), so a page costs what lies
   * above it, not the history.
   */
  async listForCustomer(
    m: EntityManager,
    tenantId: string,
    customerId: string,
    limit: number,
    before?: { createdAt: string; id: string },
  ): Promise<TransactionView[]> {
    const rows = await m.query(
      `WITH wallet AS (
         SELECT id, balance FROM ledger_accounts WHERE tenant_id = $1 AND kind = 'customer_wallet' AND customer_id = $2
       ), lines AS (
         SELECT e.transaction_id, e.created_at, sum(e.amount) AS amount FROM ledger_entries e JOIN wallet w ON w.id = e.account_id
          WHERE e.tenant_id = $1 AND ($3::timestamptz IS NULL OR (e.created_at, e.transaction_id) < ($3::timestamptz, $4::uuid))
          GROUP BY e.created_at, e.transaction_id
          ORDER BY e.created_at DESC, e.transaction_id DESC LIMIT $5
       ), newer AS (
         SELECT coalesce(sum(e.amount), 0) AS total FROM ledger_entries e JOIN wallet w ON w.id = e.account_id
          WHERE e.tenant_id = $1 AND $3::timestamptz IS NOT NULL AND (e.created_at, e.transaction_id) >= ($3::timestamptz, $4::uuid)
       ), page AS (
         SELECT t.id, t.kind, lines.amount, t.note, t.idempotency_key, t.occurred_at, t.created_at
           FROM lines JOIN ledger_transactions t ON t.id = lines.transaction_id AND t.tenant_id = $1
       )
       SELECT page.id, page.kind, page.amount::numeric(30, 9)::text AS amount, page.note, page.idempotency_key, page.occurred_at, page.created_at,
              (coalesce((SELECT balance FROM wallet), 0) - newer.total
                - coalesce(sum(page.amount) OVER (ORDER BY page.created_at DESC, page.id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
              )::numeric(30, 9)::text AS balance_after
         FROM page, newer
        ORDER BY page.created_at DESC, page.id DESC`,
      [tenantId, customerId, before?.createdAt ?? null, before?.id ?? null, limit],
    );
    return rows.map(toView);
  }

  /**
   * Credits, debits and payment credits of the customers the caller may read the wallets of
   * (`read` Balance, translated to SQL: the tenant's, or a salesperson's bound customers'),
   * newest first, with who they were for and who posted them.
   */
  async listCredits(
    m: EntityManager,
    ability: AppAbility,
    filter: { q?: string; kind?: string; customerId?: string },
    offset: number,
    limit: number,
  ): Promise<[CreditRow[], number]> {
    const allowed = abilityToSql(ability, 'read', 'Balance', CREDIT_COLUMNS);
    if (!allowed) return [[], 0];
    const where = [allowed.sql, `t.kind IN ('credit', 'debit', 'payment')`, 't.customer_id IS NOT NULL'];
    const params: Record<string, unknown> = { ...allowed.params, limit, offset };
    if (filter.kind) {
      where.push('t.kind = :kind');
      params.kind = filter.kind;
    }
    if (filter.customerId) {
      where.push('t.customer_id = :customerId');
      params.customerId = filter.customerId;
    }
    if (filter.q) {
      where.push(`(c.email ILIKE :q OR c.display_name ILIKE :q OR t.note ILIKE :q OR t.idempotency_key ILIKE :q)`);
      params.q = `%${filter.q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
    }
    const from = `FROM ledger_transactions t JOIN users c ON c.id = t.customer_id AND c.tenant_id = t.tenant_id WHERE ${where.join(' AND ')}`;
    const [{ total }] = await query(m, `SELECT count(*)::int AS total ${from}`, params);
    const rows = await query(
      m,
      `SELECT t.id, t.kind, t.amount::text AS amount, t.note, t.idempotency_key, t.created_at,
              c.id AS customer_id, c.email AS customer_email, c.display_name AS customer_name,
              b.id AS by_id, b.email AS by_email, b.display_name AS by_name
         FROM ledger_transactions t
         JOIN users c ON c.id = t.customer_id AND c.tenant_id = t.tenant_id
         LEFT JOIN users b ON b.id = t.created_by
        WHERE ${where.join(' AND ')}
        ORDER BY t.created_at DESC, t.id DESC LIMIT :limit OFFSET :offset`,
      params,
    );
    return [
      rows.map((r) => ({
        id: r.id,
        kind: r.kind,
        amount: r.amount,
        note: r.note,
        reference: r.idempotency_key.slice(r.idempotency_key.indexOf(':') + 1),
        customer: { id: r.customer_id, email: r.customer_email, displayName: r.customer_name },
        createdBy: r.by_id ? { id: r.by_id, email: r.by_email, displayName: r.by_name } : null,
        createdAt: new Date(r.created_at).toISOString(),
      })),
      total,
    ];
  }
}

/** Runs SQL with TypeORM-style named parameters (`:name`, `:...list`). */
function query(m: EntityManager, sql: string, params: Record<string, unknown>): Promise<any[]> {
  const [text, values] = m.connection.driver.escapeQueryWithParameters(sql, params, {});
  return m.query(text, values);
}

const CURRENT_SALES_USER = currentSalesUserSql('u.id');

/** The CASL fields of a wallet's transaction, as columns (the wallet's read rules scope the credits list). */
const CREDIT_COLUMNS = { tenantId: 't.tenant_id', customerId: 't.customer_id', salesUserId: currentSalesUserSql('t.customer_id') } as const;

export interface CreditRow {
  id: string;
  kind: string;
  amount: string;
  note: string | null;
  reference: string;
  customer: { id: string; email: string; displayName: string | null };
  createdBy: { id: string; email: string; displayName: string | null } | null;
  createdAt: string;
}

const SELECT_VIEW = `SELECT id, kind, amount::text AS amount, note, idempotency_key, occurred_at, created_at FROM ledger_transactions`;

function toView(row: Record<string, any>): TransactionView {
  const key: string = row.idempotency_key;
  return {
    id: row.id,
    kind: row.kind,
    amount: row.amount,
    note: row.note,
    reference: key.slice(key.indexOf(':') + 1),
    occurredAt: new Date(row.occurred_at).toISOString(),
    createdAt: new Date(row.created_at).toISOString(),
    ...(row.balance_after !== undefined ? { balanceAfter: row.balance_after } : {}),
  };
}
