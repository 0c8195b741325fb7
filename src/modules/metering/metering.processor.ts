import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { billingKeys, decodeUsageEvent, METERING_GROUP, USAGE_EVENT_FIELD, UsageEvent } from '@app/billing';
import { AppConfig, APP_CONFIG } from '@app/config';
import { failSpan, METRIC, runWithTraceLogs, Tracing } from '@app/observability';
import { MeteringDrainJob, MeteringJob, QueueName } from '@app/queue';
import { RedisConnections } from '@app/redis';
import { SystemDb } from '@app/tenancy';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { Job, Queue } from 'bullmq';
import Redis from 'ioredis';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { classifyFailure } from './metering-failures';
import { UsageWriter } from './usage-writer';

type StreamEntry = [id: string, fields: string[]];

interface Decoded {
  id: string;
  raw: string;
  event: UsageEvent;
}

/** A shard job keeps draining while some tenant still has full batches, for at most this long (then the next job goes on). */
const DRAIN_SLICE_MS = 1000;
/** Batches of one tenant in a row before the job turns to the shard's next tenant (fairness). */
const BATCHES_PER_TURN = 4;
/** Back-off of a tenant whose writes meet a database outage: doubles from the first to the last. */
const OUTAGE_BACKOFF_MS = [500, 30_000] as const;
/** How often a tenant's stream lengths are read for the backlog and dead-letter gauges. */
const GAUGE_EVERY_MS = 2000;

/** A database outage met while writing a tenant's batch: its events stay pending. */
class OutageError extends Error {}

/** The shard of a tenant's usage stream (stable across processes and restarts). */
export function shardOf(tenantId: string, shards: number): number {
  return createHash('sha1').update(tenantId).digest().readUInt32BE(0) % shards;
}

/**
 * Metering as BullMQ processors (DESIGN.md "Metering and settlement"). The proxy's settle script
 * appends each usage event to its tenant's Redis stream atomically with the charge (a BullMQ `add`
 * could not be joined to that script); the stream stays the durable inbox. A job scheduler keeps
 * one drain job per shard of those streams (METERING_SHARDS; a tenant's stream belongs to shard
 * `sha1(tenant) mod shards`), so BullMQ's tooling, metrics and the worker's scaling see metering.
 * The schedulers (and the tenants' consumer groups) are asserted again every
 * METERING_TENANT_REFRESH_MS, so metering recovers by itself when Redis lost them (FLUSHDB, a
 * restart without persistence, a failover).
 *
 * A drain job reads its tenants' streams with the consumer group (`metering`; one consumer per
 * worker process): for each tenant, the entries this process read before and could not write yet,
 * entries another worker left pending for METERING_CLAIM_IDLE_MS (it crashed), then new entries,
 * METERING_BATCH_SIZE at a time; each batch is written in ONE PostgreSQL transaction (UsageWriter:
 * exactly once by unique keys, with the stream position of the batch) and only after the commit
 * acknowledged and deleted (XACK + XDEL). Delivery is at least once (a crash between commit and
 * XACK only means a redelivery, which the unique keys turn into a no-op).
 *
 * Failures (see metering-failures.ts):
 * - a database outage (down, read-only, failing over, out of connections, timeouts) is not the
 *   events' fault: they stay pending, the tenant backs off (doubling up to 30 s) and is retried
 *   until PostgreSQL takes them. Outages never dead-letter anything.
 * - each tenant is handled on its own: one tenant's failure never stops the others of the shard.
 * - a batch that fails otherwise is retried event by event; an event that then fails on its own
 *   (its batch-mates were written, or a probe write succeeded) with a data error, or with another
 *   error after METERING_MAX_DELIVERIES deliveries, goes to the tenant's dead-letter stream, with
 *   a metric (alert AIGatewayMeteringDeadLetters). An undecodable entry goes there at once.
 *   Dead letters are replayed with `npm run cli -- metering replay-dead-letters`.
 *
 * Shutdown: BullMQ closes the worker gracefully (the running job finishes); a job stops between
 * batches, so a batch is committed and acknowledged, or not written and redelivered.
 */
