import { Injectable } from '@nestjs/common';
import { abilityToSql, AppAbility, currentSalesUserSql } from '@app/authorization';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { returnedRows } from '../../common/sql';
import { BindingPeriodView, CustomerListQuery, CustomerView, SalespersonRef } from './dto/customer.dto';
import { CUSTOMER } from './customers.permissions';

/** The CASL fields of a customer and the SQL that computes each (salesUserId: the current binding). */
const COLUMNS = { id: 'u.id', tenantId: 'u.tenant_id', status: 'u.status', salesUserId: currentSalesUserSql('u.id') } as const;

const IS_CUSTOMER = `EXISTS (SELECT 1 FROM user_roles cr WHERE cr.user_id = u.id AND cr.tenant_id = u.tenant_id AND cr.role = 'user')`;

const SORT_SQL: Record<string, string> = {
  createdAt: 'u.created_at ASC, u.id ASC',
  '-createdAt': 'u.created_at DESC, u.id DESC',
  email: 'lower(u.email) ASC, u.id ASC',
  '-email': 'lower(u.email) DESC, u.id DESC',
  lastActiveAt: 'greatest(u.last_active_at, u.last_login_at) ASC NULLS FIRST, u.id ASC',
  '-lastActiveAt': 'greatest(u.last_active_at, u.last_login_at) DESC NULLS LAST, u.id DESC',
};

/** What a loaded customer is checked against (its CASL fields) and shown as. */
export interface CustomerRecord {
  view: CustomerView;
  subject: { id: string; tenantId: string; status: string; salesUserId: string | null };
}

interface CustomerRow {
  id: string;
  tenant_id: string;
  email: string;
  display_name: string | null;
  status: string;
  created_at: Date;
  last_active_at: Date | null;
  sales_user_id: string | null;
  sales_email: string | null;
  sales_display_name: string | null;
  bound_at: Date | null;
}

const SELECT = `SELECT u.id, u.tenant_id, u.email, u.display_name, u.status, u.created_at,
       greatest(u.last_active_at, u.last_login_at) AS last_active_at,
       cb.sales_user_id, cb.bound_at, s.email AS sales_email, s.display_name AS sales_display_name
  FROM users u
  LEFT JOIN customer_bindings cb ON cb.customer_id = u.id AND cb.unbound_at IS NULL
  LEFT JOIN users s ON s.id = cb.sales_user_id`;

const toRecord = (r: CustomerRow): CustomerRecord => ({
  view: {
    id: r.id,
    email: r.email,
    displayName: r.display_name,
    status: r.status,
    salesperson: r.sales_user_id ? { id: r.sales_user_id, email: r.sales_email, displayName: r.sales_display_name } : null,
    boundAt: r.bound_at,
    createdAt: r.created_at,
    lastActiveAt: r.last_active_at,
  },
  subject: { id: r.id, tenantId: r.tenant_id, status: r.status, salesUserId: r.sales_user_id },
});

export interface SalespersonState {
  id: string;
  status: string;
  isSales: boolean;
}

interface PeriodRow {
  id: string;
  sales_user_id: string;
  email: string | null;
  display_name: string | null;
  bound_at: Date;
  unbound_at: Date | null;
  bound_by: string | null;
  unbound_by: string | null;
  unbind_reason: string | null;
}

const toPeriod = (r: PeriodRow): BindingPeriodView => ({
  id: r.id,
  salesperson: { id: r.sales_user_id, email: r.email, displayName: r.display_name },
  boundAt: r.bound_at,
  unboundAt: r.unbound_at,
  boundBy: r.bound_by,
  unboundBy: r.unbound_by,
  unbindReason: r.unbind_reason,
});

/** Customers, their current salesperson and the binding periods. SQL only; runs in the caller's transaction. */
@Injectable()
export class CustomersRepository {
  /**
   * The customers of `tenantId` the caller may read, filtered in SQL by their abilities: the page
   * and the total are both computed over that filter, so a salesperson's counts cover their own
   * customers only.
   */
  async list(
    manager: EntityManager,
    ability: AppAbility,
    tenantId: string,
    query: CustomerListQuery,
    offset: number,
    limit: number,
  ): Promise<{ items: CustomerView[]; total: number }> {
    const allowed = abilityToSql(ability, 'read', CUSTOMER, COLUMNS);
    if (!allowed) return { items: [], total: 0 };
    const qb = manager
      .createQueryBuilder()
      .from('users', 'u')
      .where(allowed.sql, allowed.params)
      .andWhere('u.tenant_id = :tenantId', { tenantId })
      .andWhere(IS_CUSTOMER);
    if (query.status) qb.andWhere('u.status = :status', { status: query.status });
    if (query.q) {
      qb.andWhere("(u.email ILIKE :q ESCAPE '\\' OR u.display_name ILIKE :q ESCAPE '\\')", { q: `%${query.q.replace(/[\\%_]/g, '\\$&')}%` });
    }
    if (query.sales === 'unbound') qb.andWhere(`${COLUMNS.salesUserId} IS NULL`);
    else if (query.sales) qb.andWhere(`${COLUMNS.salesUserId} = :salesFilter`, { salesFilter: query.sales.toLowerCase() });
    if (query.createdFrom) qb.andWhere('u.created_at >= :createdFrom', { createdFrom: query.createdFrom });
    if (query.createdTo) qb.andWhere('u.created_at < :createdTo', { createdTo: query.createdTo });

    const [countSql, countParams] = qb.clone().select('count(*)::int', 'n').getQueryAndParameters();
    const [{ n: total }] = await manager.query(countSql, countParams);
    const order = SORT_SQL[query.sort ?? '-createdAt'];
    const [idSql, idParams] = qb.clone().select('u.id', 'id').getQueryAndParameters();
    // offset and limit are validated integers (PageQuery), never client text.
    const page = `${idSql} ORDER BY ${order} OFFSET ${Number(offset)} LIMIT ${Number(limit)}`;
    const rows: CustomerRow[] = await manager.query(`${SELECT} WHERE u.id IN (SELECT id FROM (${page}) AS page) ORDER BY ${order}`, idParams);
    return { items: rows.map((r) => toRecord(r).view), total };
  }

