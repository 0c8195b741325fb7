import { Injectable } from '@nestjs/common';
import { abilityToSql, AppAbility } from '@app/authorization';
import { EntityManager } from 'typeorm';
import { AuditEntry } from './audit-entry.entity';
import { AUDIT_LOG } from './audit.permissions';
import { AuditQuery } from './dto/audit.dto';

const COLUMNS = { tenantId: 'a.tenant_id' } as const;

@Injectable()
export class AuditRepository {
  /** Newest first, keyset-paginated on the (time-ordered) UUIDv7 id, filtered by the caller's abilities in SQL. */
  async list(manager: EntityManager, ability: AppAbility, query: AuditQuery, limit: number): Promise<AuditEntry[]> {
    const allowed = abilityToSql(ability, 'read', AUDIT_LOG, COLUMNS);
    if (!allowed) return [];
    const qb = manager.createQueryBuilder(AuditEntry, 'a').where(allowed.sql, allowed.params);
    if (query.tenantId) qb.andWhere('a.tenant_id = :tenantId', { tenantId: query.tenantId });
    if (query.action) qb.andWhere('a.action = :action', { action: query.action });
    if (query.subjectType) qb.andWhere('a.subject_type = :subjectType', { subjectType: query.subjectType });
    if (query.subjectId) qb.andWhere('a.subject_id = :subjectId', { subjectId: query.subjectId });
    if (query.actorUserId) qb.andWhere('a.actor_user_id = :actorUserId', { actorUserId: query.actorUserId });
    if (query.cursor) qb.andWhere('a.id < :cursor', { cursor: query.cursor });
    return qb.orderBy('a.id', 'DESC').limit(limit).getMany();
  }
}
