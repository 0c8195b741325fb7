import { Inject, Injectable } from '@nestjs/common';
import { toUnits, TokenPrice, trimDecimal } from '@app/money';
import { ModelMapping } from '@app/providers';
import { REDIS } from '@app/redis';
import { SystemDb } from '@app/tenancy';
import Decimal from 'decimal.js';
import Redis from 'ioredis';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { auditDiff } from '../modules/audit/audit-diff';
import { ChannelEvents } from '../modules/channels/channel-events';
import { ChannelSecrets } from '../modules/channels/channel-secrets';
import { ChannelsRepository } from '../modules/channels/channels.repository';
import { CHANNEL } from '../modules/channels/channels.permissions';
import { generateSecret, hashSecret, looksLikeSecret } from '../modules/keys/api-key-secret';
import { KEYS_CACHE_CHANNEL } from '../modules/keys/keys-runtime';
import { API_KEY } from '../modules/keys/keys.permissions';
import { KeysRepository } from '../modules/keys/keys.repository';
import { keyEventData } from '../modules/keys/keys.service';
import { WebhookOutbox } from '../modules/webhooks/webhook-outbox';
import { LedgerService } from '../modules/ledger/ledger.service';
import { PRICING_CACHE_CHANNEL } from '../modules/pricing/pricing-runtime';
import { PRICE } from '../modules/pricing/pricing.permissions';
import { PricingRepository } from '../modules/pricing/pricing.repository';
import { SetupError } from './platform-setup.service';

export const DEMO_CHANNEL_NAME = 'demo-upstream';
/** The demo customer's key carries this name; a new demo key revokes the earlier ones of that name. */
export const DEMO_KEY_NAME = 'demo key (cli seed-demo)';
/** The upstream key stored on the demo channel (the local fake accepts any key). */
const DEMO_UPSTREAM_KEY = 'sk-demo-upstream-0000';
const DEMO_FUNDS = '10.00';
const DEMO_FUNDS_REFERENCE = 'demo-seed-initial-funds';
/** The model whose reseller retail price seed-demo sets above wholesale, so the margin shows. */
export const DEMO_CHAT_MODEL = 'gpt-4o-mini';

/** Per million tokens: what the upstream charges us, and the platform's list (wholesale to resellers). */
const DEMO_MODELS: Array<{ model: string; upstream: { input: string; output: string; cachedInput: string }; platform: TokenPrice }> = [
  {
    model: DEMO_CHAT_MODEL,
    upstream: { input: '0.10', output: '0.40', cachedInput: '0.05' },
    platform: { inputPerMillion: '0.15', outputPerMillion: '0.60', cacheReadPerMillion: '0.075' },
  },
  {
    model: 'text-embedding-3-small',
    upstream: { input: '0.01', output: '0', cachedInput: '0' },
    platform: { inputPerMillion: '0.02', outputPerMillion: '0' },
  },
];

export interface DemoUpstreamResult {
  channel: { id: string; name: string; baseUrl: string; outcome: 'created' | 'repointed' | 'kept' };
  models: string[];
  /** Models the platform had no price for, now priced. */
  platformPricesAdded: string[];
  /** The reseller's own retail price of {@link DEMO_CHAT_MODEL} (set now, or kept). */
  retail: { model: string; price: TokenPrice; added: boolean };
  customerEmail: string;
  wallet: { credited: boolean; amount: string; balance: string };
  /** `kept`: the secret given to {@link DemoUpstreamService.seed} is still the active demo key. */
  key: { id: string; secret: string; prefix: string; revoked: number; kept: boolean };
}

/**
 * The inference half of `cli seed-demo`: a channel to a (local, fake) OpenAI-compatible upstream,
 * prices for its models, a funded wallet and an API key for the demo customer, so the first
 * `POST /v1/chat/completions` works. Runs on the system role (the admin services need a signed-in
 * caller); the wallet credit goes through the ledger's own idempotent credit. Running it again
 * changes nothing, the key included when the caller hands back its secret (`keepKey`, as
 * `npm run dev` does from .data/): only hashes are stored, so without it a run cannot print the
 * existing key and makes a new one, revoking the earlier demo keys.
 */
