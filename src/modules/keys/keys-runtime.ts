import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { billingKeys } from '@app/billing';
import { AppConfig, APP_CONFIG } from '@app/config';
import { toUnits } from '@app/money';
import { REDIS, RedisConnections } from '@app/redis';
import { TENANT_CACHE_CHANNEL, TenantDb } from '@app/tenancy';
import Redis from 'ioredis';
import { hashSecret } from './api-key-secret';
import { ipAllowed, IpRange, parseAllowlist } from './ip-allowlist';

/** Published on every key change: `key:<id>`, `customer:<userId>` or `tenant:<tenantId>`. */
export const KEYS_CACHE_CHANNEL = 'aigateway:keys-cache:invalidate';
const NEGATIVE_TTL_MS = 5_000;
const MAX_ENTRIES = 100_000;

/** An API key as the hot path needs it, from memory. Never holds the secret. */
export interface ResolvedApiKey {
  readonly id: string;
  readonly tenantId: string;
  /** The customer (user) who owns the key. */
  readonly customerId: string;
  readonly name: string;
  readonly prefix: string;
  readonly status: 'active' | 'disabled' | 'revoked' | 'suspended';
  /** null: every model of the tenant. */
  readonly allowedModels: ReadonlySet<string> | null;
  readonly rpmLimit: number | null;
  readonly tpmLimit: number | null;
  /** Requests and tokens per clock hour and per day (null: none has a limit; then the hold carries no window). */
  readonly windowLimits: { rph: number | null; rpd: number | null; tph: number | null; tpd: number | null } | null;
  /** Requests in flight at once (null: the default). */
  readonly concurrencyLimit: number | null;
  /** Spend limit in nano-units (@app/money), null for none. */
  readonly spendLimitUnits: bigint | null;
  /** Epoch ms, null for never. */
  readonly expiresAt: number | null;
  /** null: any client address. */
  readonly ipAllowlist: readonly IpRange[] | null;
  readonly customerStatus: string;
  readonly tenantStatus: string;
  /** Set when the presented secret is the one replaced by a rotation: refused after this (epoch ms). */
  readonly secretValidUntil: number | null;
}

export type KeyRefusal =
  | 'revoked'
  | 'disabled'
  | 'suspended'
  | 'expired'
  | 'rotated'
  | 'customer_disabled'
  | 'customer_not_active'
  | 'tenant_disabled'
  | 'ip_not_allowed'
  | 'model_not_allowed';

interface Entry {
  key: ResolvedApiKey | null;
  expiresAt: number;
}

interface LookupRow {
  id: string;
  tenant_id: string;
  customer_id: string;
  name: string;
  prefix: string;
  status: ResolvedApiKey['status'];
  allowed_models: string[] | null;
  rpm_limit: number | null;
  tpm_limit: number | null;
  rph_limit: number | null;
  rpd_limit: number | null;
  tph_limit: string | null;
  tpd_limit: string | null;
  concurrency_limit: number | null;
  spend_limit: string | null;
  expires_at: Date | null;
  ip_allowlist: string[] | null;
  customer_status: string;
  tenant_status: string;
  previous: boolean;
  previous_secret_expires_at: Date | null;
}

/**
 * API keys for the inference hot path. A presented secret is hashed (SHA-256) and looked up in an
 * in-process cache; a known key costs no PostgreSQL query. A miss is loaded from PostgreSQL under
 * the Host's tenant scope (RLS), so a key of another tenant is simply not found; misses are cached
 * for {@link NEGATIVE_TTL_MS}. Every change to a key, its owner or its tenant is broadcast on Redis
 * and evicts the entry on every instance at once; KEY_CACHE_TTL_SECONDS bounds staleness if a
 * broadcast is lost, and a subscriber reconnect flushes everything.
 */