  /** One customer of `tenantId` (a user holding the `user` role), with its CASL fields; null if none. */
  async find(manager: EntityManager, tenantId: string, customerId: string, lock = false): Promise<CustomerRecord | null> {
    if (lock) await manager.query(`SELECT 1 FROM users WHERE id = $1 AND tenant_id = $2 FOR UPDATE`, [customerId, tenantId]);
    const rows: CustomerRow[] = await manager.query(`${SELECT} WHERE u.id = $1 AND u.tenant_id = $2 AND ${IS_CUSTOMER}`, [customerId, tenantId]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async grantCustomerRole(manager: EntityManager, tenantId: string, userId: string, grantedBy: string): Promise<void> {
    await manager.query(`INSERT INTO user_roles (tenant_id, user_id, role, granted_by) VALUES ($1, $2, 'user', $3) ON CONFLICT DO NOTHING`, [
      tenantId,
      userId,
      grantedBy,
    ]);
  }

  /**
   * The member who would be bound, locked against a concurrent disable or removal (which lock the
   * same row before releasing their customers). Null when no user of `tenantId` has this id.
   */
  async lockSalesperson(manager: EntityManager, tenantId: string, userId: string): Promise<SalespersonState | null> {
    const rows: Array<{ id: string; status: string }> = await manager.query(
      `SELECT u.id, u.status FROM users u WHERE u.id = $1 AND u.tenant_id = $2 FOR SHARE`,
      [userId, tenantId],
    );
    if (!rows[0]) return null;
    // A separate statement, so it reads the roles as of after the lock (a concurrent role change
    // that released this salesperson committed before we got the row).
    const roles: unknown[] = await manager.query(`SELECT 1 FROM user_roles WHERE user_id = $1 AND tenant_id = $2 AND role = 'sales'`, [userId, tenantId]);
    return { id: rows[0].id, status: rows[0].status, isSales: roles.length > 0 };
  }

  /** Closes the current period of a customer, if any; returns the salesperson it belonged to. */
  async unbind(manager: EntityManager, tenantId: string, customerId: string, actorId: string | null, reason: string | null): Promise<string | null> {
    const rows = returnedRows<{ sales_user_id: string }>(
      await manager.query(
        `UPDATE customer_bindings SET unbound_at = greatest(clock_timestamp(), bound_at), unbound_by = $3, unbind_reason = $4
          WHERE tenant_id = $1 AND customer_id = $2 AND unbound_at IS NULL RETURNING sales_user_id`,
        [tenantId, customerId, actorId, reason],
      ),
    );
    return rows[0]?.sales_user_id ?? null;
  }

  /**
   * Opens a period. Times are taken after the customer's row lock is held (clock_timestamp, not
   * the transaction's start), and never before the previous period's end: periods never overlap.
   */
  async bind(manager: EntityManager, tenantId: string, customerId: string, salesUserId: string, actorId: string): Promise<void> {
    await manager.query(
      `INSERT INTO customer_bindings (id, tenant_id, customer_id, sales_user_id, bound_by, bound_at)
       VALUES ($1, $2, $3, $4, $5, greatest(clock_timestamp(), (SELECT max(p.unbound_at) FROM customer_bindings p WHERE p.customer_id = $3)))`,
      [uuidv7(), tenantId, customerId, salesUserId, actorId],
    );
  }

  async history(manager: EntityManager, tenantId: string, customerId: string): Promise<BindingPeriodView[]> {
    const rows: PeriodRow[] = await manager.query(
      `SELECT b.id, b.sales_user_id, s.email, s.display_name, b.bound_at, b.unbound_at, b.bound_by, b.unbound_by, b.unbind_reason
         FROM customer_bindings b LEFT JOIN users s ON s.id = b.sales_user_id
        WHERE b.tenant_id = $1 AND b.customer_id = $2 ORDER BY b.bound_at DESC, b.id DESC`,
      [tenantId, customerId],
    );
    return rows.map(toPeriod);
  }

  /**
   * Closes every current binding of a salesperson (their customers, and for platform sales their
   * resellers), after locking the member's row so a concurrent bind to them waits and then sees
   * them gone or disabled. Returns what was released.
   */
  async releaseSalesperson(
    manager: EntityManager,
    tenantId: string,
    salesUserId: string,
    actorId: string | null,
    reason: string,
  ): Promise<{ customerIds: string[]; resellerIds: string[] }> {
    await manager.query(`SELECT 1 FROM users WHERE id = $1 AND tenant_id = $2 FOR UPDATE`, [salesUserId, tenantId]);
    const customers = returnedRows<{ customer_id: string }>(
      await manager.query(
        `UPDATE customer_bindings SET unbound_at = greatest(clock_timestamp(), bound_at), unbound_by = $3, unbind_reason = $4
          WHERE tenant_id = $1 AND sales_user_id = $2 AND unbound_at IS NULL RETURNING customer_id`,
        [tenantId, salesUserId, actorId, reason],
      ),
    );
    const resellers = returnedRows<{ reseller_id: string }>(
      await manager.query(
        `UPDATE tenant_sales_bindings SET unbound_at = greatest(clock_timestamp(), bound_at), unbound_by = $3, unbind_reason = $4
          WHERE tenant_id = $1 AND sales_user_id = $2 AND unbound_at IS NULL RETURNING reseller_id`,
        [tenantId, salesUserId, actorId, reason],
      ),
    );
    return { customerIds: customers.map((r) => r.customer_id), resellerIds: resellers.map((r) => r.reseller_id) };
  }

  /** The reseller's platform-sales periods, newest first (the current one has no end). */
  async resellerHistory(manager: EntityManager, platformTenantId: string, resellerId: string): Promise<BindingPeriodView[]> {
    const rows: PeriodRow[] = await manager.query(
      `SELECT b.id, b.sales_user_id, s.email, s.display_name, b.bound_at, b.unbound_at, b.bound_by, b.unbound_by, b.unbind_reason
         FROM tenant_sales_bindings b LEFT JOIN users s ON s.id = b.sales_user_id
        WHERE b.tenant_id = $1 AND b.reseller_id = $2 ORDER BY b.bound_at DESC, b.id DESC`,
      [platformTenantId, resellerId],
    );
    return rows.map(toPeriod);
  }

  async unbindReseller(manager: EntityManager, platformTenantId: string, resellerId: string, actorId: string, reason: string | null): Promise<string | null> {
    const rows = returnedRows<{ sales_user_id: string }>(
      await manager.query(
        `UPDATE tenant_sales_bindings SET unbound_at = greatest(clock_timestamp(), bound_at), unbound_by = $3, unbind_reason = $4
          WHERE tenant_id = $1 AND reseller_id = $2 AND unbound_at IS NULL RETURNING sales_user_id`,
        [platformTenantId, resellerId, actorId, reason],
      ),
    );
    return rows[0]?.sales_user_id ?? null;
  }

  async bindReseller(manager: EntityManager, platformTenantId: string, resellerId: string, salesUserId: string, actorId: string): Promise<void> {
    await manager.query(
      `INSERT INTO tenant_sales_bindings (id, tenant_id, reseller_id, sales_user_id, bound_by, bound_at)
       VALUES ($1, $2, $3, $4, $5, greatest(clock_timestamp(), (SELECT max(p.unbound_at) FROM tenant_sales_bindings p WHERE p.reseller_id = $3)))`,
      [uuidv7(), platformTenantId, resellerId, salesUserId, actorId],
    );
  }

  /** Locks a reseller's tenant row so two reassignments of it run one after the other. */
  async lockTenant(manager: EntityManager, tenantId: string): Promise<{ id: string; type: string } | null> {
    const rows: Array<{ id: string; type: string }> = await manager.query(`SELECT id, type FROM tenants WHERE id = $1 FOR UPDATE`, [tenantId]);
    return rows[0] ?? null;
  }

  /** E-mail and name of users of one tenant (labels for the caller's own colleagues only). */
  async people(manager: EntityManager, tenantId: string, ids: string[]): Promise<Map<string, SalespersonRef>> {
    if (ids.length === 0) return new Map();
    const rows: Array<{ id: string; email: string; display_name: string | null }> = await manager.query(
      `SELECT id, email, display_name FROM users WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
      [tenantId, ids],
    );
    return new Map(rows.map((r) => [r.id, { id: r.id, email: r.email, displayName: r.display_name }]));
  }

  async tenantSlugs(manager: EntityManager, ids: string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows: Array<{ id: string; slug: string }> = await manager.query(`SELECT id, slug FROM tenants WHERE id = ANY($1::uuid[])`, [ids]);
    return new Map(rows.map((r) => [r.id, r.slug]));
  }
}