@Injectable()
export class DemoUpstreamService {
  constructor(
    private readonly systemDb: SystemDb,
    private readonly channels: ChannelsRepository,
    private readonly secrets: ChannelSecrets,
    private readonly channelEvents: ChannelEvents,
    private readonly pricing: PricingRepository,
    private readonly keys: KeysRepository,
    private readonly ledger: LedgerService,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly outbox: WebhookOutbox,
  ) {}

  async seed(input: { upstreamUrl: string; resellerSlug: string; customerEmail: string; keepKey?: string }): Promise<DemoUpstreamResult> {
    const baseUrl = normalizeUrl(input.upstreamUrl);
    const seeded = await this.systemDb.run(async (m) => {
      const [reseller] = await m.query(`SELECT id FROM tenants WHERE slug = $1 AND type = 'reseller'`, [input.resellerSlug]);
      if (!reseller) throw new SetupError(`There is no reseller "${input.resellerSlug}"; seed the demo tenants first.`);
      const [customer] = await m.query(
        `SELECT u.id FROM users u WHERE u.tenant_id = $1 AND lower(u.email) = lower($2)
            AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = 'user')`,
        [reseller.id, input.customerEmail],
      );
      if (!customer) throw new SetupError(`There is no customer ${input.customerEmail} in "${input.resellerSlug}".`);
      const platformTenantId = await this.channels.platformTenantId(m);
      if (!platformTenantId) throw new SetupError('There is no platform tenant; seed the demo tenants first.');
      const audit = (tenantId: string, action: string, subjectType: string, subjectId: string, before: Record<string, unknown> | null, after: Record<string, unknown> | null) =>
        this.channels.insertSystemAudit(m, { id: uuidv7(), tenantId, action, subjectType, subjectId, changes: auditDiff(before, after) });

      const channel = await this.ensureChannel(m, baseUrl, platformTenantId, audit);
      const platformPricesAdded: string[] = [];
      const now = new Date();
      for (const { model, platform } of DEMO_MODELS) {
        if (await this.pricing.platformKnows(m, model)) continue;
        const id = await this.pricing.insert(m, 'platform', { model, price: platform, effectiveFrom: now, setBy: null });
        if (id) {
          platformPricesAdded.push(model);
          await audit(platformTenantId, 'price.platform_set', PRICE, model, null, { ...platform, effectiveFrom: now.toISOString(), versionId: id });
        }
      }
      const retail = await this.ensureRetail(m, reseller.id, now, audit);
      const key = (input.keepKey && (await this.activeDemoKey(m, reseller.id, customer.id, input.keepKey))) || (await this.replaceKey(m, reseller.id, customer.id, audit));
      return { resellerId: reseller.id as string, customerId: customer.id as string, channel, platformPricesAdded, retail, key };
    });

    // Running api instances drop what they cached (best effort: their TTLs bound staleness anyway).
    if (seeded.channel.outcome !== 'kept') await this.channelEvents.changed(seeded.channel.id);
    if (seeded.platformPricesAdded.length) await this.publish(PRICING_CACHE_CHANNEL, '*');
    else if (seeded.retail.added) await this.publish(PRICING_CACHE_CHANNEL, seeded.resellerId);
    for (const id of seeded.key.revokedIds) await this.publish(KEYS_CACHE_CHANNEL, `key:${id}`);
    await this.publish(KEYS_CACHE_CHANNEL, `customer:${seeded.customerId}`);

    // The ledger's own credit: balanced, audited, idempotent by reference, and applied to the
    // Redis balance when it is loaded (else BalanceService.ensureLoaded reads it on first use).
    const credit = await this.ledger.creditBySystem({
      tenantId: seeded.resellerId,
      customerId: seeded.customerId,
      units: toUnits(DEMO_FUNDS),
      reference: DEMO_FUNDS_REFERENCE,
      note: 'demo funds (cli seed-demo)',
    });

    return {
      channel: seeded.channel,
      models: DEMO_MODELS.map((x) => x.model),
      platformPricesAdded: seeded.platformPricesAdded,
      retail: seeded.retail,
      customerEmail: input.customerEmail,
      wallet: { credited: credit.created, amount: DEMO_FUNDS, balance: credit.balance },
      key: { id: seeded.key.id, secret: seeded.key.secret, prefix: seeded.key.prefix, revoked: seeded.key.revokedIds.length, kept: seeded.key.kept },
    };
  }

