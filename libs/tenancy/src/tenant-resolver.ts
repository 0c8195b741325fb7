import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AppConfig, APP_CONFIG } from '@app/config';
import { REDIS, RedisConnections } from '@app/redis';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { normalizeHost } from './host';
import { ResolvedTenant } from './tenant.types';

/** Published when a tenant's domains or status change; every instance drops its cached entries. */
export const TENANT_CACHE_CHANNEL = 'aigateway:tenant-cache:invalidate';
const MAX_ENTRIES = 10_000;
const NEGATIVE_TTL_MS = 5_000;

interface Entry {
  tenant: ResolvedTenant | null;
  expiresAt: number;
}

interface ResolvedRow {
  tenant_id: string;
  slug: string;
  type: ResolvedTenant['type'];
  status: ResolvedTenant['status'];
  name: string;
}

/**
 * Host -> tenant, from `tenant_domains` through the narrow `tenancy.resolve_domain` function,
 * cached in process with a TTL. Changes are broadcast on Redis so every instance forgets at once;
 * the TTL bounds staleness if a broadcast is missed, and a reconnect flushes the cache.
 */
@Injectable()
export class TenantResolver implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(TenantResolver.name);
  private readonly cache = new Map<string, Entry>();
  private subscriber?: Redis;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly connections: RedisConnections,
  ) {}

  onModuleInit(): void {
    this.subscriber = this.connections.open('tenant-cache-subscriber', { enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber.on('message', (_channel: string, message: string) => this.evictLocal(message));
    // Whatever was published while we were disconnected is lost: start from an empty cache.
    this.subscriber.on('ready', () => this.cache.clear());
    void this.subscriber.subscribe(TENANT_CACHE_CHANNEL).catch(() => undefined);
  }

  onModuleDestroy(): void {
    this.cache.clear();
  }

  async resolveHost(rawHost: string | undefined): Promise<ResolvedTenant | null> {
    const host = normalizeHost(rawHost);
    if (!host) return null;
    return this.cached(`host:${host}`, () =>
      this.dataSource.query('SELECT * FROM tenancy.resolve_domain($1)', [host]),
    );
  }

  async resolveSlug(slug: string): Promise<ResolvedTenant | null> {
    const normalized = slug.trim().toLowerCase();
    if (!/^[a-z0-9-]{1,63}$/.test(normalized)) return null;
    return this.cached(`slug:${normalized}`, () =>
      this.dataSource.query('SELECT * FROM tenancy.resolve_slug($1)', [normalized]),
    );
  }

  /**
   * Forgets everything cached about a tenant, here and (through Redis) on every instance. Call it
   * after a tenant's domains, slug or status change. A Redis outage degrades to the TTL.
   */
  async invalidateTenant(tenantId: string): Promise<void> {
    this.evictLocal(tenantId);
    try {
      await this.redis.publish(TENANT_CACHE_CHANNEL, tenantId);
    } catch (error) {
      this.logger.warn(`tenant cache broadcast failed; other instances refresh within the TTL: ${String(error)}`);
    }
  }

  private evictLocal(tenantId: string): void {
    for (const [key, entry] of this.cache) {
      // Negative entries are cheap to rebuild, and a new domain may have been one of them.
      if (!entry.tenant || entry.tenant.id === tenantId) this.cache.delete(key);
    }
  }

  private async cached(key: string, load: () => Promise<ResolvedRow[]>): Promise<ResolvedTenant | null> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > now) return hit.tenant;
    const [row] = await load();
    const tenant: ResolvedTenant | null = row
      ? { id: row.tenant_id, slug: row.slug, type: row.type, status: row.status, name: row.name }
      : null;
    if (this.cache.size >= MAX_ENTRIES) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(key, {
      tenant,
      expiresAt: now + (tenant ? this.config.TENANT_CACHE_TTL_SECONDS * 1000 : NEGATIVE_TTL_MS),
    });
    return tenant;
  }
}
