import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { returnedRows } from '../../common/sql';

export interface ContentLoggingSettings {
  enabled: boolean;
  retentionDays: number;
  updatedAt: Date | null;
}

export interface RequestContentRow {
  request_id: string;
  tenant_id: string;
  customer_id: string;
  created_at: Date;
  expires_at: Date;
  prompt: string;
  completion: string | null;
}

export interface CapturedContent {
  requestId: string;
  tenantId: string;
  customerId: string;
  createdAt: Date;
  retentionDays: number;
  prompt: string;
  completion: string | null;
}

/** Content logging's tables. Every method runs in the caller's (tenant or system) transaction. */
@Injectable()
export class ContentLogsRepository {
  /** The settings of the transaction's tenant; off (7 days) when never set. */
  async settings(m: EntityManager, tenantId: string): Promise<ContentLoggingSettings> {
    const rows: Array<{ enabled: boolean; retention_days: number; updated_at: Date }> = await m.query(
      `SELECT enabled, retention_days, updated_at FROM content_logging_settings WHERE tenant_id = $1`,
      [tenantId],
    );
    return rows[0] ? { enabled: rows[0].enabled, retentionDays: rows[0].retention_days, updatedAt: rows[0].updated_at } : { enabled: false, retentionDays: 7, updatedAt: null };
  }

  async saveSettings(m: EntityManager, tenantId: string, enabled: boolean, retentionDays: number, userId: string): Promise<void> {
    await m.query(
      `INSERT INTO content_logging_settings (tenant_id, enabled, retention_days, updated_by, updated_at) VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (tenant_id) DO UPDATE SET enabled = EXCLUDED.enabled, retention_days = EXCLUDED.retention_days,
                                             updated_by = EXCLUDED.updated_by, updated_at = now()`,
      [tenantId, enabled, retentionDays, userId],
    );
  }

  async insert(m: EntityManager, c: CapturedContent): Promise<void> {
    await m.query(
      `INSERT INTO request_contents (request_id, tenant_id, customer_id, created_at, expires_at, prompt, completion)
       VALUES ($1, $2, $3, $4, $4::timestamptz + make_interval(days => $5), $6, $7) ON CONFLICT (request_id) DO NOTHING`,
      [c.requestId, c.tenantId, c.customerId, c.createdAt.toISOString(), c.retentionDays, c.prompt, c.completion],
    );
  }

  async find(m: EntityManager, requestId: string): Promise<RequestContentRow | null> {
    const rows: RequestContentRow[] = await m.query(
      `SELECT request_id, tenant_id, customer_id, created_at, expires_at, prompt, completion FROM request_contents WHERE request_id = $1 AND expires_at > now()`,
      [requestId],
    );
    return rows[0] ?? null;
  }

  /**
   * Deletes (system role, every tenant) contents past their retention, of tenants whose logging is
   * now off, or older than a retention since shortened; `batch` rows per statement.
   */
  async purge(m: EntityManager, batch: number): Promise<number> {
    const result: unknown = await m.query(
      `WITH doomed AS (
         SELECT rc.request_id FROM request_contents rc
           LEFT JOIN content_logging_settings s ON s.tenant_id = rc.tenant_id
          WHERE rc.expires_at <= now() OR s.enabled IS NOT TRUE
             OR rc.created_at < now() - make_interval(days => s.retention_days)
          LIMIT $1)
       DELETE FROM request_contents rc USING doomed WHERE rc.request_id = doomed.request_id RETURNING 1`,
      [batch],
    );
    return returnedRows(result).length;
  }
}
