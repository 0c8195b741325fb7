import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { RequestAuth } from '@app/authorization';
import { AppException } from '@app/errors';
import { fromUnits, toUnits, trimDecimal } from '@app/money';
import { CHANNEL_PRESETS, createUpstreamAgent, presetById, balanceExhausted, last4, mapUpstreamHttpError, modelListRequest, parseModelList, sendUpstream, UpstreamError, parseAwsKey, parseServiceAccountKey, probeChannel, probeModelOf, ProviderType, SecretBoxError, UpstreamSettings } from '@app/providers';
import { TenantDb } from '@app/tenancy';
import { EntityManager, QueryFailedError } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { pageOf } from '../../common/pagination';
import { AuditService } from '../audit/audit.service';
import { InjectQueue } from '@nestjs/bullmq';
import { ChannelQuotaExhaustedJob, ChannelsJob, QueueName } from '@app/queue';
import { Queue } from 'bullmq';
import { readChannelBalance } from './channel-balance';
import { ChannelEvents } from './channel-events';
import { ChannelsRuntime } from './runtime/channels-runtime';
import { ChannelSecrets } from './channel-secrets';
import { ChannelErrorCode, channelError } from './channels.exceptions';
import { CHANNEL } from './channels.permissions';
import { ChannelCostRow, ChannelKeyRow, ChannelRow, ChannelSettings, ChannelsRepository } from './channels.repository';
import {
  ChannelListQuery,
  ChannelModelSync,
  ChannelPage,
  ChannelPresetView,
  ChannelSettingsDto,
  ChannelTestResult,
  ChannelView,
  CreateChannelRequest,
  ModelCostDto,
  TestChannelRequest,
  UpdateChannelRequest,
} from './dto/channel.dto';

const DEFAULTS = { models: [], priority: 0, weight: 1, pool: 'standard', connectTimeoutMs: 5000, firstByteTimeoutMs: 60000, totalTimeoutMs: 600000, retryBudget: 2 } as const;

/** What only the api instance knows of a channel: its breaker here, and its limits' counters in Redis. */
export interface ChannelLive {
  breaker: string | null;
  usage: { requestsLastMinute: number; tokensThisMinute: number; spentTodayUnits: bigint } | null;
}

