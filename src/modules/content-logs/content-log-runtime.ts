import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { REDIS, RedisConnections } from '@app/redis';
import { TenantDb } from '@app/tenancy';
import Redis from 'ioredis';
import { ContentLogsRepository } from './content-logs.repository';

export const CONTENT_LOGGING_CHANNEL = 'aigw:content-logging';
/** How long a tenant's switch is trusted without a broadcast (a lost broadcast heals within it). */
const TTL_MS = 30_000;
/** Content kept per request and side (longer is cut, and says so). */
const MAX_CHARS = 256 * 1024;

interface Entry {
  enabled: boolean;
  retentionDays: number;
  expiresAt: number;
}

/**
 * Optional content logging on the inference path (api process). Off unless the tenant's owner
 * turned it on. The hot path asks `retentionFor` synchronously (memory only: a tenant not loaded
 * yet counts as off while it loads in the background) and hands the content to `capture`, which
 * writes it to PostgreSQL after the answer, never waited for. Content never reaches a log line:
 * a failed write is logged by its error code only.
 */
@Injectable()
export class ContentLogRuntime implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ContentLogRuntime.name);
  private readonly cache = new Map<string, Entry>();
  private readonly loading = new Set<string>();
  /** Tenants changed while their load ran: loaded once more after it. */
  private readonly again = new Set<string>();
  private subscriber?: Redis;

  constructor(
    private readonly tenantDb: TenantDb,
    private readonly repository: ContentLogsRepository,
    private readonly connections: RedisConnections,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  onModuleInit(): void {
    this.subscriber = this.connections.open('content-logging-subscriber', { enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber.on('message', (_channel: string, tenantId: string) => this.reload(tenantId));
    this.subscriber.on('ready', () => this.cache.clear());
    void this.subscriber.subscribe(CONTENT_LOGGING_CHANNEL).catch(() => undefined);
  }

  onModuleDestroy(): void {
    this.subscriber?.disconnect();
  }

  /** The retention in days when the tenant logs content, else null. Never waits. */
  retentionFor(tenantId: string): number | null {
    const entry = this.cache.get(tenantId);
    if (!entry || entry.expiresAt < Date.now()) this.reload(tenantId);
    return entry?.enabled ? entry.retentionDays : null;
  }

  /** Every api instance reloads the tenant's switch (after the owner changed it). */
  async broadcast(tenantId: string): Promise<void> {
    this.reload(tenantId);
    await this.redis.publish(CONTENT_LOGGING_CHANNEL, tenantId).catch(() => this.logger.warn('content logging broadcast failed; instances refresh within 30 s'));
  }

  capture(content: { requestId: string; tenantId: string; customerId: string; createdAt: Date; retentionDays: number; prompt: unknown; completion: string | null }): void {
    const prompt = cut(JSON.stringify(content.prompt ?? null));
    const completion = content.completion === null ? null : cut(content.completion);
    void this.tenantDb
      .run({ tenantId: content.tenantId }, (m) => this.repository.insert(m, { ...content, prompt, completion }))
      .catch((error: unknown) => this.logger.warn({ requestId: content.requestId, code: (error as { code?: string }).code ?? 'unknown' }, 'request content not stored'));
  }

  private reload(tenantId: string): void {
    if (this.loading.has(tenantId)) {
      this.again.add(tenantId);
      return;
    }
    this.loading.add(tenantId);
    void this.tenantDb
      .run({ tenantId }, (m) => this.repository.settings(m, tenantId))
      .then((s) => this.cache.set(tenantId, { enabled: s.enabled, retentionDays: s.retentionDays, expiresAt: Date.now() + TTL_MS }))
      .catch(() => undefined)
      .finally(() => {
        this.loading.delete(tenantId);
        if (this.again.delete(tenantId)) this.reload(tenantId);
      });
  }
}

function cut(text: string): string {
  return text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS)}…[cut at ${MAX_CHARS} characters]` : text;
}
