import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { billingKeys, decodeUsageEvent, METERING_GROUP, USAGE_EVENT_FIELD, UsageEvent } from '@app/billing';
import { AppConfig, APP_CONFIG } from '@app/config';
import { METRIC } from '@app/observability';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { RedisConnections } from '@app/redis';
import { SystemDb } from '@app/tenancy';
import Redis from 'ioredis';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { UnknownTenantError, UsageWriter } from './usage-writer';

type StreamEntry = [id: string, fields: string[]];

interface Decoded {
  id: string;
  raw: string;
  event: UsageEvent;
}

/** How long a loop waits when no stream had anything for it. */
const IDLE_POLL_MS = 100;
/** After an error (Redis or PostgreSQL away), wait this long before the next pass. */
const ERROR_BACKOFF_MS = 1000;

/**
 * The metering processor: a consumer group (`metering`) on every tenant's usage stream.
 *
 * Why a Redis Stream and not BullMQ jobs (the lead's design decision): the proxy's settle step is
 * one Lua script that debits the balance AND appends the usage event, atomically, so that a crash
 * can never separate a charge from its record (DESIGN.md "How it stays fast"). BullMQ's `add` is
 * its own script and cannot be joined to ours; an XADD inside our script can. A consumer group
 * then gives what BullMQ would: at-least-once delivery, a pending list per consumer, redelivery
 * of a crashed worker's entries (XAUTOCLAIM after an idle time) and a delivery count. BullMQ is
 * still used for the scheduled jobs (partitions, retention, rollups, reconciliation, holds).
 *
 * Each pass reads a batch per tenant (XREADGROUP, COUNT = METERING_BATCH_SIZE), writes it in ONE
 * PostgreSQL transaction (UsageWriter: exactly once by unique keys), and only after the commit
 * acknowledges and deletes the entries (XACK + XDEL in one MULTI; the stream then only holds what
 * is not metered yet, which reconciliation relies on). A crash between commit and XACK only
 * means a redelivery, which the unique keys turn into a no-op.
 *
 * Poison events never block those behind them: an entry that cannot be decoded goes straight to
 * the tenant's dead-letter stream; when a batch fails it is retried event by event, and an event
 * that fails alone with a data error (or has been delivered METERING_MAX_DELIVERIES times) goes to
 * the dead-letter stream with a metric (alert AIGatewayMeteringDeadLetters). Other failures
 * (PostgreSQL away) leave the entries pending for a later retry.
 *
 * Shutdown: `onModuleDestroy` (before the database and Redis connections close) asks the loops to
 * stop and waits for them; a loop only stops between batches, so a batch is always committed and
 * acknowledged, or not written at all and redelivered.
 */
