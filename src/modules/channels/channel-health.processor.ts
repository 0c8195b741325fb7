import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { CHANNEL_METRIC, ChannelLabels, probeChannel, probeModelOf, ProbeResult, SecretBoxError } from '@app/providers';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Gauge } from 'prom-client';
import { ChannelKeyRejectedJob, ChannelQuotaExhaustedJob, ChannelsJob, QueueName } from '@app/queue';
import { balanceExhausted } from '@app/providers';
import { trimDecimal } from '@app/money';
import { WebhookOutbox } from '../webhooks/webhook-outbox';
import { readChannelBalance } from './channel-balance';
import { SystemDb } from '@app/tenancy';
import { Job, Queue } from 'bullmq';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { auditDiff } from '../audit/audit-diff';
import { ChannelEvents } from './channel-events';
import { ChannelSecrets } from './channel-secrets';
import { CHANNEL } from './channels.permissions';
import { ChannelRow, ChannelsRepository } from './channels.repository';
import { auditedChannel } from './channels.service';

export interface HealthCheckSummary {
  checked: number;
  autoDisabled: string[];
  reEnabled: string[];
}

/**
 * Channel health in the worker: every CHANNEL_HEALTH_INTERVAL_SECONDS (a BullMQ job scheduler, one
 * schedule however many workers run) each channel not disabled by hand gets one tiny real request.
 * After CHANNEL_AUTO_DISABLE_AFTER failures in a row an enabled channel is auto-disabled with the
 * reason; an auto-disabled one that answers again is re-enabled. It also disables keys the api
 * reports as refused by their upstream. Both changes are audited (actor: nobody, the system) and
 * announced to every api instance.
 */
