import { Inject, Injectable } from '@nestjs/common';
import { asSubject, RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { fromUnits, trimDecimal } from '@app/money';
import { REDIS } from '@app/redis';
import { TenantDb } from '@app/tenancy';
import Redis from 'ioredis';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { pageOf } from '../../common/pagination';
import { AuditService } from '../audit/audit.service';
import { PricingRepository } from '../pricing/pricing.repository';
import { WebhookOutbox } from '../webhooks/webhook-outbox';
import { generateSecret } from './api-key-secret';
import { CreateKeyRequest, DEFAULT_GRACE_SECONDS, KeyListQuery, KeyPage, KeyView, KeyWithSecretView, RotateKeyRequest, UpdateKeyRequest } from './dto/key.dto';
import { normalizeCidr } from './ip-allowlist';
import { KeysRuntime, keySpendRedisKey } from './keys-runtime';
import { KeyErrorCode, keyError } from './keys.exceptions';
import { API_KEY } from './keys.permissions';
import { KeyChanges, KeyRecord, KeysRepository } from './keys.repository';

type KeyAction = 'read' | 'update' | 'disable' | 'enable' | 'delete';

/** What the audit log keeps of a key: never the secret nor its hash. */
const audited = (k: KeyView) => ({
  name: k.name,
  customerId: k.customerId,
  prefix: k.prefix,
  status: k.status,
  allowedModels: k.allowedModels,
  rpmLimit: k.rpmLimit,
  tpmLimit: k.tpmLimit,
  rphLimit: k.rphLimit,
  rpdLimit: k.rpdLimit,
  tphLimit: k.tphLimit,
  tpdLimit: k.tpdLimit,
  concurrencyLimit: k.concurrencyLimit,
  spendLimit: k.spendLimit,
  expiresAt: k.expiresAt ? new Date(k.expiresAt).toISOString() : null,
  ipAllowlist: k.ipAllowlist,
});

const view = ({ salesUserId: _sales, ...key }: KeyRecord): KeyView => key;

/**
 * The public payload of the `key.*` webhook events: ids, name, the displayable prefix and the
 * state; never the secret or its hash. `by`: the user who made the change, null for the system.
 */
export const keyEventData = (k: Pick<KeyView, 'id' | 'customerId' | 'name' | 'prefix' | 'status'>, by: string | null) => ({
  keyId: k.id,
  customerId: k.customerId,
  name: k.name,
  prefix: k.prefix,
  status: k.status,
  by,
});

/** The event a change of status reports, if any (enabling a key has none; a rotation has its own, key.rotated). */
const STATUS_EVENTS = { disabled: 'key.disabled', revoked: 'key.revoked' } as const;

@Injectable()
export class KeysService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly keys: KeysRepository,
    private readonly pricing: PricingRepository,
    private readonly runtime: KeysRuntime,
    private readonly audit: AuditService,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly outbox: WebhookOutbox,
  ) {}

  async list(query: KeyListQuery): Promise<KeyPage> {
    const { page, pageSize, offset } = pageOf(query);
    const { items, total } = await this.tenantDb.forRequest((m) => this.keys.list(m, this.auth.ability, query, offset, pageSize));
    return { items: await this.withSpend(items.map(view)), total, page, pageSize };
  }

  async get(id: string): Promise<KeyView> {
    const key = await this.tenantDb.forRequest((m) => this.key(m, id, 'read'));
    return (await this.withSpend([view(key)]))[0];
  }

  async create(input: CreateKeyRequest): Promise<KeyWithSecretView> {
    const principal = this.auth.principal;
    const customerId = input.customerId ?? principal.userId;
    const changes = this.changesOf(input);
    const { secret, hash, prefix } = generateSecret();
    const created = await this.tenantDb.forRequest(async (m) => {
      const customer = await this.keys.customer(m, principal.tenantId, customerId);
      // A customer the caller may not manage keys for is as unknown as one that does not exist.
      const subject = { tenantId: principal.tenantId, customerId, salesUserId: customer?.salesUserId ?? null };
      if (!customer || !this.auth.ability.can('create', asSubject(API_KEY, subject))) {
        throw keyError(KeyErrorCode.UnknownCustomer, undefined, { errors: [{ field: 'customerId', messages: ['not an active customer whose keys you manage'] }] });
      }
      // Keys are for active customers only: an invited one gets keys once they accept the
      // invitation (staff may fund the wallet before that), a disabled one not at all.
      if (customer.status !== 'active') {
        const why = customer.status === 'invited' ? 'has not accepted the invitation yet' : 'is disabled';
        throw keyError(KeyErrorCode.UnknownCustomer, `The customer ${why}.`, { errors: [{ field: 'customerId', messages: [`not an active customer: ${why}`] }] });
      }
      await this.assertKnownModels(m, changes.allowed_models);
      const id = uuidv7();
      await this.keys.insert(m, { id, tenantId: principal.tenantId, customerId, name: input.name.trim(), prefix, secretHash: hash, createdBy: principal.userId }, changes);
      const key = view((await this.keys.get(m, id))!);
      await this.audit.record(m, { tenantId: key.tenantId, action: 'api_key.created', subjectType: API_KEY, subjectId: id, after: audited(key) });
      await this.outbox.publish(m, key.tenantId, 'key.created', keyEventData(key, principal.userId));
      return key;
    });
    return { ...created, secret };
  }

  async update(id: string, input: UpdateKeyRequest): Promise<KeyView> {
    const changes = this.changesOf(input);
    if (input.name !== undefined) changes.name = input.name.trim();
    return this.change(id, 'update', 'api_key.updated', async (m, key) => {
      this.assertNotRevoked(key);
      await this.assertKnownModels(m, changes.allowed_models);
      await this.keys.update(m, key.id, changes);
    });
  }

  setStatus(id: string, status: 'active' | 'disabled'): Promise<KeyView> {
    return this.change(id, status === 'active' ? 'enable' : 'disable', status === 'active' ? 'api_key.enabled' : 'api_key.disabled', async (m, key) => {
      this.assertNotRevoked(key);
      // Only the owner's review of the risk flag lifts a suspension (risk module).
      if (key.status === 'suspended') throw keyError(KeyErrorCode.KeySuspended);
      await this.keys.update(m, key.id, { status });
    });
  }

  /** Final: a revoked key never works again and cannot be enabled or rotated. */
  revoke(id: string): Promise<KeyView> {
    return this.change(id, 'delete', 'api_key.revoked', async (m, key) => {
      if (key.status === 'revoked') return;
      await this.keys.update(m, key.id, { status: 'revoked' });
    });
  }

  /** A new secret; the old one keeps working for the grace period (default one hour, at most a week). */
  async rotate(id: string, input: RotateKeyRequest): Promise<KeyWithSecretView> {
    const { secret, hash, prefix } = generateSecret();
    const graceSeconds = input.gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
    const key = await this.change(id, 'update', 'api_key.rotated', async (m, key) => {
      this.assertNotRevoked(key);
      await this.keys.rotate(m, key.id, hash, prefix, new Date(Date.now() + graceSeconds * 1000));
    });
    return { ...key, secret };
  }

  /** Loads and locks the key, checks `action`, applies `work`, audits before/after, then broadcasts. */
  private async change(id: string, action: KeyAction, auditAction: string, work: (m: EntityManager, key: KeyRecord) => Promise<void>): Promise<KeyView> {
    const after = await this.tenantDb.forRequest(async (m) => {
      const before = await this.key(m, id, action, true);
      await work(m, before);
      const after = view((await this.keys.get(m, id))!);
      await this.audit.record(m, {
        tenantId: before.tenantId,
        action: auditAction,
        subjectType: API_KEY,
        subjectId: id,
        before: audited(before),
        after: { ...audited(after), ...(auditAction === 'api_key.rotated' ? { previousSecretExpiresAt: after.previousSecretExpiresAt?.toISOString() } : {}) },
      });
      // What actually happened to the key's state: disabling a disabled key or revoking a revoked
      // one changes nothing and publishes nothing. A rotation keeps the key (same id, status) with a
      // new secret: `key.rotated` says until when the previous secret still works.
      const event = before.status !== after.status ? STATUS_EVENTS[after.status as keyof typeof STATUS_EVENTS] : undefined;
      if (event) await this.outbox.publish(m, after.tenantId, event, keyEventData(after, this.auth.principal.userId));
      if (auditAction === 'api_key.rotated') {
        await this.outbox.publish(m, after.tenantId, 'key.rotated', {
          ...keyEventData(after, this.auth.principal.userId),
          previousPrefix: before.prefix,
          previousSecretExpiresAt: after.previousSecretExpiresAt?.toISOString() ?? null,
        });
      }
      return after;
    });
    await this.runtime.invalidateKey(id);
    return (await this.withSpend([after]))[0];
  }

  private async key(m: EntityManager, id: string, action: KeyAction, lock = false): Promise<KeyRecord> {
    const key = await this.keys.get(m, id, { lock });
    if (!key) throw AppException.notFound('API key');
    this.auth.assertCan(action, API_KEY, { id: key.id, tenantId: key.tenantId, customerId: key.customerId, salesUserId: key.salesUserId });
    return key;
  }

  private assertNotRevoked(key: KeyView): void {
    if (key.status === 'revoked') throw keyError(KeyErrorCode.KeyRevoked);
  }

  private async assertKnownModels(m: EntityManager, models: string[] | null | undefined): Promise<void> {
    if (!models?.length) return;
    const unknown = await this.pricing.unknownModels(m, models);
    if (unknown.length > 0) {
      throw keyError(KeyErrorCode.UnknownModel, `Unknown models: ${unknown.join(', ')}.`, { errors: [{ field: 'allowedModels', messages: unknown.map((u) => `unknown model ${u}`) }] });
    }
  }

  /** The validated limit fields as column changes (undefined: unchanged, null: cleared). */
  private changesOf(input: CreateKeyRequest | UpdateKeyRequest): KeyChanges {
    const changes: KeyChanges = {};
    if (input.allowedModels !== undefined) changes.allowed_models = input.allowedModels === null ? null : [...input.allowedModels].sort();
    if (input.rpmLimit !== undefined) changes.rpm_limit = input.rpmLimit;
    if (input.tpmLimit !== undefined) changes.tpm_limit = input.tpmLimit;
    if (input.rphLimit !== undefined) changes.rph_limit = input.rphLimit;
    if (input.rpdLimit !== undefined) changes.rpd_limit = input.rpdLimit;
    if (input.tphLimit !== undefined) changes.tph_limit = input.tphLimit;
    if (input.tpdLimit !== undefined) changes.tpd_limit = input.tpdLimit;
    if (input.concurrencyLimit !== undefined) changes.concurrency_limit = input.concurrencyLimit;
    if (input.spendLimit !== undefined) changes.spend_limit = input.spendLimit === null ? null : trimDecimal(input.spendLimit);
    if (input.ipAllowlist !== undefined) changes.ip_allowlist = input.ipAllowlist === null ? null : [...new Set(input.ipAllowlist.map((c) => normalizeCidr(c)!))];
    if (input.expiresAt !== undefined) {
      if (input.expiresAt !== null && new Date(input.expiresAt).getTime() <= Date.now()) {
        throw AppException.validation([{ field: 'expiresAt', messages: ['expiresAt must be in the future'] }]);
      }
      changes.expires_at = input.expiresAt === null ? null : new Date(input.expiresAt);
    }
    return changes;
  }

  /**
   * The live figures, one MGET per tenant: a tenant's keys share its hash tag, and on Redis Cluster
   * an MGET must stay within one slot (a platform-wide list spans tenants).
   */
  private async liveSpend(keys: KeyView[]): Promise<Array<string | null>> {
    const byTenant = new Map<string, number[]>();
    keys.forEach((k, i) => byTenant.set(k.tenantId, [...(byTenant.get(k.tenantId) ?? []), i]));
    const live: Array<string | null> = keys.map(() => null);
    await Promise.all(
      [...byTenant.values()].map(async (indexes) => {
        const values = await this.redis.mget(...indexes.map((i) => keySpendRedisKey(keys[i].tenantId, keys[i].id)));
        indexes.forEach((i, j) => (live[i] = values[j]));
      }),
    );
    return live;
  }

  /**
   * Spend so far: the live figure the proxy keeps in Redis (nano-units) when there is one, else what
   * metering recorded in PostgreSQL. A Redis outage falls back to the recorded figure.
   */
  private async withSpend(keys: KeyView[]): Promise<KeyView[]> {
    if (keys.length === 0) return keys;
    const live = await this.liveSpend(keys).catch(() => keys.map(() => null));
    return keys.map((k, i) => (live[i] !== null && /^\d+$/.test(live[i]!) ? { ...k, spent: trimDecimal(fromUnits(BigInt(live[i]!))) } : k));
  }
}