@Injectable()
export class MeteringConsumer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(MeteringConsumer.name);
  private readonly consumerBase = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private redis!: Redis;
  private tenants: string[] = [];
  private readonly knownStreams = new Set<string>();
  private tenantsReadAt = 0;
  private claimedAt = 0;
  private stopping = false;
  private loops: Promise<void>[] = [];
  private wake?: () => void;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly connections: RedisConnections,
    private readonly systemDb: SystemDb,
    private readonly writer: UsageWriter,
    @InjectMetric(METRIC.meteringEventsTotal) private readonly meteringEventsTotal: Counter<'outcome'>,
    @InjectMetric(METRIC.meteringBatchDuration) private readonly meteringBatchDuration: Histogram,
    @InjectMetric(METRIC.meteringBacklog) private readonly meteringBacklog: Gauge,
    @InjectMetric(METRIC.meteringDeadLetters) private readonly meteringDeadLetters: Gauge,
  ) {
    // Every outcome is exported from the start, at 0, so rates and alerts have a series.
    for (const outcome of ['written', 'duplicate', 'dead_letter']) meteringEventsTotal.inc({ outcome }, 0);
  }

  onApplicationBootstrap(): void {
    if (!this.config.METERING_ENABLED) return;
    this.redis = this.connections.open('metering');
    this.loops = Array.from({ length: this.config.METERING_CONCURRENCY }, (_, i) => this.loop(`${this.consumerBase}-${i}`));
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await Promise.all(this.loops);
  }

  /** Re-reads the tenants now (tests and the bench, which create tenants while the worker runs). */
  async refreshTenants(): Promise<void> {
    const rows: Array<{ id: string }> = await this.systemDb.run((m) => m.query(`SELECT id FROM tenants ORDER BY id`));
    for (const { id } of rows) {
      const stream = billingKeys.usageStream(id);
      if (this.knownStreams.has(stream)) continue;
      // From 0, not $: events the proxy appended before the group existed are metered too.
      await this.redis.xgroup('CREATE', stream, METERING_GROUP, '0', 'MKSTREAM').catch((error: Error) => {
        if (!/BUSYGROUP/.test(error.message)) throw error;
      });
      this.knownStreams.add(stream);
    }
    this.tenants = rows.map((r) => r.id);
    this.tenantsReadAt = Date.now();
  }

  private async loop(consumer: string): Promise<void> {
    while (!this.stopping) {
      if (this.redis.status !== 'ready') {
        // Connecting, or Redis is away: readiness reports it; try again shortly.
        await this.sleep(IDLE_POLL_MS);
        continue;
      }
      try {
        if (Date.now() - this.tenantsReadAt > this.config.METERING_TENANT_REFRESH_MS) await this.refreshTenants();
        let handled = 0;
        if (Date.now() - this.claimedAt > Math.min(this.config.METERING_CLAIM_IDLE_MS / 2, 10_000)) {
          this.claimedAt = Date.now();
          handled += await this.reclaim(consumer);
        }
        handled += await this.readNew(consumer);
        // Nothing: poll again shortly. A partial batch: let events gather for a moment, so that
        // at moderate rates a transaction carries many events instead of one or two (the cost of
        // a batch is mostly per transaction, not per event).
        if (handled === 0) await this.sleep(IDLE_POLL_MS);
        else if (handled < this.config.METERING_BATCH_SIZE && this.config.METERING_LINGER_MS > 0) await this.sleep(this.config.METERING_LINGER_MS);
      } catch (error) {
        this.logger.warn(`metering pass failed, retrying: ${(error as Error).message}`);
        await this.sleep(ERROR_BACKOFF_MS);
      }
    }
  }

  /** One XREADGROUP per tenant (sent together over one connection), then each tenant's batch in turn. */
  private async readNew(consumer: string): Promise<number> {
    const tenants = this.tenants;
    const replies = await Promise.all(
      tenants.map(
        (t) =>
          this.redis.xreadgroup('GROUP', METERING_GROUP, consumer, 'COUNT', this.config.METERING_BATCH_SIZE, 'STREAMS', billingKeys.usageStream(t), '>') as Promise<
            Array<[string, StreamEntry[]]> | null
          >,
      ),
    );
    let handled = 0;
    for (let i = 0; i < tenants.length; i++) {
      const entries = replies[i]?.[0]?.[1] ?? [];
      if (entries.length === 0) continue;
      // Entries already read are pending on this consumer: the batch is finished even when
      // stopping, so nothing read is left for a reclaim after the idle time.
      await this.handleBatch(tenants[i], entries);
      handled += entries.length;
    }
    return handled;
  }

  /**
   * Takes over entries pending for longer than METERING_CLAIM_IDLE_MS (a worker that crashed, or a
   * batch left pending after a failure), and dead-letters those delivered too often. Also refreshes
   * the backlog and dead-letter gauges.
   */
  private async reclaim(consumer: string): Promise<number> {
    let handled = 0;
    let backlog = 0;
    let dead = 0;
    for (const tenantId of this.tenants) {
      if (this.stopping) break;
      const stream = billingKeys.usageStream(tenantId);
      const [, claimed] = (await this.redis.xautoclaim(
        stream,
        METERING_GROUP,
        consumer,
        this.config.METERING_CLAIM_IDLE_MS,
        '0-0',
        'COUNT',
        this.config.METERING_BATCH_SIZE,
      )) as [string, Array<StreamEntry | null>];
      const entries = claimed.filter((e): e is StreamEntry => Array.isArray(e) && Array.isArray(e[1]));
      if (entries.length > 0) {
        const pending = (await this.redis.xpending(stream, METERING_GROUP, entries[0][0], entries[entries.length - 1][0], entries.length)) as Array<
          [string, string, number, number]
        >;
        const deliveries = new Map(pending.map(([id, , , count]) => [id, Number(count)]));
        const tooOften = entries.filter(([id]) => (deliveries.get(id) ?? 0) > this.config.METERING_MAX_DELIVERIES);
        for (const [id, fields] of tooOften) await this.deadLetter(tenantId, id, fieldOf(fields), 'max_deliveries');
        const rest = entries.filter(([id]) => (deliveries.get(id) ?? 0) <= this.config.METERING_MAX_DELIVERIES);
        if (rest.length > 0) await this.handleBatch(tenantId, rest);
        handled += entries.length;
      }
      const [length, deadLength] = await Promise.all([this.redis.xlen(stream), this.redis.xlen(billingKeys.deadLetters(tenantId))]);
      backlog += length;
      dead += deadLength;
    }
    this.meteringBacklog.set(backlog);
    this.meteringDeadLetters.set(dead);
    return handled;
  }

  private async handleBatch(tenantId: string, entries: StreamEntry[]): Promise<void> {
    const decoded: Decoded[] = [];
    for (const [id, fields] of entries) {
      const raw = fieldOf(fields);
      try {
        const event = decodeUsageEvent(raw ?? '');
        if (event.tenantId !== tenantId) throw new Error('event of another tenant');
        decoded.push({ id, raw: raw!, event });
      } catch (error) {
        await this.deadLetter(tenantId, id, raw, `undecodable: ${(error as Error).message}`);
      }
    }
    if (decoded.length === 0) return;
    try {
      await this.write(tenantId, decoded);
    } catch (error) {
      if (decoded.length === 1) return this.failed(tenantId, decoded[0], error as Error);
      // Isolate the event that fails: retry one by one, so the others are metered now.
      this.logger.warn(`metering batch of ${decoded.length} failed (${(error as Error).message}); retrying event by event`);
      for (const entry of decoded) {
        try {
          await this.write(tenantId, [entry]);
        } catch (single) {
          await this.failed(tenantId, entry, single as Error);
        }
      }
    }
  }

  private async write(tenantId: string, batch: Decoded[]): Promise<void> {
    const stop = this.meteringBatchDuration.startTimer();
    const result = await this.writer.write(
      tenantId,
      batch.map((d) => d.event),
    );
    stop();
    // After the commit: acknowledge and drop the entries (a failure here means a harmless redelivery).
    const ids = batch.map((d) => d.id);
    const stream = billingKeys.usageStream(tenantId);
    await this.redis.multi().xack(stream, METERING_GROUP, ...ids).xdel(stream, ...ids).exec();
    this.meteringEventsTotal.inc({ outcome: 'written' }, result.written);
    this.meteringEventsTotal.inc({ outcome: 'duplicate' }, result.duplicates);
  }

  private async failed(tenantId: string, entry: Decoded, error: Error): Promise<void> {
    if (isPermanent(error)) return this.deadLetter(tenantId, entry.id, entry.raw, `rejected: ${error.message}`);
    // Left pending: reclaimed after METERING_CLAIM_IDLE_MS, dead-lettered after too many deliveries.
    this.logger.warn(`usage event ${entry.event.requestId} not metered yet: ${error.message}`);
    throw error;
  }

  /** Moves an entry to the tenant's dead-letter stream and drops it from the usage stream, atomically. */
  private async deadLetter(tenantId: string, id: string, raw: string | undefined, reason: string): Promise<void> {
    const stream = billingKeys.usageStream(tenantId);
    await this.redis
      .multi()
      .xadd(billingKeys.deadLetters(tenantId), '*', USAGE_EVENT_FIELD, raw ?? '', 'source_id', id, 'reason', reason.slice(0, 500), 'at', String(Date.now()))
      .xack(stream, METERING_GROUP, id)
      .xdel(stream, id)
      .exec();
    this.meteringEventsTotal.inc({ outcome: 'dead_letter' });
    this.logger.error({ tenantId, entryId: id, reason }, 'usage event moved to the dead-letter stream');
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const previous = this.wake;
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        done();
        previous?.();
      };
    });
  }
}

function fieldOf(fields: string[]): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === USAGE_EVENT_FIELD) return fields[i + 1];
  return undefined;
}

/** Errors that retrying cannot fix: the event's data (PostgreSQL classes 22 and 23), or its tenant does not exist. */
function isPermanent(error: Error): boolean {
  if (error instanceof UnknownTenantError) return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23)/.test(code);
}
