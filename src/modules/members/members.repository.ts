import { Injectable } from '@nestjs/common';
import { abilityToSql, AppAbility, Role } from '@app/authorization';
import { EntityManager } from 'typeorm';
import { MemberListQuery, MemberView } from './dto/member.dto';
import { MEMBER } from './members.permissions';

const COLUMNS = { id: 'u.id', tenantId: 'u.tenant_id', tenantType: 't.type' } as const;

interface MemberRow {
  id: string;
  tenant_id: string;
  email: string;
  display_name: string | null;
  status: string;
  roles: Role[];
  last_login_at: Date | null;
  created_at: Date;
  total?: string;
}

const toView = (r: MemberRow): MemberView => ({
  id: r.id,
  tenantId: r.tenant_id,
  email: r.email,
  displayName: r.display_name,
  status: r.status,
  roles: r.roles,
  lastLoginAt: r.last_login_at,
  createdAt: r.created_at,
});

const SELECT = `SELECT u.id, u.tenant_id, u.email, u.display_name, u.status, u.last_login_at, u.created_at,
       coalesce((SELECT array_agg(r.role ORDER BY r.role) FROM user_roles r WHERE r.user_id = u.id AND r.tenant_id = u.tenant_id), '{}') AS roles
  FROM users u JOIN tenants t ON t.id = u.tenant_id`;

@Injectable()
export class MembersRepository {
  /** Members of one tenant the caller may read, filtered in SQL by their abilities. */
  async list(
    manager: EntityManager,
    ability: AppAbility,
    tenantId: string,
    query: MemberListQuery,
    offset: number,
    limit: number,
  ): Promise<{ items: MemberView[]; total: number }> {
    const allowed = abilityToSql(ability, 'read', MEMBER, COLUMNS);
    if (!allowed) return { items: [], total: 0 };
    const qb = manager
      .createQueryBuilder()
      .select('u.id', 'id')
      .from('users', 'u')
      .innerJoin('tenants', 't', 't.id = u.tenant_id')
      .where(allowed.sql, allowed.params)
      .andWhere('u.tenant_id = :tenantId', { tenantId });
    if (query.status) qb.andWhere('u.status = :status', { status: query.status });
    if (query.role) qb.andWhere('EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = :role)', { role: query.role });
    if (query.staff === true) qb.andWhere("EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role <> 'user')");
    if (query.staff === false) qb.andWhere("NOT EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role <> 'user')");
    if (query.q) {
      qb.andWhere("(u.email ILIKE :q ESCAPE '\\' OR u.display_name ILIKE :q ESCAPE '\\')", {
        q: `%${query.q.replace(/[\\%_]/g, '\\$&')}%`,
      });
    }
    const total = await qb.getCount();
    const [sql, params] = qb.orderBy('u.created_at', 'ASC').addOrderBy('u.id', 'ASC').offset(offset).limit(limit).getQueryAndParameters();
    const rows: MemberRow[] = await manager.query(`${SELECT} WHERE u.id IN (SELECT id FROM (${sql}) AS page) ORDER BY u.created_at, u.id`, params);
    return { items: rows.map(toView), total };
  }

  async get(manager: EntityManager, tenantId: string, userId: string): Promise<MemberView | null> {
    const rows: MemberRow[] = await manager.query(`${SELECT} WHERE u.id = $1 AND u.tenant_id = $2`, [userId, tenantId]);
    return rows[0] ? toView(rows[0]) : null;
  }

  /** Locks the tenant's owner rows and counts the active owners other than `exceptUserId`. */
  async otherActiveOwners(manager: EntityManager, tenantId: string, exceptUserId: string): Promise<number> {
    const rows: Array<{ user_id: string; status: string }> = await manager.query(
      `SELECT r.user_id, u.status FROM user_roles r JOIN users u ON u.id = r.user_id
        WHERE r.tenant_id = $1 AND r.role = 'owner' FOR UPDATE OF r, u`,
      [tenantId],
    );
    return rows.filter((r) => r.user_id !== exceptUserId && r.status === 'active').length;
  }

  async replaceRoles(manager: EntityManager, tenantId: string, userId: string, roles: Role[], grantedBy: string): Promise<void> {
    await manager.query(`DELETE FROM user_roles WHERE tenant_id = $1 AND user_id = $2 AND NOT (role = ANY($3::text[]))`, [tenantId, userId, roles]);
    for (const role of roles) {
      await manager.query(
        `INSERT INTO user_roles (tenant_id, user_id, role, granted_by) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, role) DO NOTHING`,
        [tenantId, userId, role, grantedBy],
      );
    }
  }
}
