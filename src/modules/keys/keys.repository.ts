import { Injectable } from '@nestjs/common';
import { abilityToSql, AppAbility, currentSalesUserSql } from '@app/authorization';
import { trimDecimal } from '@app/money';
import { EntityManager } from 'typeorm';
import { KeyListQuery, KeyView } from './dto/key.dto';
import { API_KEY } from './keys.permissions';

const COLUMNS = { id: 'k.id', tenantId: 'k.tenant_id', customerId: 'k.customer_id', salesUserId: currentSalesUserSql('k.customer_id') } as const;

/** A key row as loaded for authorization checks: the view plus the CASL fields. */
export interface KeyRecord extends KeyView {
  salesUserId: string | null;
}

interface KeyRow {
  id: string;
  tenant_id: string;
  customer_id: string;
  name: string;
  prefix: string;
  status: string;
  allowed_models: string[] | null;
  rpm_limit: number | null;
  tpm_limit: number | null;
  rph_limit: number | null;
  rpd_limit: number | null;
  tph_limit: string | null;
  tpd_limit: string | null;
  concurrency_limit: number | null;
  spend_limit: string | null;
  spent: string;
  expires_at: Date | null;
  last_used_at: Date | null;
  ip_allowlist: string[] | null;
  previous_secret_expires_at: Date | null;
  revoked_at: Date | null;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  sales_user_id: string | null;
}

/** Everything but the secret's hashes: those never leave the repository. */
const SELECT = `SELECT k.id, k.tenant_id, k.customer_id, k.name, k.prefix, k.status, k.allowed_models, k.rpm_limit, k.tpm_limit, k.concurrency_limit,
       k.rph_limit, k.rpd_limit, k.tph_limit, k.tpd_limit,
       k.spend_limit, k.spent, k.expires_at, k.last_used_at, k.ip_allowlist, k.previous_secret_expires_at, k.revoked_at, k.created_by,
       k.created_at, k.updated_at, ${COLUMNS.salesUserId} AS sales_user_id
  FROM api_keys k`;

const toRecord = (r: KeyRow): KeyRecord => ({
  id: r.id,
  tenantId: r.tenant_id,
  customerId: r.customer_id,
  name: r.name,
  prefix: r.prefix,
  status: r.status,
  allowedModels: r.allowed_models,
  rpmLimit: r.rpm_limit,
  tpmLimit: r.tpm_limit,
  rphLimit: r.rph_limit,
  rpdLimit: r.rpd_limit,
  tphLimit: r.tph_limit === null ? null : Number(r.tph_limit),
  tpdLimit: r.tpd_limit === null ? null : Number(r.tpd_limit),
  concurrencyLimit: r.concurrency_limit,
  spendLimit: r.spend_limit === null ? null : trimDecimal(r.spend_limit),
  spent: trimDecimal(r.spent),
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
  ipAllowlist: r.ip_allowlist,
  previousSecretExpiresAt: r.previous_secret_expires_at,
  revokedAt: r.revoked_at,
  createdBy: r.created_by,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  salesUserId: r.sales_user_id,
});

export interface NewKey {
  id: string;
  tenantId: string;
  customerId: string;
  name: string;
  prefix: string;
  secretHash: Buffer;
  /** null: made by the system (cli seed-demo). */
  createdBy: string | null;
}

export type KeyChanges = Partial<{
  name: string;
  allowed_models: string[] | null;
  rpm_limit: number | null;
  tpm_limit: number | null;
  rph_limit: number | null;
  rpd_limit: number | null;
  tph_limit: number | null;
  tpd_limit: number | null;
  concurrency_limit: number | null;
  spend_limit: string | null;
  expires_at: Date | null;
  ip_allowlist: string[] | null;
  status: 'active' | 'disabled' | 'revoked' | 'suspended';
}>;