  /** The demo channel, created if missing; pointed at `baseUrl` if it points elsewhere (another fake port). */
  private async ensureChannel(m: EntityManager, baseUrl: string, platformTenantId: string, audit: AuditWriter): Promise<DemoUpstreamResult['channel']> {
    const [existing] = await m.query(`SELECT id, base_url FROM channels WHERE lower(name) = lower($1) FOR UPDATE`, [DEMO_CHANNEL_NAME]);
    if (existing) {
      if (existing.base_url === baseUrl) return { id: existing.id, name: DEMO_CHANNEL_NAME, baseUrl, outcome: 'kept' };
      await this.channels.update(m, existing.id, { baseUrl });
      await audit(platformTenantId, 'channel.updated', CHANNEL, existing.id, { baseUrl: existing.base_url }, { baseUrl });
      return { id: existing.id, name: DEMO_CHANNEL_NAME, baseUrl, outcome: 'repointed' };
    }
    const id = uuidv7();
    const models: ModelMapping[] = DEMO_MODELS.map((x) => ({ public: x.model, upstream: null }));
    await this.channels.insert(m, id, {
      name: DEMO_CHANNEL_NAME,
      provider: 'openai',
      baseUrl,
      models,
      priority: 0,
      weight: 1,
      pool: 'standard',
      connectTimeoutMs: 5000,
      firstByteTimeoutMs: 60000,
      totalTimeoutMs: 600000,
      retryBudget: 2,
    });
    await this.channels.addKey(m, { id: uuidv7(), channelId: id, ciphertext: this.secrets.seal(id, DEMO_UPSTREAM_KEY), last4: DEMO_UPSTREAM_KEY.slice(-4) });
    await this.channels.replaceCosts(
      m,
      id,
      DEMO_MODELS.map((x) => ({ model: x.model, inputPerMillion: x.upstream.input, outputPerMillion: x.upstream.output, cachedInputPerMillion: x.upstream.cachedInput })),
    );
    await audit(platformTenantId, 'channel.created', CHANNEL, id, null, { name: DEMO_CHANNEL_NAME, provider: 'openai', baseUrl, models });
    return { id, name: DEMO_CHANNEL_NAME, baseUrl, outcome: 'created' };
  }

  /**
   * The reseller's own retail price of the demo chat model, if it has none: twice the platform's
   * current price (its wholesale, before any discount), so each call shows a margin.
   */
  private async ensureRetail(m: EntityManager, resellerId: string, now: Date, audit: AuditWriter): Promise<DemoUpstreamResult['retail']> {
    const current = async (table: 'platform_prices' | 'tenant_prices') => {
      const rows = await m.query(
        `SELECT input_per_million::text AS input, output_per_million::text AS output, cache_read_per_million::text AS cache_read,
                cache_write_per_million::text AS cache_write, per_request::text AS per_request
           FROM ${table} WHERE model = $1 AND effective_from <= $2 ${table === 'tenant_prices' ? 'AND tenant_id = $3' : ''}
          ORDER BY effective_from DESC LIMIT 1`,
        table === 'tenant_prices' ? [DEMO_CHAT_MODEL, now, resellerId] : [DEMO_CHAT_MODEL, now],
      );
      return rows[0] ? priceOf(rows[0]) : null;
    };
    const own = await current('tenant_prices');
    if (own) return { model: DEMO_CHAT_MODEL, price: own, added: false };
    const platform = await current('platform_prices');
    if (!platform) throw new SetupError(`The platform has no current price for ${DEMO_CHAT_MODEL}.`);
    const double = (v: string | null | undefined) => (v === null || v === undefined ? null : trimDecimal(new Decimal(v).mul(2).toFixed(9)));
    const price: TokenPrice = {
      inputPerMillion: double(platform.inputPerMillion)!,
      outputPerMillion: double(platform.outputPerMillion)!,
      cacheReadPerMillion: double(platform.cacheReadPerMillion),
      cacheWritePerMillion: double(platform.cacheWritePerMillion),
      perRequest: double(platform.perRequest),
    };
    const id = await this.pricing.insert(m, { tenantId: resellerId }, { model: DEMO_CHAT_MODEL, price, effectiveFrom: now, setBy: null });
    if (id) await audit(resellerId, 'price.set', PRICE, DEMO_CHAT_MODEL, null, { ...price, effectiveFrom: now.toISOString(), versionId: id });
    return { model: DEMO_CHAT_MODEL, price, added: id !== null };
  }

