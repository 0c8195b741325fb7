import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { LedgerJob, QueueName } from '@app/queue';
import { SystemDb } from '@app/tenancy';
import { Job, Queue } from 'bullmq';
import { UsageRecordsRepository } from '../usage/usage-records.repository';
import { ReconciliationService } from './reconciliation.service';

const MINUTE = 60_000;
const SCHEDULES: Record<(typeof LedgerJob)[keyof typeof LedgerJob], number> = {
  [LedgerJob.EnsureUsagePartitions]: 6 * 60 * MINUTE,
  [LedgerJob.PurgeOldUsage]: 24 * 60 * MINUTE,
  [LedgerJob.RollupUsage]: 10 * MINUTE,
  [LedgerJob.Reconcile]: 5 * MINUTE,
  [LedgerJob.ReleaseExpiredHolds]: 30_000,
};

/**
 * The scheduled side of metering (BullMQ job schedulers: one schedule per name however many
 * workers run). Cross-tenant by nature, so on the system role.
 */
@Processor(QueueName.Ledger)
export class LedgerJobsProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(LedgerJobsProcessor.name);

  constructor(
    @InjectQueue(QueueName.Ledger) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly systemDb: SystemDb,
    private readonly usageRecords: UsageRecordsRepository,
    private readonly reconciliation: ReconciliationService,
  ) {
    super();
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const [name, every] of Object.entries(SCHEDULES)) {
      await this.queue.upsertJobScheduler(name, { every }, { name, opts: { removeOnComplete: 100, removeOnFail: 100, attempts: 1 } });
    }
  }

  async process(job: Job): Promise<unknown> {
    switch (job.name) {
      case LedgerJob.EnsureUsagePartitions:
        return this.ensurePartitions();
      case LedgerJob.PurgeOldUsage:
        return this.purgeOldUsage();
      case LedgerJob.RollupUsage:
        return this.rollup();
      case LedgerJob.Reconcile: {
        const report = await this.reconciliation.reconcileAll();
        return { ...report, driftUnits: report.driftUnits.toString(), deadLetterUnits: report.deadLetterUnits.toString() };
      }
      case LedgerJob.ReleaseExpiredHolds: {
        const result = await this.reconciliation.releaseExpiredHolds();
        return { ...result, units: result.units.toString(), chargedUnits: result.chargedUnits.toString() };
      }
      default:
        throw new Error(`unknown ledger job ${job.name}`);
    }
  }

  /** Monthly usage partitions from this month through three months ahead (idempotent). */
  ensurePartitions(): Promise<number> {
    return this.systemDb.run((m) => this.usageRecords.ensurePartitions(m, new Date(), 3));
  }

  /** Raw usage rows older than USAGE_RETENTION_DAYS go (whole monthly partitions are dropped); rollups stay. */
  async purgeOldUsage(): Promise<{ droppedPartitions: number; deletedRows: number }> {
    const before = new Date(Date.now() - this.config.USAGE_RETENTION_DAYS * 24 * 3600 * 1000);
    const result = await this.systemDb.run(async (m) => {
      const [row] = await m.query(`SELECT usage_records_drop_partitions_before($1) AS dropped`, [before.toISOString()]);
      const deleted = await m.query(`DELETE FROM usage_records WHERE created_at < $1`, [before.toISOString()]);
      return { droppedPartitions: Number(row.dropped), deletedRows: Array.isArray(deleted) && typeof deleted[1] === 'number' ? deleted[1] : 0 };
    });
    this.logger.log({ ...result, before: before.toISOString() }, 'old usage records purged');
    return result;
  }

  /**
   * Daily rollups per tenant, customer, key and model, recomputed for today and the two days
   * before (late events from a backlog land in their own day), so a rerun gives the same rows.
   */
  rollup(now = new Date()): Promise<number> {
    const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 2));
    return this.systemDb.run(async (m) => {
      const result = await m.query(
        `INSERT INTO usage_daily AS d (tenant_id, day, customer_id, api_key_id, model, requests, input_tokens, output_tokens,
                                     cache_read_tokens, cache_write_tokens, retail, wholesale, upstream)
         SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date, customer_id,
                coalesce(api_key_id, '00000000-0000-0000-0000-000000000000'::uuid), model,
                count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
                sum(retail_charge), sum(wholesale_cost), sum(upstream_cost)
           FROM usage_records WHERE created_at >= $1
          GROUP BY 1, 2, 3, 4, 5
         ON CONFLICT (tenant_id, day, customer_id, api_key_id, model) DO UPDATE
           SET requests = EXCLUDED.requests, input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens,
               cache_read_tokens = EXCLUDED.cache_read_tokens, cache_write_tokens = EXCLUDED.cache_write_tokens,
               retail = EXCLUDED.retail, wholesale = EXCLUDED.wholesale, upstream = EXCLUDED.upstream`,
        [from.toISOString()],
      );
      return Array.isArray(result) && typeof result[1] === 'number' ? result[1] : 0;
    });
  }
}