@Injectable()
export class KeysRepository {
  async list(manager: EntityManager, ability: AppAbility, query: KeyListQuery, offset: number, limit: number): Promise<{ items: KeyRecord[]; total: number }> {
    const allowed = abilityToSql(ability, 'read', API_KEY, COLUMNS);
    if (!allowed) return { items: [], total: 0 };
    const qb = manager.createQueryBuilder().select('k.id', 'id').from('api_keys', 'k').where(allowed.sql, allowed.params);
    if (query.userId) qb.andWhere('k.customer_id = :userId', { userId: query.userId });
    if (query.status) qb.andWhere('k.status = :status', { status: query.status });
    // api_keys has no TypeORM entity: count over the raw filtered query.
    const [countSql, countParams] = qb.getQueryAndParameters();
    const [{ total }] = await manager.query(`SELECT count(*)::int AS total FROM (${countSql}) AS filtered`, countParams);
    const [sql, params] = qb.orderBy('k.created_at', 'DESC').addOrderBy('k.id', 'DESC').offset(offset).limit(limit).getQueryAndParameters();
    const rows: KeyRow[] = await manager.query(`${SELECT} WHERE k.id IN (SELECT id FROM (${sql}) AS page) ORDER BY k.created_at DESC, k.id DESC`, params);
    return { items: rows.map(toRecord), total };
  }

  async get(manager: EntityManager, id: string, options: { lock?: boolean } = {}): Promise<KeyRecord | null> {
    const rows: KeyRow[] = await manager.query(`${SELECT} WHERE k.id = $1${options.lock ? ' FOR UPDATE OF k' : ''}`, [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** The customer (a user holding the `user` role) of `tenantId`, with their current salesperson. */
  async customer(manager: EntityManager, tenantId: string, customerId: string): Promise<{ id: string; status: string; salesUserId: string | null } | null> {
    const [row] = await manager.query(
      `SELECT u.id, u.status, ${currentSalesUserSql('u.id')} AS sales_user_id FROM users u
        WHERE u.id = $1 AND u.tenant_id = $2 AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = 'user')`,
      [customerId, tenantId],
    );
    return row ? { id: row.id, status: row.status, salesUserId: row.sales_user_id } : null;
  }

  async insert(manager: EntityManager, key: NewKey, changes: KeyChanges): Promise<void> {
    await manager.query(
      `INSERT INTO api_keys (id, tenant_id, customer_id, name, prefix, secret_hash, created_by, allowed_models, rpm_limit, tpm_limit, spend_limit, expires_at, ip_allowlist, concurrency_limit,
                             rph_limit, rpd_limit, tph_limit, tpd_limit)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
      [
        key.id,
        key.tenantId,
        key.customerId,
        key.name,
        key.prefix,
        key.secretHash,
        key.createdBy,
        changes.allowed_models ?? null,
        changes.rpm_limit ?? null,
        changes.tpm_limit ?? null,
        changes.spend_limit ?? null,
        changes.expires_at ?? null,
        changes.ip_allowlist ?? null,
        changes.concurrency_limit ?? null,
        changes.rph_limit ?? null,
        changes.rpd_limit ?? null,
        changes.tph_limit ?? null,
        changes.tpd_limit ?? null,
      ],
    );
  }

  async update(manager: EntityManager, id: string, changes: KeyChanges): Promise<void> {
    const entries = Object.entries(changes).filter(([, v]) => v !== undefined);
    const sets = entries.map(([column], i) => `${column} = $${i + 2}`);
    if (changes.status === 'revoked') sets.push('revoked_at = now()', 'previous_secret_hash = NULL', 'previous_secret_expires_at = NULL');
    // A new expiry date gets its own key.expiring notice.
    if (changes.expires_at !== undefined) sets.push('expiry_notified_at = NULL');
    await manager.query(`UPDATE api_keys SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE id = $1`, [id, ...entries.map(([, v]) => v)]);
  }

  /** The current secret becomes the previous one (valid until `graceUntil`); the new one is current. */
  async rotate(manager: EntityManager, id: string, newHash: Buffer, newPrefix: string, graceUntil: Date): Promise<void> {
    await manager.query(
      `UPDATE api_keys SET previous_secret_hash = secret_hash, previous_secret_expires_at = $4, secret_hash = $2, prefix = $3, updated_at = now()
        WHERE id = $1`,
      [id, newHash, newPrefix, graceUntil],
    );
  }
}
