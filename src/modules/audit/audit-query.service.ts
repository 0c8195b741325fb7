import { Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { TenantDb } from '@app/tenancy';
import { AuditRepository } from './audit.repository';
import { AuditPage, AuditQuery } from './dto/audit.dto';

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
    const items = entries.slice(0, limit).map(({ id, tenantId, actorUserId, actorTenantId, action, subjectType, subjectId, changes, ip, userAgent, requestId, createdAt }) => ({
      id, tenantId, actorUserId, actorTenantId, action, subjectType, subjectId, changes, ip, userAgent, requestId, createdAt,
    }));
    return { items, nextCursor: entries.length > limit ? items[items.length - 1].id : null };
  }
}
