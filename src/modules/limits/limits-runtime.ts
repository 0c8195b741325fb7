import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { REDIS, RedisConnections } from '@app/redis';
import { TENANT_CACHE_CHANNEL, TenantDb } from '@app/tenancy';
import Redis from 'ioredis';
import { billingKeys, budgetCounter, RateScope, RateWindow, rateWindowCounter } from '@app/billing';
import { toUnits } from '@app/money';
import { dayEndMs, periodIds } from './budget-periods';
import { LimitsRepository, TenantLimitsData, WindowLimits } from './limits.repository';

/** Published when a tenant's or a customer's limits change: the tenant id. */
export const LIMITS_CACHE_CHANNEL = 'aigateway:limits-cache:invalidate';
const MAX_TENANTS = 10_000;

/**
 * One request from a client address within the minute, unless the address has had `limit` of them:
 * the count only grows for an admitted request, so a refused flood never stretches its own wait.
 * KEYS[1] the counter; ARGV limit. Returns 1 (admitted) or 0.
 */
const IP_ADMIT_LUA = `
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return 0 end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], 120) end
return 1
`;

const WINDOWS = [
  ['rph', 'requests', 'hour'],
  ['rpd', 'requests', 'day'],
  ['tph', 'tokens', 'hour'],
  ['tpd', 'tokens', 'day'],
] as const;

/** The limits one request is admitted under (0: none), stored values over the environment's defaults. */
export interface EffectiveLimits {
  /** Budgets of the key and the customer for the periods containing the request's time. */
  budgets: Array<{ name: string; limitUnits: bigint }>;
  /** Hour and day windows of the key, the customer and the tenant that have a limit (empty: none). */
  windows: RateWindow[];
  customerRpm: number;
  customerTpm: number;
  customerConcurrency: number;
  tenantRpm: number;
  tenantTpm: number;
  /** Requests per minute per client address. */
  ipRpm: number;
}

/**
 * Limits for the inference hot path, from memory: per tenant, its own and its customers' stored
 * limits, loaded once under the tenant's RLS scope and kept for PRICE_CACHE_TTL_SECONDS; a change
 * is broadcast through Redis so every api instance drops its copy (as prices are).
 */