  /** The customer's demo key whose secret is `secret`, if it is still active (and unexpired). */
  private async activeDemoKey(m: EntityManager, tenantId: string, customerId: string, secret: string) {
    if (!looksLikeSecret(secret)) return null;
    const [key]: Array<{ id: string; prefix: string }> = await m.query(
      `SELECT id, prefix FROM api_keys
        WHERE secret_hash = $4 AND tenant_id = $1 AND customer_id = $2 AND name = $3 AND status = 'active'
          AND (expires_at IS NULL OR expires_at > now())`,
      [tenantId, customerId, DEMO_KEY_NAME, hashSecret(secret)],
    );
    return key ? { id: key.id, secret, prefix: key.prefix, revokedIds: [] as string[], kept: true } : null;
  }

  /** Revokes the customer's earlier demo keys and makes a new one (its secret exists only in this answer). */
  private async replaceKey(m: EntityManager, tenantId: string, customerId: string, audit: AuditWriter) {
    const earlier: Array<{ id: string; prefix: string }> = await m.query(
      `SELECT id, prefix FROM api_keys WHERE tenant_id = $1 AND customer_id = $2 AND name = $3 AND status <> 'revoked' FOR UPDATE`,
      [tenantId, customerId, DEMO_KEY_NAME],
    );
    for (const { id, prefix } of earlier) {
      await this.keys.update(m, id, { status: 'revoked' });
      await audit(tenantId, 'api_key.revoked', API_KEY, id, { status: 'active' }, { status: 'revoked' });
      await this.outbox.publish(m, tenantId, 'key.revoked', keyEventData({ id, customerId, name: DEMO_KEY_NAME, prefix, status: 'revoked' }, null));
    }
    const { secret, hash, prefix } = generateSecret();
    const id = uuidv7();
    await this.keys.insert(m, { id, tenantId, customerId, name: DEMO_KEY_NAME, prefix, secretHash: hash, createdBy: null }, {});
    await audit(tenantId, 'api_key.created', API_KEY, id, null, { name: DEMO_KEY_NAME, prefix, customerId });
    await this.outbox.publish(m, tenantId, 'key.created', keyEventData({ id, customerId, name: DEMO_KEY_NAME, prefix, status: 'active' }, null));
    return { id, secret, prefix, revokedIds: earlier.map((k) => k.id), kept: false };
  }

  private async publish(channel: string, message: string): Promise<void> {
    await this.redis.publish(channel, message).catch(() => undefined);
  }
}

type AuditWriter = (
  tenantId: string,
  action: string,
  subjectType: string,
  subjectId: string,
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
) => Promise<void>;

function priceOf(row: { input: string; output: string; cache_read: string | null; cache_write: string | null; per_request: string | null }): TokenPrice {
  const t = (v: string | null) => (v === null ? null : trimDecimal(v));
  return { inputPerMillion: t(row.input)!, outputPerMillion: t(row.output)!, cacheReadPerMillion: t(row.cache_read), cacheWritePerMillion: t(row.cache_write), perRequest: t(row.per_request) };
}

/** An http(s) base URL without a trailing slash, or a SetupError. */
function normalizeUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SetupError(`The upstream URL "${value}" is not a URL (e.g. http://127.0.0.1:4010/v1).`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SetupError(`The upstream URL "${value}" must be http(s).`);
  if (url.username || url.password || url.search || url.hash) throw new SetupError(`The upstream URL "${value}" must have no credentials, query or fragment.`);
  return url.toString().replace(/\/+$/, '');
}