@Processor(QueueName.Channels)
export class ChannelHealthProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(ChannelHealthProcessor.name);

  constructor(
    @InjectQueue(QueueName.Channels) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly systemDb: SystemDb,
    private readonly repository: ChannelsRepository,
    private readonly secrets: ChannelSecrets,
    private readonly events: ChannelEvents,
    @InjectMetric(CHANNEL_METRIC.up) private readonly channelUp: Gauge<ChannelLabels>,
    private readonly outbox: WebhookOutbox,
  ) {
    super();
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(
      ChannelsJob.HealthCheck,
      { every: this.config.CHANNEL_HEALTH_INTERVAL_SECONDS * 1000 },
      { name: ChannelsJob.HealthCheck, opts: { removeOnComplete: 100, removeOnFail: 100, attempts: 1 } },
    );
  }

  async process(job: Job): Promise<unknown> {
    switch (job.name) {
      case ChannelsJob.HealthCheck:
        return this.checkAll();
      case ChannelsJob.KeyRejected:
        return this.disableKey(job.data as ChannelKeyRejectedJob);
      case ChannelsJob.QuotaExhausted:
        return this.quotaExhausted(job.data as ChannelQuotaExhaustedJob);
      default:
        throw new Error(`unknown channels job ${job.name}`);
    }
  }

  /**
   * Checks every channel that is enabled or auto-disabled, in parallel (a quota-exhausted one waits
   * for an operator), and reads the balance of those whose service reports one.
   */
  async checkAll(): Promise<HealthCheckSummary> {
    const { rows, keys } = await this.systemDb.run(async (m) => ({ rows: await this.repository.all(m), keys: await this.repository.allKeys(m) }));
    const summary: HealthCheckSummary = { checked: 0, autoDisabled: [], reEnabled: [] };
    await Promise.all(
      rows
        .filter((row) => row.status === 'enabled' || row.status === 'auto_disabled')
        .map(async (row) => {
          const ciphertexts = keys.filter((k) => k.channelId === row.id && k.status === 'active').map((k) => k.ciphertext);
          await this.checkBalance(row, ciphertexts);
          const result = await this.probe(row, ciphertexts);
          summary.checked += 1;
          this.channelUp.set({ channel_id: row.id, channel: row.name }, result.ok ? 1 : 0);
          const change = await this.record(row.id, result);
          if (change === 'auto_disabled') summary.autoDisabled.push(row.id);
          if (change === 'enabled') summary.reEnabled.push(row.id);
        }),
    );
    return summary;
  }

  private async probe(row: ChannelRow, ciphertexts: string[]): Promise<ProbeResult> {
    const model = probeModelOf(row.models);
    if (!model) return { ok: false, latencyMs: 0, upstreamStatus: null, errorKind: 'config', error: 'no concrete model to test with' };
    if (!ciphertexts.length) return { ok: false, latencyMs: 0, upstreamStatus: null, errorKind: 'config', error: 'every key is disabled' };
    let apiKey: string;
    try {
      apiKey = this.secrets.open(row.id, ciphertexts[0]);
    } catch (error) {
      if (!(error instanceof SecretBoxError)) throw error;
      return { ok: false, latencyMs: 0, upstreamStatus: null, errorKind: 'config', error: 'the key cannot be decrypted with CHANNEL_ENCRYPTION_KEYS' };
    }
    return probeChannel(
      { provider: row.provider, baseUrl: row.baseUrl, apiKey, upstreamModel: model, settings: row.settings, connectTimeoutMs: row.connectTimeoutMs, firstByteTimeoutMs: row.firstByteTimeoutMs, totalTimeoutMs: row.totalTimeoutMs },
      { allowPrivateNetworks: this.config.CHANNEL_ALLOW_PRIVATE_NETWORKS, timeoutMs: Math.max(1000, this.config.CHANNEL_HEALTH_INTERVAL_SECONDS * 500) },
    );
  }

  /** Stores the check; returns the status change it caused, if any. */
  private async record(channelId: string, result: ProbeResult): Promise<'auto_disabled' | 'enabled' | null> {
    const change = await this.systemDb.run(async (m) => {
      const row = await this.repository.findById(m, channelId, { lock: true });
      if (!row) return null;
      const failures = await this.repository.recordCheck(m, channelId, { ok: result.ok, latencyMs: result.latencyMs, error: result.error });
      let next: 'auto_disabled' | 'enabled' | null = null;
      if (!result.ok && row.status === 'enabled' && failures >= this.config.CHANNEL_AUTO_DISABLE_AFTER) next = 'auto_disabled';
      if (result.ok && row.status === 'auto_disabled') next = 'enabled';
      if (!next) return null;
      const reason = next === 'auto_disabled' ? `health check failed ${failures} times in a row: ${result.error ?? 'unknown error'}` : null;
      await this.audited(m, row, next === 'auto_disabled' ? 'channel.auto_disabled' : 'channel.auto_enabled', () => this.repository.setStatus(m, channelId, next!, reason));
      return next;
    });
    if (change) {
      this.logger.warn({ channelId, status: change, error: result.error }, change === 'auto_disabled' ? 'channel auto-disabled' : 'channel recovered and re-enabled');
      await this.events.changed(channelId);
    }
    return change;
  }

  /** Stores the balance of a channel whose service reports one; an empty account marks the channel quota-exhausted. */
  private async checkBalance(row: ChannelRow, ciphertexts: string[]): Promise<void> {
    if (!ciphertexts.length) return;
    let apiKey: string;
    try {
      apiKey = this.secrets.open(row.id, ciphertexts[0]);
    } catch {
      return;
    }
    const reading = await readChannelBalance(row, apiKey, { allowPrivateNetworks: this.config.CHANNEL_ALLOW_PRIVATE_NETWORKS, timeoutMs: Math.max(1000, this.config.CHANNEL_HEALTH_INTERVAL_SECONDS * 500) });
    if (!reading) return;
    await this.systemDb.run((m) => this.repository.setBalance(m, row.id, reading.balance, reading.error));
    if (row.status === 'enabled' && (reading.exhausted || (reading.balance && balanceExhausted(reading.balance)))) {
      const reason = reading.balance ? `the upstream reports a balance of ${reading.balance.amount} ${reading.balance.currency}` : 'the upstream reports its account out of quota';
      await this.quotaExhausted({ channelId: row.id, upstreamStatus: null, reason });
    }
  }

  /**
   * Marks a channel whose upstream account ran out as quota-exhausted, with the reason, and
   * publishes `provider.quota_exhausted` to the platform in the same transaction. Only a channel
   * still enabled changes: one event per exhaustion however many requests (on however many api
   * instances) saw it; enabling the channel again starts the next one.
   */
  async quotaExhausted(job: ChannelQuotaExhaustedJob): Promise<boolean> {
    const changed = await this.systemDb.run(async (m) => {
      const row = await this.repository.findById(m, job.channelId, { lock: true });
      if (!row || row.status !== 'enabled') return false;
      const reason = `quota exhausted: ${job.reason}`.slice(0, 500);
      await this.audited(m, row, 'channel.quota_exhausted', () => this.repository.setStatus(m, row.id, 'quota_exhausted', reason));
      const tenantId = await this.repository.platformTenantId(m);
      if (tenantId) {
        await this.outbox.publish(m, tenantId, 'provider.quota_exhausted', {
          channel: { id: row.id, name: row.name, provider: row.provider, preset: row.settings?.preset ?? null },
          reason,
          upstreamStatus: job.upstreamStatus,
          balance: row.balance === null ? null : { amount: trimDecimal(row.balance), currency: row.balanceCurrency },
        });
      }
      return true;
    });
    if (changed) {
      this.logger.warn({ channelId: job.channelId, reason: job.reason }, 'channel marked quota-exhausted');
      await this.events.changed(job.channelId);
    }
    return changed;
  }

  async disableKey(job: ChannelKeyRejectedJob): Promise<boolean> {
    const changed = await this.systemDb.run(async (m) => {
      const row = await this.repository.findById(m, job.channelId, { lock: true });
      if (!row) return false;
      let changed = false;
      await this.audited(m, row, 'channel.key_auto_disabled', async () => {
        changed = await this.repository.setKeyStatus(m, job.channelId, job.keyId, 'disabled', `the upstream answered ${job.upstreamStatus}`);
      });
      return changed;
    });
    if (changed) await this.events.changed(job.channelId);
    return changed;
  }

  /** Runs `change` and writes the audit entry (in the platform tenant, actor: the system) in the same transaction. */
  private async audited(m: EntityManager, row: ChannelRow, action: string, change: () => Promise<unknown>): Promise<void> {
    const [keysBefore, costs] = await Promise.all([this.repository.keysOf(m, [row.id]), this.repository.costsOf(m, [row.id])]);
    const before = auditedChannel(row, keysBefore, costs);
    await change();
    const after = auditedChannel((await this.repository.findById(m, row.id))!, await this.repository.keysOf(m, [row.id]), costs);
    const diff = auditDiff(before, after);
    if (!Object.keys(diff).length) return;
    const tenantId = await this.repository.platformTenantId(m);
    if (!tenantId) return;
    await this.repository.insertSystemAudit(m, { id: uuidv7(), tenantId, action, subjectType: CHANNEL, subjectId: row.id, changes: diff });
  }
}