@Injectable()
export class LimitsRuntime implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(LimitsRuntime.name);
  private readonly tenants = new Map<string, { data: TenantLimitsData; expiresAt: number }>();
  private readonly loading = new Map<string, Promise<TenantLimitsData>>();
  private subscriber?: Redis;
  private generation = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly connections: RedisConnections,
    private readonly tenantDb: TenantDb,
    private readonly repository: LimitsRepository,
  ) {}

  onModuleInit(): void {
    this.subscriber = this.connections.open('limits-cache-subscriber', { enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber.on('message', (_channel: string, message: string) => this.evictLocal(message));
    this.subscriber.on('ready', () => this.evictLocal('*'));
    void this.subscriber.subscribe(LIMITS_CACHE_CHANNEL, TENANT_CACHE_CHANNEL).catch(() => undefined);
  }

  onModuleDestroy(): void {
    this.tenants.clear();
  }

  /**
   * The limits of a request of `keyId` of `customerId` in `tenantId` at `atMs`: stored ones, else
   * the environment's defaults; with the budgets of the key and the customer for the periods (in
   * the tenant's time zone) that contain `atMs`.
   */
  async forRequest(tenantId: string, customerId: string, keyId: string, atMs: number, keyWindows?: WindowLimits): Promise<EffectiveLimits> {
    const data = await this.data(tenantId);
    const c = data.customers.get(customerId);
    const budgets: EffectiveLimits['budgets'] = [];
    const rows = [...(data.budgets.get(`key:${keyId}`) ?? []), ...(data.budgets.get(`customer:${customerId}`) ?? [])];
    if (rows.length > 0) {
      const ids = periodIds(atMs, data.timeZone);
      for (const b of rows) budgets.push({ name: budgetCounter(b.subject, b.subjectId, b.period, ids[b.period]), limitUnits: toUnits(b.amount) });
    }
    const windows: RateWindow[] = [];
    const scopes: Array<[RateScope, string, WindowLimits | undefined]> =
      keyWindows || data.hasWindows
        ? [
            ['key', keyId, keyWindows],
            ['customer', customerId, c],
            ['tenant', tenantId, data.tenant],
          ]
        : [];
    for (const [scope, id, w] of scopes) {
      if (!w || (w.rph === null && w.rpd === null && w.tph === null && w.tpd === null)) continue;
      const hour = Math.floor(atMs / 3_600_000);
      let day: { id: string; end: number } | undefined;
      for (const [field, kind, span] of WINDOWS) {
        const limit = w[field];
        if (limit === null) continue;
        if (span === 'hour') windows.push({ name: rateWindowCounter(scope, id, kind, 'hour', hour), limit, scope, kind, window: 'hour', resetAtMs: (hour + 1) * 3_600_000 });
        else {
          day ??= { id: periodIds(atMs, data.timeZone).day, end: dayEndMs(atMs, data.timeZone) };
          windows.push({ name: rateWindowCounter(scope, id, kind, 'day', day.id), limit, scope, kind, window: 'day', resetAtMs: day.end });
        }
      }
    }
    return {
      budgets,
      windows,
      customerRpm: c?.rpm ?? this.config.INFERENCE_CUSTOMER_RPM,
      customerTpm: c?.tpm ?? this.config.INFERENCE_CUSTOMER_TPM,
      customerConcurrency: c?.concurrency ?? this.config.INFERENCE_CUSTOMER_CONCURRENCY,
      tenantRpm: data.tenant.rpm ?? this.config.INFERENCE_TENANT_RPM,
      tenantTpm: data.tenant.tpm ?? this.config.INFERENCE_TENANT_TPM,
      ipRpm: data.tenant.ipRpm ?? this.config.INFERENCE_IP_RPM,
    };
  }

  /**
   * Counts a /v1 request from `clientIp` in the tenant's per-address limit of the minute holding
   * `atMs`; the seconds until that minute ends when the address is over it (null: admitted).
   */
  async admitIp(tenantId: string, clientIp: string, limit: number, atMs: number): Promise<number | null> {
    if (limit <= 0) return null;
    const minute = Math.floor(atMs / 60_000);
    const key = `${billingKeys.tag(tenantId)}:rl:ip:${clientIp}:${minute}`;
    const admitted = await this.redis.eval(IP_ADMIT_LUA, 1, key, limit);
    return admitted === 1 ? null : 60 - Math.floor((atMs / 1000) % 60);
  }

  /** What a budget counter holds now (nano-units: charges and open holds of its period). */
  async spent(tenantId: string, name: string): Promise<bigint> {
    return BigInt((await this.redis.get(`${billingKeys.tag(tenantId)}:${name}`)) ?? '0');
  }

  async invalidate(tenantId: string): Promise<void> {
    this.evictLocal(tenantId);
    try {
      await this.redis.publish(LIMITS_CACHE_CHANNEL, tenantId);
    } catch (error) {
      this.logger.warn(`limits cache broadcast failed; other instances refresh within the TTL: ${String(error)}`);
    }
  }

  private data(tenantId: string): Promise<TenantLimitsData> {
    const hit = this.tenants.get(tenantId);
    if (hit && hit.expiresAt > Date.now()) return Promise.resolve(hit.data);
    const pending = this.loading.get(tenantId);
    if (pending) return pending;
    const generation = this.generation;
    const load = this.tenantDb
      .run({ tenantId }, (m) => this.repository.load(m, tenantId))
      .then((data) => {
        if (generation !== this.generation) return data;
        if (this.tenants.size >= MAX_TENANTS) {
          const oldest = this.tenants.keys().next().value;
          if (oldest !== undefined) this.tenants.delete(oldest);
        }
        this.tenants.set(tenantId, { data, expiresAt: Date.now() + this.config.PRICE_CACHE_TTL_SECONDS * 1000 });
        return data;
      })
      .finally(() => {
        if (this.loading.get(tenantId) === load) this.loading.delete(tenantId);
      });
    this.loading.set(tenantId, load);
    return load;
  }

  private evictLocal(tenantId: string): void {
    this.generation++;
    this.loading.clear();
    if (tenantId === '*') this.tenants.clear();
    else this.tenants.delete(tenantId);
  }
}
