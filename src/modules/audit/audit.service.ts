import { Injectable } from '@nestjs/common';
import { RequestAuth } from '@app/authorization';
import { ClsService } from 'nestjs-cls';
import { EntityManager } from 'typeorm';
import { auditDiff } from './audit-diff';
import { AuditEntry } from './audit-entry.entity';

export interface AuditRecord {
  /** The tenant the change happened in (whose owners will read it). */
  tenantId: string;
  action: string;
  subjectType: string;
  subjectId?: string | null;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  /** Who did it; defaults to the authenticated caller. Null for anonymous events (failed sign-ins). */
  actor?: { userId: string | null; tenantId: string | null };
}

/**
 * Writes the audit log inside the caller's transaction, so a change and its record commit or roll
 * back together. Request metadata (IP, user agent, request id) comes from the request context.
 */
@Injectable()
export class AuditService {
  constructor(
    private readonly auth: RequestAuth,
    private readonly cls: ClsService,
  ) {}

  async record(manager: EntityManager, record: AuditRecord): Promise<void> {
    const principal = this.auth.principalOrNull;
    const actor = record.actor ?? { userId: principal?.userId ?? null, tenantId: principal?.tenantId ?? null };
    const active = this.cls.isActive();
    const changes = record.before === undefined && record.after === undefined ? null : auditDiff(record.before ?? null, record.after ?? null);
    await manager.insert(AuditEntry, {
      ...new AuditEntry(),
      tenantId: record.tenantId,
      actorUserId: actor.userId,
      actorTenantId: actor.tenantId,
      action: record.action,
      subjectType: record.subjectType,
      subjectId: record.subjectId ?? null,
      changes: changes as never,
      ip: active ? (this.cls.get<string | null>('clientIp') ?? null) : null,
      userAgent: active ? (this.cls.get<string | null>('userAgent') ?? null) : null,
      requestId: active ? (this.cls.getId() ?? null) : null,
    });
  }
}
