import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { REDIS, RedisConnections } from '@app/redis';
import { TENANT_CACHE_CHANNEL, TenantDb } from '@app/tenancy';
import Redis from 'ioredis';
import { EffectivePrice, PriceBook, PricePool } from './price-book';
import { PricingRepository } from './pricing.repository';

/** Published when a price list, hidden model or discount changes: a tenant id, or '*' for the platform list. */
export const PRICING_CACHE_CHANNEL = 'aigateway:pricing-cache:invalidate';
const MAX_BOOKS = 10_000;

interface Entry {
  book: PriceBook | null;
  expiresAt: number;
}

/**
 * Prices for the inference hot path, from memory: one {@link PriceBook} per tenant (every version
 * of the platform list and of the tenant's own list, its hidden models and wholesale discount),
 * loaded once under that tenant's RLS scope. A scheduled price takes effect at its time with no
 * reload (the book holds every version). Changes are broadcast through Redis; the TTL
 * (PRICE_CACHE_TTL_SECONDS) bounds staleness if a broadcast is missed, and a reconnect flushes.
 */
@Injectable()
export class PricingRuntime implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(PricingRuntime.name);
  private readonly books = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<PriceBook | null>>();
  private subscriber?: Redis;
  /** Bumped on every eviction: a load that raced with one returns its result but does not cache it. */
  private generation = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly connections: RedisConnections,
    private readonly tenantDb: TenantDb,
    private readonly repository: PricingRepository,
  ) {}

  onModuleInit(): void {
    this.subscriber = this.connections.open('pricing-cache-subscriber', { enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber.on('message', (_channel: string, message: string) => this.evictLocal(message));
    this.subscriber.on('ready', () => this.evictLocal('*'));
    void this.subscriber.subscribe(PRICING_CACHE_CHANNEL, TENANT_CACHE_CHANNEL).catch(() => undefined);
  }

  onModuleDestroy(): void {
    this.books.clear();
  }

  /** The tenant's price book (null for an unknown tenant), from memory when cached. */
  book(tenantId: string): Promise<PriceBook | null> {
    const hit = this.books.get(tenantId);
    if (hit && hit.expiresAt > Date.now()) return Promise.resolve(hit.book);
    const pending = this.loading.get(tenantId);
    if (pending) return pending;
    const generation = this.generation;
    const load = this.tenantDb
      .run({ tenantId }, (m) => this.repository.loadBook(m, tenantId))
      .then(async (data) => {
        // A sub-reseller's book stands on its parent's (loaded under the parent's own scope, and
        // cached): the whole chain is compiled here, never per request.
        const parent = data?.parentId ? await this.book(data.parentId) : null;
        const book = data ? new PriceBook(data, parent) : null;
        if (generation !== this.generation) return book;
        if (this.books.size >= MAX_BOOKS) {
          const oldest = this.books.keys().next().value;
          if (oldest !== undefined) this.books.delete(oldest);
        }
        this.books.set(tenantId, { book, expiresAt: Date.now() + this.config.PRICE_CACHE_TTL_SECONDS * 1000 });
        return book;
      })
      .finally(() => {
        if (this.loading.get(tenantId) === load) this.loading.delete(tenantId);
      });
    this.loading.set(tenantId, load);
    return load;
  }

  /**
   * A fresh book (not from the cache, not cached), its parent chain loaded under each ancestor's
   * own scope: for the admin API, which must see a change the moment it is made. Call it outside
   * any open tenant transaction (a transaction cannot change its scope).
   */
  async freshBook(tenantId: string): Promise<PriceBook | null> {
    const data = await this.tenantDb.run({ tenantId }, (m) => this.repository.loadBook(m, tenantId));
    if (!data) return null;
    return new PriceBook(data, data.parentId ? await this.freshBook(data.parentId) : null);
  }

  /** A tenant's parent reseller (null: the platform sells to it, or no such tenant), read fresh under its own scope. */
  async parentOf(tenantId: string): Promise<string | null> {
    const [row] = await this.tenantDb.run({ tenantId }, (m) => m.query(`SELECT parent_id FROM tenants WHERE id = $1`, [tenantId]));
    return row?.parent_id ?? null;
  }

  /**
   * The price of `model` in `tenantId` at `at` (epoch ms, default now): retail (own or inherited),
   * wholesale, and both compiled to integers for `compiledCostUnits`. Null when the platform has no
   * price for the model at that time (unknown model). A hidden model is returned with hidden=true.
   * With `customerId`, the customer's price (its overrides, its group's, the markup: see
   * PriceBook.effective); without, the tenant's list price.
   */
  async effectivePrice(tenantId: string, model: string, at: number = Date.now(), customerId?: string | null, pool: PricePool = 'standard'): Promise<EffectivePrice | null> {
    return (await this.book(tenantId))?.effective(model, at, customerId, pool) ?? null;
  }

  /** Models the tenant's customers may call: priced at `at` and not hidden, sorted. */
  async listedModels(tenantId: string, at: number = Date.now()): Promise<string[]> {
    return (await this.book(tenantId))?.listedModels(at) ?? [];
  }

  /**
   * What `GET /v1/models` may list for a key (before intersecting with enabled channels): priced
   * in the key's tenant, not hidden, and allowed on the key (`allowedModels` null = all).
   */
  async modelsForKey(key: { tenantId: string; allowedModels: ReadonlySet<string> | null }, at: number = Date.now()): Promise<string[]> {
    const listed = await this.listedModels(key.tenantId, at);
    return key.allowedModels ? listed.filter((model) => key.allowedModels!.has(model)) : listed;
  }

  /** Forgets a tenant's book here and on every instance ('*': every book, after a platform change). */
  async invalidate(tenantId: string | '*'): Promise<void> {
    this.evictLocal(tenantId);
    try {
      await this.redis.publish(PRICING_CACHE_CHANNEL, tenantId);
    } catch (error) {
      this.logger.warn(`price cache broadcast failed; other instances refresh within the TTL: ${String(error)}`);
    }
  }

  private evictLocal(tenantId: string): void {
    this.generation++;
    this.loading.clear();
    if (tenantId === '*') this.books.clear();
    else {
      this.books.delete(tenantId);
      // Sub-resellers' books hold their ancestors' prices: a parent's change reaches them too.
      for (const [id, entry] of this.books) if (entry.book?.parent && entry.book.chain().includes(tenantId)) this.books.delete(id);
    }
  }
}