export function channelView(row: ChannelRow, keys: ChannelKeyRow[], costs: ChannelCostRow[], live?: ChannelLive): ChannelView {
  const usage = live?.usage;
  return {
    id: row.id,
    name: row.name,
    provider: row.provider,
    baseUrl: row.baseUrl,
    models: row.models,
    priority: row.priority,
    weight: row.weight,
    pool: row.pool,
    connectTimeoutMs: row.connectTimeoutMs,
    firstByteTimeoutMs: row.firstByteTimeoutMs,
    totalTimeoutMs: row.totalTimeoutMs,
    retryBudget: row.retryBudget,
    settings: row.settings ?? {},
    status: row.status,
    statusReason: row.statusReason,
    statusChangedAt: row.statusChangedAt,
    // Only the last four characters, ever.
    keys: keys.filter((k) => k.channelId === row.id).map((k) => ({ id: k.id, last4: k.last4, status: k.status, disabledReason: k.disabledReason, disabledAt: k.disabledAt })),
    costs: costs
      .filter((c) => c.channelId === row.id)
      .map((c) => ({ model: c.model, inputPerMillion: trimDecimal(c.inputPerMillion), outputPerMillion: trimDecimal(c.outputPerMillion), cachedInputPerMillion: trimDecimal(c.cachedInputPerMillion) })),
    health: { checkFailures: row.checkFailures, lastCheckAt: row.lastCheckAt, lastCheckLatencyMs: row.lastCheckLatencyMs, lastCheckError: row.lastCheckError },
    breaker: live?.breaker ?? null,
    limits: {
      rpm: row.rpmLimit ?? null,
      tpm: row.tpmLimit ?? null,
      dailySpendCap: row.dailySpendCapUnits === null || row.dailySpendCapUnits === undefined ? null : trimDecimal(fromUnits(row.dailySpendCapUnits)),
      requestsLastMinute: usage?.requestsLastMinute ?? 0,
      tokensThisMinute: usage?.tokensThisMinute ?? 0,
      spentToday: trimDecimal(fromUnits(usage?.spentTodayUnits ?? 0n)),
    },
    balance:
      presetById(row.settings?.preset)?.balance || row.balanceCheckedAt
        ? { amount: row.balance === null ? null : trimDecimal(row.balance), currency: row.balanceCurrency, checkedAt: row.balanceCheckedAt, error: row.balanceError }
        : null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/**
 * What the audit log keeps of a channel: settings, and of its keys only id, last four characters
 * and status (the field is not called "keys", which the audit diff would redact wholesale, since
 * these are safe to show).
 */
export function auditedChannel(row: ChannelRow, keys: ChannelKeyRow[], costs: ChannelCostRow[]): Record<string, unknown> {
  const view = channelView(row, keys, costs);
  return {
    name: view.name,
    provider: view.provider,
    baseUrl: view.baseUrl,
    models: view.models,
    priority: view.priority,
    weight: view.weight,
    pool: view.pool,
    connectTimeoutMs: view.connectTimeoutMs,
    firstByteTimeoutMs: view.firstByteTimeoutMs,
    totalTimeoutMs: view.totalTimeoutMs,
    retryBudget: view.retryBudget,
    settings: view.settings,
    status: view.status,
    statusReason: view.statusReason,
    limits: { rpm: view.limits.rpm, tpm: view.limits.tpm, dailySpendCap: view.limits.dailySpendCap },
    upstreamCredentials: view.keys.map((k) => ({ id: k.id, last4: k.last4, status: k.status })),
    costs: view.costs,
  };
}

function costsOf(input: ModelCostDto[]): Array<Omit<ChannelCostRow, 'channelId'>> {
  return input.map((c) => ({ model: c.model, inputPerMillion: c.inputPerMillion, outputPerMillion: c.outputPerMillion, cachedInputPerMillion: c.cachedInputPerMillion }));
}

/** Which settings each provider type takes, and which of them it must have. */
const SETTINGS_OF: Record<ProviderType, { allowed: Array<keyof UpstreamSettings>; required: Array<keyof UpstreamSettings> }> = {
  openai: { allowed: ['preset'], required: [] },
  'openai-responses': { allowed: ['preset'], required: [] },
  anthropic: { allowed: [], required: [] },
  gemini: { allowed: [], required: [] },
  azure: { allowed: ['apiVersion'], required: [] },
  bedrock: { allowed: ['region'], required: ['region'] },
  vertex: { allowed: ['projectId', 'location'], required: ['projectId', 'location'] },
};

/** The settings of a channel of this provider (only the fields it takes), or 400 naming what is wrong. */
export function settingsFor(provider: ProviderType, input: ChannelSettingsDto | undefined): UpstreamSettings {
  const rule = SETTINGS_OF[provider];
  const settings: UpstreamSettings = {};
  for (const [name, value] of Object.entries(input ?? {}) as Array<[keyof UpstreamSettings, string | undefined]>) {
    if (value === undefined || value === null) continue;
    if (!rule.allowed.includes(name)) throw channelError(ChannelErrorCode.InvalidSettings, `A ${provider} channel takes no settings.${name}.`);
    settings[name] = value;
  }
  const missing = rule.required.filter((name) => !settings[name]);
  if (missing.length) throw channelError(ChannelErrorCode.InvalidSettings, `A ${provider} channel needs ${missing.map((m) => `settings.${m}`).join(' and ')}.`);
  return settings;
}

/** Keys in the form their provider needs (an AWS key pair, a service-account key); 400 otherwise, without echoing the key. */
export function checkKeys(provider: ProviderType, keys: string[]): void {
  keys.forEach((key, index) => {
    try {
      if (provider === 'bedrock' && !/^[A-Z0-9]{16,128}$/.test(parseAwsKey(key).accessKeyId)) throw new Error('access key id');
      if (provider === 'vertex') parseServiceAccountKey(key);
    } catch {
      const form = provider === 'bedrock' ? 'ACCESS_KEY_ID:SECRET_ACCESS_KEY' : 'a service-account key (JSON with client_email and private_key)';
      throw channelError(ChannelErrorCode.InvalidKey, `Key ${index + 1} is not ${form}.`);
    }
  });
}

function conflictOf(error: unknown): never {
  if (error instanceof QueryFailedError && (error as QueryFailedError & { code?: string }).code === '23505') throw channelError(ChannelErrorCode.NameTaken);
  throw error;
}

/** Admin side of channels (platform owner and tech). Every change is audited and announced to the routers. */
@Injectable()
export class ChannelsService {
  constructor(
    private readonly tenantDb: TenantDb,
    private readonly auth: RequestAuth,
    private readonly repository: ChannelsRepository,
    private readonly audit: AuditService,
    private readonly secrets: ChannelSecrets,
    private readonly events: ChannelEvents,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runtime: ChannelsRuntime,
    @InjectQueue(QueueName.Channels) private readonly queue: Queue<ChannelQuotaExhaustedJob>,
  ) {}

  async list(query: ChannelListQuery): Promise<ChannelPage> {
    const { page, pageSize, offset } = pageOf(query);
    const { rows, keys, costs, total } = await this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('read', CHANNEL, {});
      const [rows, total] = await this.repository.list(m, { status: query.status, provider: query.provider, q: query.q?.trim() || undefined, model: query.model?.trim() || undefined }, offset, pageSize);
      const ids = rows.map((r) => r.id);
      const [keys, costs] = await Promise.all([this.repository.keysOf(m, ids), this.repository.costsOf(m, ids)]);
      return { rows, keys, costs, total };
    });
    const live = await Promise.all(rows.map((r) => this.live(r)));
    return { items: rows.map((r, i) => channelView(r, keys, costs, live[i])), page, pageSize, total };
  }

  async get(id: string): Promise<ChannelView> {
    const { row, keys, costs } = await this.tenantDb.forRequest(async (m) => {
      const row = await this.visible(m, id);
      const [keys, costs] = await Promise.all([this.repository.keysOf(m, [row.id]), this.repository.costsOf(m, [row.id])]);
      return { row, keys, costs };
    });
    return channelView(row, keys, costs, await this.live(row));
  }

  /** This instance's breaker and the limits' counters (Redis; read only for channels with limits, and never fatal). */
  private async live(row: ChannelRow): Promise<ChannelLive> {
    const limited = row.rpmLimit !== null || row.tpmLimit !== null || row.dailySpendCapUnits !== null;
    const usage = limited ? await this.runtime.limitsUsage(row.id).catch(() => null) : null;
    return { breaker: this.runtime.breakerState(row.id), usage };
  }

  /**
   * Reads the channel's account balance from its upstream now (presets whose service reports one)
   * and stores it. A balance of zero, or the upstream's insufficient-quota answer, marks the
   * channel quota-exhausted through the worker (the same path as the proxy's: one event).
   */
  async refreshBalance(id: string): Promise<ChannelView> {
    const { row, apiKey } = await this.usableKey(id);
    if (!presetById(row.settings?.preset)?.balance) throw channelError(ChannelErrorCode.NoBalance);
    const reading = (await readChannelBalance(row, apiKey, { allowPrivateNetworks: this.config.CHANNEL_ALLOW_PRIVATE_NETWORKS }))!;
    await this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('update', CHANNEL, {});
      await this.repository.setBalance(m, id, reading.balance, reading.error);
    });
    if (row.status === 'enabled' && (reading.exhausted || (reading.balance && balanceExhausted(reading.balance)))) {
      const reason = reading.balance ? `the upstream reports a balance of ${reading.balance.amount} ${reading.balance.currency}` : `the upstream reports its account out of quota`;
      await this.queue.add(ChannelsJob.QuotaExhausted, { channelId: id, upstreamStatus: null, reason }, { jobId: `quota-exhausted-${id}`, removeOnComplete: true, removeOnFail: 100 });
    }
    return this.get(id);
  }

  async create(input: CreateChannelRequest): Promise<ChannelView> {
    const view = await this.tenantDb.forRequest(async (m) => {
      this.auth.assertCan('create', CHANNEL, {});
      if (await this.repository.nameTaken(m, input.name)) throw channelError(ChannelErrorCode.NameTaken);
      const providerSettings = settingsFor(input.provider, input.settings);
      checkKeys(input.provider, input.keys);
      const id = uuidv7();
      const settings: ChannelSettings = {
        name: input.name,
        provider: input.provider,
        baseUrl: input.baseUrl,
        models: (input.models ?? DEFAULTS.models).map((x) => ({ public: x.public, upstream: x.upstream ?? null })),
        priority: input.priority ?? DEFAULTS.priority,
        weight: input.weight ?? DEFAULTS.weight,
        pool: input.pool ?? DEFAULTS.pool,
        connectTimeoutMs: input.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
        firstByteTimeoutMs: input.firstByteTimeoutMs ?? DEFAULTS.firstByteTimeoutMs,
        totalTimeoutMs: input.totalTimeoutMs ?? DEFAULTS.totalTimeoutMs,
        retryBudget: input.retryBudget ?? DEFAULTS.retryBudget,
        settings: providerSettings,
        rpmLimit: input.rpmLimit ?? null,
        tpmLimit: input.tpmLimit ?? null,
        dailySpendCapUnits: input.dailySpendCap === undefined || input.dailySpendCap === null ? null : toUnits(input.dailySpendCap).toString(),
      };
      await this.repository.insert(m, id, settings).catch(conflictOf);
      for (const key of [...new Set(input.keys)]) await this.repository.addKey(m, { id: uuidv7(), channelId: id, ciphertext: this.secrets.seal(id, key), last4: last4(key) });
      if (input.costs) await this.repository.replaceCosts(m, id, costsOf(input.costs));
      const row = (await this.repository.findById(m, id))!;
      const [keys, costs] = await Promise.all([this.repository.keysOf(m, [id]), this.repository.costsOf(m, [id])]);
      await this.audit.record(m, { tenantId: this.auth.principal.tenantId, action: 'channel.created', subjectType: CHANNEL, subjectId: id, after: auditedChannel(row, keys, costs) });
      return channelView(row, keys, costs);
    });
    await this.events.changed(view.id);
    return view;
  }

  async update(id: string, input: UpdateChannelRequest): Promise<ChannelView> {
    const view = await this.tenantDb.forRequest(async (m) => {
      const row = await this.visible(m, id, true);
      this.auth.assertCan('update', CHANNEL, {});
      const [keysBefore, costsBefore] = await Promise.all([this.repository.keysOf(m, [id]), this.repository.costsOf(m, [id])]);
      const before = auditedChannel(row, keysBefore, costsBefore);
      if (input.name !== undefined && (await this.repository.nameTaken(m, input.name, id))) throw channelError(ChannelErrorCode.NameTaken);
      const known = new Set(keysBefore.map((k) => k.id));
      for (const keyId of [...(input.removeKeys ?? []), ...(input.enableKeys ?? [])]) {
        if (!known.has(keyId)) throw channelError(ChannelErrorCode.UnknownKey, `There is no key ${keyId} on this channel.`);
      }
      const remaining = keysBefore.length - new Set(input.removeKeys ?? []).size + (input.addKeys?.length ?? 0);
      if (remaining < 1) throw channelError(ChannelErrorCode.LastKey);
      const providerSettings = input.settings ? settingsFor(row.provider, input.settings) : undefined;
      checkKeys(row.provider, input.addKeys ?? []);
      await this.repository
        .update(m, id, {
          name: input.name,
          baseUrl: input.baseUrl,
          models: input.models?.map((x) => ({ public: x.public, upstream: x.upstream ?? null })),
          priority: input.priority,
          weight: input.weight,
          pool: input.pool,
          connectTimeoutMs: input.connectTimeoutMs,
          firstByteTimeoutMs: input.firstByteTimeoutMs,
          totalTimeoutMs: input.totalTimeoutMs,
          retryBudget: input.retryBudget,
          settings: providerSettings,
          rpmLimit: input.rpmLimit,
          tpmLimit: input.tpmLimit,
          dailySpendCapUnits: input.dailySpendCap === undefined ? undefined : input.dailySpendCap === null ? null : toUnits(input.dailySpendCap).toString(),
        })
        .catch(conflictOf);
      for (const keyId of new Set(input.removeKeys ?? [])) await this.repository.removeKey(m, id, keyId);
      for (const keyId of new Set(input.enableKeys ?? [])) await this.repository.setKeyStatus(m, id, keyId, 'active', null);
      for (const key of [...new Set(input.addKeys ?? [])]) await this.repository.addKey(m, { id: uuidv7(), channelId: id, ciphertext: this.secrets.seal(id, key), last4: last4(key) });
      if (input.costs) await this.repository.replaceCosts(m, id, costsOf(input.costs));
      const updated = (await this.repository.findById(m, id))!;
      const [keys, costs] = await Promise.all([this.repository.keysOf(m, [id]), this.repository.costsOf(m, [id])]);
      await this.audit.record(m, { tenantId: this.auth.principal.tenantId, action: 'channel.updated', subjectType: CHANNEL, subjectId: id, before, after: auditedChannel(updated, keys, costs) });
      return channelView(updated, keys, costs);
    });
    await this.events.changed(id);
    return view;
  }

  async setStatus(id: string, status: 'enabled' | 'disabled'): Promise<ChannelView> {
    const view = await this.tenantDb.forRequest(async (m) => {
      const row = await this.visible(m, id, true);
      this.auth.assertCan(status === 'enabled' ? 'enable' : 'disable', CHANNEL, {});
      const [keys, costs] = await Promise.all([this.repository.keysOf(m, [id]), this.repository.costsOf(m, [id])]);
      const before = auditedChannel(row, keys, costs);
      await this.repository.setStatus(m, id, status, status === 'disabled' ? 'disabled by an administrator' : null);
      const updated = (await this.repository.findById(m, id))!;
      await this.audit.record(m, {
        tenantId: this.auth.principal.tenantId,
        action: status === 'enabled' ? 'channel.enabled' : 'channel.disabled',
        subjectType: CHANNEL,
        subjectId: id,
        before,
        after: auditedChannel(updated, keys, costs),
      });
      return channelView(updated, keys, costs);
    });
    await this.events.changed(id);
    return view;
  }

  async remove(id: string): Promise<void> {
    await this.tenantDb.forRequest(async (m) => {
      const row = await this.visible(m, id, true);
      this.auth.assertCan('delete', CHANNEL, {});
      const [keys, costs] = await Promise.all([this.repository.keysOf(m, [id]), this.repository.costsOf(m, [id])]);
      await this.repository.delete(m, id);
      await this.audit.record(m, { tenantId: this.auth.principal.tenantId, action: 'channel.deleted', subjectType: CHANNEL, subjectId: id, before: auditedChannel(row, keys, costs) });
    });
    await this.events.changed(id);
  }

  /**
   * Reads the upstream's own model list with the channel's first usable key and proposes mappings
   * for the models the channel does not route yet; changes nothing (the proposal is applied with
   * PATCH). 400 for upstreams without a list the gateway reads, 502 when the upstream fails.
   */
  async syncModels(id: string): Promise<ChannelModelSync> {
    const { row, apiKey } = await this.usableKey(id);
    const request = modelListRequest(row.provider, { baseUrl: row.baseUrl, apiKey, settings: row.settings });
    if (!request) throw channelError(ChannelErrorCode.NoModelList);
    const allowPrivateNetworks = this.config.CHANNEL_ALLOW_PRIVATE_NETWORKS;
    const agent = createUpstreamAgent({ connectTimeoutMs: row.connectTimeoutMs, allowPrivateNetworks, connections: 1 });
    let upstreamModels: string[];
    try {
      const timeoutMs = Math.min(row.totalTimeoutMs, 15_000);
      const response = await sendUpstream(agent, request, { firstByteMs: Math.min(row.firstByteTimeoutMs, timeoutMs), totalMs: timeoutMs, allowPrivateNetworks });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > 8 * 1024 * 1024) throw new UpstreamError('protocol', 502, { error: { message: 'The model list is too large.', type: 'api_error', param: null, code: null } });
        chunks.push(chunk);
      }
      response.done();
      const text = Buffer.concat(chunks).toString('utf8');
      if (response.status < 200 || response.status >= 300) throw mapUpstreamHttpError(response.status, text, [apiKey]);
      upstreamModels = parseModelList(row.provider, text);
    } catch (error) {
      if (error instanceof UpstreamError) throw channelError(ChannelErrorCode.ModelListFailed, error.body.error.message);
      throw error;
    } finally {
      await agent.close();
    }
    const routed = row.models.map((m) => m.upstream || m.public);
    const covers = (pattern: string, model: string) =>
      pattern.includes('*') ? new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(model) : pattern === model;
    const listed = new Set(upstreamModels);
    return {
      upstreamModels,
      proposed: upstreamModels.filter((model) => !routed.some((pattern) => covers(pattern, model))).map((model) => ({ public: model, upstream: null })),
      missing: routed.filter((name) => !name.includes('*') && !listed.has(name)),
    };
  }

  /** One health check now, with the channel's first usable key; changes nothing. */
  async test(id: string, input: TestChannelRequest = {}): Promise<ChannelTestResult> {
    const { row, apiKey } = await this.usableKey(id);
    const upstreamModel = input.model ?? probeModelOf(row.models);
    if (!upstreamModel) throw channelError(ChannelErrorCode.NoProbeModel);
    return probeChannel(
      { provider: row.provider, baseUrl: row.baseUrl, apiKey, upstreamModel, settings: row.settings, connectTimeoutMs: row.connectTimeoutMs, firstByteTimeoutMs: row.firstByteTimeoutMs, totalTimeoutMs: row.totalTimeoutMs },
      { allowPrivateNetworks: this.config.CHANNEL_ALLOW_PRIVATE_NETWORKS },
    );
  }

  /** The channel (if the caller may change it) and its first usable key, in clear. */
  private usableKey(id: string): Promise<{ row: ChannelRow; apiKey: string }> {
    return this.tenantDb.forRequest(async (m) => {
      const row = await this.visible(m, id);
      this.auth.assertCan('update', CHANNEL, {});
      const key = (await this.repository.keysOf(m, [id])).find((k) => k.status === 'active');
      if (!key) throw channelError(ChannelErrorCode.NoUsableKey);
      try {
        return { row, apiKey: this.secrets.open(id, key.ciphertext) };
      } catch (error) {
        if (error instanceof SecretBoxError) throw channelError(ChannelErrorCode.KeyUnreadable);
        throw error;
      }
    });
  }

  /** The OpenAI-compatible services a channel may name as its preset, with base URLs and quirks. */
  presets(): ChannelPresetView[] {
    this.auth.assertCan('read', CHANNEL, {});
    return CHANNEL_PRESETS.map((p) => ({
      id: p.id,
      label: p.label,
      provider: p.provider,
      baseUrl: p.baseUrl,
      alternativeBaseUrls: p.alternativeBaseUrls,
      listsModels: p.listsModels,
      reportsBalance: Boolean(p.balance),
      notes: p.notes,
    }));
  }

  private async view(m: EntityManager, row: ChannelRow): Promise<ChannelView> {
    const [keys, costs] = await Promise.all([this.repository.keysOf(m, [row.id]), this.repository.costsOf(m, [row.id])]);
    return channelView(row, keys, costs);
  }

  /** The channel if the caller may read it; otherwise 404, as for one that does not exist. */
  private async visible(m: EntityManager, id: string, lock = false): Promise<ChannelRow> {
    if (!this.auth.ability.can('read', CHANNEL)) throw AppException.notFound(CHANNEL);
    const row = await this.repository.findById(m, id, { lock });
    if (!row) throw AppException.notFound(CHANNEL);
    return row;
  }
}
