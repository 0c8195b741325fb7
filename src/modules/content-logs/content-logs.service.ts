import { Injectable } from '@nestjs/common';
import { asSubject, RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { TenantDb } from '@app/tenancy';
import { AuditService } from '../audit/audit.service';
import { ContentLogRuntime } from './content-log-runtime';
import { CONTENT_LOGGING, REQUEST_CONTENT } from './content-logs.permissions';
import { ContentLogsRepository } from './content-logs.repository';
import { ContentLoggingView, RequestContentView, UpdateContentLoggingRequest } from './dto/content-logs.dto';

@Injectable()
export class ContentLogsService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: ContentLogsRepository,
    private readonly runtime: ContentLogRuntime,
    private readonly audit: AuditService,
  ) {}

  settings(): Promise<ContentLoggingView> {
    const { tenantId } = this.auth.principal;
    return this.tenantDb.forRequest((m) => this.repository.settings(m, tenantId));
  }

  async update(body: UpdateContentLoggingRequest): Promise<ContentLoggingView> {
    const { tenantId, userId } = this.auth.principal;
    const saved = await this.tenantDb.forRequest(async (m) => {
      const before = await this.repository.settings(m, tenantId);
      await this.repository.saveSettings(m, tenantId, body.enabled, body.retentionDays, userId);
      await this.audit.record(m, {
        tenantId,
        action: 'content_logging.updated',
        subjectType: CONTENT_LOGGING,
        subjectId: tenantId,
        before: { enabled: before.enabled, retentionDays: before.retentionDays },
        after: { enabled: body.enabled, retentionDays: body.retentionDays },
      });
      return this.repository.settings(m, tenantId);
    });
    await this.runtime.broadcast(tenantId);
    return saved;
  }

  /** One request's content: 404 when none was stored, it expired, or the caller may not read it. */
  content(requestId: string): Promise<RequestContentView> {
    return this.tenantDb.forRequest(async (m) => {
      const row = await this.repository.find(m, requestId);
      if (!row || !this.auth.ability.can('read', asSubject(REQUEST_CONTENT, { tenantId: row.tenant_id, customerId: row.customer_id }))) {
        throw AppException.notFound('request content');
      }
      return { id: row.request_id, customerId: row.customer_id, createdAt: row.created_at, expiresAt: row.expires_at, prompt: row.prompt, completion: row.completion };
    });
  }
}
