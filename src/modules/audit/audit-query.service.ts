import { Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { TenantDb } from '@app/tenancy';
import { AuditRepository } from './audit.repository';
import { AuditEntry } from './audit-entry.entity';
import { ActorKind, AuditEntryView, AuditPage, AuditQuery } from './dto/audit.dto';

/**
 * An entry as its reader may see it. A reseller's reader sees an actor from another tenant (the
 * platform's staff acting in theirs) only as "platform staff": no user id, tenant, IP address or
 * user agent of that person.
 */
function view(entry: AuditEntry, platformReader: boolean): AuditEntryView {
  const { id, tenantId, actorUserId, actorTenantId, action, subjectType, subjectId, changes, ip, userAgent, requestId, createdAt } = entry;
  const foreignActor = actorTenantId !== null && actorTenantId !== tenantId;
  const actorKind: ActorKind = actorUserId === null ? 'system' : foreignActor ? 'platform_staff' : 'member';
  if (foreignActor && !platformReader) {
    return { id, tenantId, actorKind, actorUserId: null, actorTenantId: null, action, subjectType, subjectId, changes, ip: null, userAgent: null, requestId, createdAt };
  }
  return { id, tenantId, actorKind, actorUserId, actorTenantId, action, subjectType, subjectId, changes, ip, userAgent, requestId, createdAt };
}

@Injectable()
export class AuditQueryService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: AuditRepository,
  ) {}

  async list(query: AuditQuery): Promise<AuditPage> {
    const limit = query.limit ?? 50;
    const entries = await this.tenantDb.forRequest((manager) => this.repository.list(manager, this.auth.ability, query, limit + 1));
    const viewer = this.auth.principal;
    const items = entries.slice(0, limit).map((entry) => view(entry, viewer.tenantType === 'platform'));
    return { items, nextCursor: entries.length > limit ? items[items.length - 1].id : null };
  }
}