@Injectable()
export class KeysRuntime implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(KeysRuntime.name);
  /** `<host tenant id>:<hash hex>` -> entry. */
  private readonly cache = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<ResolvedApiKey | null>>();
  private subscriber?: Redis;
  /** Bumped on every eviction: a load that raced with one returns its result but does not cache it. */
  private generation = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly connections: RedisConnections,
    private readonly tenantDb: TenantDb,
  ) {}

  onModuleInit(): void {
    this.subscriber = this.connections.open('keys-cache-subscriber', { enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber.on('message', (channel: string, message: string) =>
      this.evictLocal(channel === TENANT_CACHE_CHANNEL ? `tenant:${message}` : message),
    );
    this.subscriber.on('ready', () => {
      this.generation++;
      this.loading.clear();
      this.cache.clear();
    });
    void this.subscriber.subscribe(KEYS_CACHE_CHANNEL, TENANT_CACHE_CHANNEL).catch(() => undefined);
  }

  onModuleDestroy(): void {
    this.cache.clear();
  }

  /** The key a presented secret belongs to at the Host's tenant, or null (unknown there). */
  resolve(secret: string, hostTenantId: string): Promise<ResolvedApiKey | null> {
    return this.resolveHash(hashSecret(secret).toString('hex'), hostTenantId);
  }

  /** As {@link resolve}, from the hex SHA-256 of the secret. */
  resolveHash(hashHex: string, hostTenantId: string): Promise<ResolvedApiKey | null> {
    const cacheKey = `${hostTenantId}:${hashHex}`;
    const hit = this.cache.get(cacheKey);
    if (hit && hit.expiresAt > Date.now()) return Promise.resolve(hit.key);
    const pending = this.loading.get(cacheKey);
    if (pending) return pending;
    const generation = this.generation;
    const load = this.load(hashHex, hostTenantId)
      .then((key) => {
        if (generation !== this.generation) return key;
        if (this.cache.size >= MAX_ENTRIES) {
          const oldest = this.cache.keys().next().value;
          if (oldest !== undefined) this.cache.delete(oldest);
        }
        this.cache.set(cacheKey, { key, expiresAt: Date.now() + (key ? this.config.KEY_CACHE_TTL_SECONDS * 1000 : NEGATIVE_TTL_MS) });
        return key;
      })
      .finally(() => {
        if (this.loading.get(cacheKey) === load) this.loading.delete(cacheKey);
      });
    this.loading.set(cacheKey, load);
    return load;
  }

  /**
   * Why the key may not serve this request, or null if it may. `model` is checked against the
   * key's allowed models only (whether the tenant prices it is PricingRuntime's answer).
   */
  check(key: ResolvedApiKey, request: { clientIp?: string | null; model?: string; now?: number }): KeyRefusal | null {
    const now = request.now ?? Date.now();
    if (key.status === 'revoked') return 'revoked';
    if (key.status === 'disabled') return 'disabled';
    if (key.status === 'suspended') return 'suspended';
    if (key.tenantStatus !== 'active') return 'tenant_disabled';
    // Only an active customer calls /v1: a disabled one, or an invited one who never accepted
    // (keys are not made for them, but one may predate that rule).
    if (key.customerStatus === 'disabled') return 'customer_disabled';
    if (key.customerStatus !== 'active') return 'customer_not_active';
    if (key.expiresAt !== null && key.expiresAt <= now) return 'expired';
    if (key.secretValidUntil !== null && key.secretValidUntil <= now) return 'rotated';
    if (key.ipAllowlist && !ipAllowed(request.clientIp, key.ipAllowlist)) return 'ip_not_allowed';
    if (request.model !== undefined && key.allowedModels && !key.allowedModels.has(request.model)) return 'model_not_allowed';
    return null;
  }

  /** Forgets a key everywhere (after any change to it). */
  invalidateKey(keyId: string): Promise<void> {
    return this.publish(`key:${keyId}`);
  }

  /** Forgets every key of a customer everywhere (after the customer is disabled, enabled or removed). */
  invalidateCustomer(customerId: string): Promise<void> {
    return this.publish(`customer:${customerId}`);
  }

  /** Forgets every key of a tenant everywhere (tenant status changes also arrive via the tenant cache channel). */
  invalidateTenant(tenantId: string): Promise<void> {
    return this.publish(`tenant:${tenantId}`);
  }

  private async publish(message: string): Promise<void> {
    this.evictLocal(message);
    try {
      await this.redis.publish(KEYS_CACHE_CHANNEL, message);
    } catch (error) {
      this.logger.warn(`key cache broadcast failed; other instances refresh within the TTL: ${String(error)}`);
    }
  }

  private evictLocal(message: string): void {
    this.generation++;
    this.loading.clear();
    const [kind, id] = message.split(':', 2);
    for (const [cacheKey, entry] of this.cache) {
      const key = entry.key;
      // Negative entries are cheap to rebuild; drop them on any change (a key may have appeared).
      if (!key || (kind === 'key' && key.id === id) || (kind === 'customer' && key.customerId === id) || (kind === 'tenant' && key.tenantId === id)) {
        this.cache.delete(cacheKey);
      }
    }
  }

  private async load(hashHex: string, hostTenantId: string): Promise<ResolvedApiKey | null> {
    if (!/^[0-9a-f]{64}$/.test(hashHex)) return null;
    const hash = Buffer.from(hashHex, 'hex');
    const rows: LookupRow[] = await this.tenantDb.run({ tenantId: hostTenantId }, (m) =>
      m.query(
        `SELECT k.id, k.tenant_id, k.customer_id, k.name, k.prefix, k.status, k.allowed_models, k.rpm_limit, k.tpm_limit, k.concurrency_limit,
                k.rph_limit, k.rpd_limit, k.tph_limit, k.tpd_limit, k.spend_limit, k.expires_at, k.ip_allowlist, u.status AS customer_status, t.status AS tenant_status,
                (k.secret_hash <> $1) AS previous, k.previous_secret_expires_at
           FROM api_keys k JOIN users u ON u.id = k.customer_id JOIN tenants t ON t.id = k.tenant_id
          WHERE k.tenant_id = $2 AND (k.secret_hash = $1 OR k.previous_secret_hash = $1)`,
        [hash, hostTenantId],
      ),
    );
    const row = rows[0];
    if (!row) return null;
    return {
      id: row.id,
      tenantId: row.tenant_id,
      customerId: row.customer_id,
      name: row.name,
      prefix: row.prefix,
      status: row.status,
      allowedModels: row.allowed_models ? new Set(row.allowed_models) : null,
      rpmLimit: row.rpm_limit,
      tpmLimit: row.tpm_limit,
      windowLimits:
        row.rph_limit === null && row.rpd_limit === null && row.tph_limit === null && row.tpd_limit === null
          ? null
          : { rph: row.rph_limit, rpd: row.rpd_limit, tph: row.tph_limit === null ? null : Number(row.tph_limit), tpd: row.tpd_limit === null ? null : Number(row.tpd_limit) },
      concurrencyLimit: row.concurrency_limit,
      spendLimitUnits: row.spend_limit === null ? null : toUnits(row.spend_limit),
      expiresAt: row.expires_at ? row.expires_at.getTime() : null,
      ipAllowlist: row.ip_allowlist ? parseAllowlist(row.ip_allowlist) : null,
      customerStatus: row.customer_status,
      tenantStatus: row.tenant_status,
      secretValidUntil: row.previous ? (row.previous_secret_expires_at?.getTime() ?? 0) : null,
    };
  }
}

/**
 * Redis key holding the nano-units spent with a key, open holds included (the billing scripts'
 * layout, hash tag: the tenant).
 */
export function keySpendRedisKey(tenantId: string, keyId: string): string {
  return billingKeys.keySpend(tenantId, keyId);
}