@Processor(QueueName.Metering)
export class MeteringProcessor extends WorkerHost implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(MeteringProcessor.name);
  private readonly consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private redis!: Redis;
  private tenants: string[] = [];
  private tenantsReadAt = 0;
  private readonly groups = new Set<string>();
  /** Tenants with entries this consumer read and could not write yet: read them again first. */
  private readonly ownPending = new Set<string>();
  private readonly busy = new Set<string>();
  private readonly backoff = new Map<string, { until: number; ms: number }>();
  private readonly claimedAt = new Map<string, number>();
  private readonly gaugedAt = new Map<string, number>();
  private readonly backlog = new Map<string, number>();
  /** Stream time (ms) of each tenant's oldest unmetered event; metered entries are deleted, so it is the first entry. */
  private readonly oldest = new Map<string, number>();
  private readonly dead = new Map<string, number>();
  private stopping = false;
  private schedulersTimer?: NodeJS.Timeout;
  private reasserting = false;

  constructor(
    @InjectQueue(QueueName.Metering) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly connections: RedisConnections,
    private readonly systemDb: SystemDb,
    private readonly writer: UsageWriter,
    private readonly tracing: Tracing,
    @InjectMetric(METRIC.meteringEventsTotal) private readonly meteringEventsTotal: Counter<'outcome'>,
    @InjectMetric(METRIC.meteringBatchDuration) private readonly meteringBatchDuration: Histogram,
    @InjectMetric(METRIC.meteringBacklog) private readonly meteringBacklog: Gauge,
    @InjectMetric(METRIC.meteringDeadLetters) private readonly meteringDeadLetters: Gauge,
    @InjectMetric(METRIC.meteringLag) private readonly meteringLag: Gauge,
  ) {
    super();
    // Every outcome is exported from the start, at 0, so rates and alerts have a series.
    for (const outcome of ['written', 'duplicate', 'dead_letter']) meteringEventsTotal.inc({ outcome }, 0);
  }

  async onApplicationBootstrap(): Promise<void> {
    this.redis = this.connections.open('metering');
    if (!this.config.METERING_ENABLED) {
      await this.worker.close();
      return;
    }
    this.worker.concurrency = this.config.METERING_CONCURRENCY;
    await this.ensureSchedulers();
    // Schedulers of shards beyond METERING_SHARDS (the setting was lowered) go.
    const shards = this.config.METERING_SHARDS;
    for (const scheduler of await this.queue.getJobSchedulers()) {
      const shard = Number(scheduler.key.split(':').pop());
      if (scheduler.key.startsWith(`${MeteringJob.Drain}:`) && !(shard < shards)) await this.queue.removeJobScheduler(scheduler.key);
    }
    // The schedulers live in Redis: a FLUSHDB, a Redis restart without persistence or a failover
    // to a replica that lagged deletes them, and then no drain job would ever run again until the
    // worker restarts. So they are asserted again every METERING_TENANT_REFRESH_MS (idempotent),
    // from a timer, since no job runs to do it.
    clearInterval(this.schedulersTimer);
    this.schedulersTimer = setInterval(() => void this.reassertSchedulers(), this.config.METERING_TENANT_REFRESH_MS);
    this.schedulersTimer.unref();
  }

  /** One drain job scheduler per shard (an upsert: the same schedulers however often it runs). */
  async ensureSchedulers(): Promise<void> {
    const shards = this.config.METERING_SHARDS;
    for (let shard = 0; shard < shards; shard++) {
      const data: MeteringDrainJob = { shard, shards };
      await this.queue.upsertJobScheduler(
        `${MeteringJob.Drain}:${shard}`,
        { every: Math.max(this.config.METERING_LINGER_MS, 20) },
        { name: MeteringJob.Drain, data, opts: { attempts: 1, removeOnComplete: 100, removeOnFail: 1000 } },
      );
    }
  }

  private async reassertSchedulers(): Promise<void> {
    if (this.reasserting || this.stopping) return;
    this.reasserting = true;
    try {
      await this.ensureSchedulers();
    } catch (error) {
      this.logger.warn(`metering job schedulers not re-asserted (tried again in ${this.config.METERING_TENANT_REFRESH_MS} ms): ${(error as Error).message}`);
    } finally {
      this.reasserting = false;
    }
  }

  onModuleDestroy(): void {
    this.stopping = true;
    clearInterval(this.schedulersTimer);
  }

  /** Re-reads the tenants now (tests and the bench, which create tenants while the worker runs). */
  async refreshTenants(): Promise<void> {
    const rows: Array<{ id: string }> = await this.systemDb.run((m) => m.query(`SELECT id FROM tenants ORDER BY id`));
    for (const { id } of rows) await this.ensureGroup(id);
    this.tenants = rows.map((r) => r.id);
    this.tenantsReadAt = Date.now();
  }

  async process(job: Job<MeteringDrainJob>): Promise<unknown> {
    if (job.name !== MeteringJob.Drain) throw new Error(`unknown metering job ${job.name}`);
    return this.drainShard(job.data.shard, job.data.shards);
  }

  /**
   * One pass over the shard's tenants, again while some tenant had full batches (within
   * DRAIN_SLICE_MS). A scheduler's next job can start while the previous one still runs (on this
   * worker or another): it then takes the shard's other tenants, and workers read different
   * entries of the group, so a busy shard is drained by up to METERING_CONCURRENCY jobs per worker.
   */
  async drainShard(shard: number, shards: number): Promise<{ written: number; failedTenants: number }> {
    if (Date.now() - this.tenantsReadAt > this.config.METERING_TENANT_REFRESH_MS) {
      // During a database outage the tenants known so far are drained (their writes wait anyway);
      // only a worker that never read them has nothing to go on.
      await this.refreshTenants().catch((error: Error) => {
        if (this.tenantsReadAt === 0) throw error;
        this.tenantsReadAt = Date.now(); // tried again after METERING_TENANT_REFRESH_MS
        this.logger.warn(`tenants not re-read, draining the ${this.tenants.length} known: ${error.message}`);
      });
    }
    const mine = this.tenants.filter((t) => shardOf(t, shards) === shard);
    const started = Date.now();
    let written = 0;
    const failed = new Set<string>();
    for (;;) {
      let more = false;
      for (const tenantId of mine) {
        if (this.stopping) break;
        // One job at a time per tenant in this process: the consumer's pending entries of a tenant
        // are then never in another job's hands when they are read again.
        if (this.busy.has(tenantId) || (this.backoff.get(tenantId)?.until ?? 0) > Date.now()) continue;
        this.busy.add(tenantId);
        try {
          const turn = await this.drainTenant(tenantId);
          written += turn.handled;
          more ||= turn.more;
          this.backoff.delete(tenantId);
        } catch (error) {
          failed.add(tenantId);
          // The stream and its group were deleted (FLUSHDB, Redis lost its data): create it again.
          if (/NOGROUP/.test((error as Error).message)) this.groups.delete(billingKeys.usageStream(tenantId));
          this.backOff(tenantId, error as Error);
        } finally {
          this.busy.delete(tenantId);
        }
      }
      if (!more || this.stopping || Date.now() - started > DRAIN_SLICE_MS) break;
    }
    // Every tenant of the shard, backing off or not: the backlog matters most during an outage.
    for (const tenantId of mine) await this.gauge(tenantId).catch(() => undefined);
    this.publishGauges();
    return { written, failedTenants: failed.size };
  }

  /** Up to BATCHES_PER_TURN batches of one tenant; `more`: the last batch was full. */
  private async drainTenant(tenantId: string): Promise<{ handled: number; more: boolean }> {
    await this.ensureGroup(tenantId);
    const stream = billingKeys.usageStream(tenantId);
    const size = this.config.METERING_BATCH_SIZE;
    let handled = 0;
    // Entries this consumer read before and could not write (an outage): oldest first (the flag
    // comes back if they fail again, or if there are more).
    if (this.ownPending.delete(tenantId)) {
      const reply = (await this.redis.xreadgroup('GROUP', METERING_GROUP, this.consumer, 'COUNT', size, 'STREAMS', stream, '0')) as Array<[string, StreamEntry[]]> | null;
      const entries = (reply?.[0]?.[1] ?? []).filter((e) => Array.isArray(e[1]));
      if (entries.length > 0) {
        if (entries.length === size) this.ownPending.add(tenantId);
        await this.handleBatch(tenantId, entries);
        handled += entries.length;
        if (entries.length === size) return { handled, more: true };
      }
    }
    if (Date.now() - (this.claimedAt.get(tenantId) ?? 0) > Math.min(this.config.METERING_CLAIM_IDLE_MS / 2, 10_000)) {
      this.claimedAt.set(tenantId, Date.now());
      const [, claimed] = (await this.redis.xautoclaim(stream, METERING_GROUP, this.consumer, this.config.METERING_CLAIM_IDLE_MS, '0-0', 'COUNT', size)) as [
        string,
        Array<StreamEntry | null>,
      ];
      const entries = claimed.filter((e): e is StreamEntry => Array.isArray(e) && Array.isArray(e[1]));
      if (entries.length > 0) {
        await this.handleBatch(tenantId, entries);
        handled += entries.length;
      }
    }
    for (let i = 0; i < BATCHES_PER_TURN; i++) {
      const reply = (await this.redis.xreadgroup('GROUP', METERING_GROUP, this.consumer, 'COUNT', size, 'STREAMS', stream, '>')) as Array<[string, StreamEntry[]]> | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) return { handled, more: false };
      await this.handleBatch(tenantId, entries);
      handled += entries.length;
      if (entries.length < size) return { handled, more: false };
    }
    return { handled, more: true };
  }

  /**
   * One batch of a tenant's usage events. With tracing on it is a root span `metering.batch`
   * (tenant, tenant count, events, duration; failed when the batch stops on an outage), and the
   * log lines written meanwhile carry its ids. Off: one property read.
   */
  private async handleBatch(tenantId: string, entries: StreamEntry[]): Promise<void> {
    if (!this.tracing.enabled) return this.meterBatch(tenantId, entries);
    const scope = this.tracing.start('metering.batch', undefined, { 'aigateway.tenant_id': tenantId, 'aigateway.tenants': 1, 'aigateway.events': entries.length })!;
    const started = performance.now();
    try {
      await runWithTraceLogs(scope, () => this.meterBatch(tenantId, entries));
    } catch (error) {
      failSpan(scope.span, error);
      throw error;
    } finally {
      scope.span.setAttribute('aigateway.duration_ms', Math.round(performance.now() - started));
      scope.span.end();
    }
  }

  private async meterBatch(tenantId: string, entries: StreamEntry[]): Promise<void> {
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
      return;
    } catch (error) {
      this.keepPending(tenantId, error as Error);
      this.logger.warn(`metering batch of ${decoded.length} failed (${(error as Error).message}); retrying event by event`);
    }
    // Isolate the event that fails: one by one, so the others are metered now.
    let othersWritten = false;
    const alone: Array<{ entry: Decoded; error: Error }> = [];
    for (const entry of decoded) {
      try {
        await this.write(tenantId, [entry]);
        othersWritten = true;
      } catch (error) {
        this.keepPending(tenantId, error as Error);
        alone.push({ entry, error: error as Error });
      }
    }
    if (alone.length === 0) return;
    // Does the database take writes at all? Only then did these events fail on their own.
    if (!othersWritten) {
      try {
        await this.writer.probeWritable();
      } catch (error) {
        this.keepPending(tenantId, error as Error);
        throw error;
      }
    }
    const deliveries = await this.deliveries(tenantId, alone.map((a) => a.entry.id));
    for (const { entry, error } of alone) {
      const kind = classifyFailure(error);
      if (kind === 'rejected' || (deliveries.get(entry.id) ?? 0) >= this.config.METERING_MAX_DELIVERIES) {
        await this.deadLetter(tenantId, entry.id, entry.raw, `${kind === 'rejected' ? 'rejected' : 'failing'}: ${error.message}`);
      } else {
        this.logger.warn(`usage event ${entry.event.requestId} not metered yet (delivery ${deliveries.get(entry.id) ?? '?'}): ${error.message}`);
      }
    }
  }

  /** A failed write leaves its entries pending on this consumer; an outage stops the tenant here. */
  private keepPending(tenantId: string, error: Error): void {
    this.ownPending.add(tenantId);
    if (classifyFailure(error) === 'outage') throw new OutageError(error.message);
  }

  private async write(tenantId: string, batch: Decoded[]): Promise<void> {
    const stop = this.meteringBatchDuration.startTimer();
    const result = await this.writer.write(
      tenantId,
      batch.map((d) => d.event),
      { position: maxStreamId(batch.map((d) => d.id)) },
    );
    stop();
    // After the commit: acknowledge and drop the entries (a failure here means a harmless redelivery).
    const ids = batch.map((d) => d.id);
    const stream = billingKeys.usageStream(tenantId);
    await this.redis.multi().xack(stream, METERING_GROUP, ...ids).xdel(stream, ...ids).exec();
    this.meteringEventsTotal.inc({ outcome: 'written' }, result.written);
    this.meteringEventsTotal.inc({ outcome: 'duplicate' }, result.duplicates);
  }

  private async deliveries(tenantId: string, ids: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const stream = billingKeys.usageStream(tenantId);
    for (const id of ids) {
      const [row] = (await this.redis.xpending(stream, METERING_GROUP, id, id, 1)) as Array<[string, string, number, number]>;
      if (row) out.set(id, Number(row[3]));
    }
    return out;
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

  private backOff(tenantId: string, error: Error): void {
    const previous = this.backoff.get(tenantId)?.ms ?? 0;
    const ms = previous === 0 ? OUTAGE_BACKOFF_MS[0] : Math.min(previous * 2, OUTAGE_BACKOFF_MS[1]);
    this.backoff.set(tenantId, { until: Date.now() + ms, ms });
    const what = error instanceof OutageError ? 'database outage' : 'failure';
    this.logger.warn(`metering of tenant ${tenantId} paused ${ms} ms after a ${what}; its events stay pending: ${error.message}`);
  }

  private async ensureGroup(tenantId: string): Promise<void> {
    const stream = billingKeys.usageStream(tenantId);
    if (this.groups.has(stream)) return;
    // From 0, not $: events the proxy appended before the group existed are metered too.
    await this.redis.xgroup('CREATE', stream, METERING_GROUP, '0', 'MKSTREAM').catch((error: Error) => {
      if (!/BUSYGROUP/.test(error.message)) throw error;
    });
    this.groups.add(stream);
  }

  /** Backlog and dead letters of one tenant, read at most every GAUGE_EVERY_MS. */
  private async gauge(tenantId: string): Promise<void> {
    if (Date.now() - (this.gaugedAt.get(tenantId) ?? 0) < GAUGE_EVERY_MS) return;
    this.gaugedAt.set(tenantId, Date.now());
    const stream = billingKeys.usageStream(tenantId);
    const [length, dead, first] = await Promise.all([this.redis.xlen(stream), this.redis.xlen(billingKeys.deadLetters(tenantId)), this.redis.xrange(stream, '-', '+', 'COUNT', 1)]);
    this.backlog.set(tenantId, length);
    this.dead.set(tenantId, dead);
    if (first.length) this.oldest.set(tenantId, Number(first[0][0].split('-')[0]));
    else this.oldest.delete(tenantId);
  }

  private publishGauges(): void {
    let backlog = 0;
    let dead = 0;
    for (const n of this.backlog.values()) backlog += n;
    for (const n of this.dead.values()) dead += n;
    let oldest = Infinity;
    for (const at of this.oldest.values()) oldest = Math.min(oldest, at);
    this.meteringBacklog.set(backlog);
    this.meteringDeadLetters.set(dead);
    this.meteringLag.set(oldest === Infinity ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
  }
}

function fieldOf(fields: string[]): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === USAGE_EVENT_FIELD) return fields[i + 1];
  return undefined;
}

/** The highest of stream entry ids (`<ms>-<seq>`): decimal strings compared by length, then digit by digit (exact, no BigInt per id). */
export function maxStreamId(ids: readonly string[]): string {
  let best = '0-0';
  let bestMs = '0';
  let bestSeq = '0';
  for (const id of ids) {
    const dash = id.indexOf('-');
    const ms = dash < 0 ? id : id.slice(0, dash);
    const seq = dash < 0 ? '0' : id.slice(dash + 1);
    const byMs = compareDecimal(ms, bestMs);
    if (byMs > 0 || (byMs === 0 && compareDecimal(seq, bestSeq) > 0)) [best, bestMs, bestSeq] = [id, ms, seq];
  }
  return best;
}

/** Compares two non-negative decimal integers without leading zeros. */
function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
