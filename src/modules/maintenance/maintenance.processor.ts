import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { MaintenanceJob, QueueName } from '@app/queue';
import { SystemDb } from '@app/tenancy';
import { Job, Queue } from 'bullmq';
import { returnedRows } from '../../common/sql';

/** How long spent credentials are kept (for investigating a reuse or an incident) before purging. */
const RETENTION = '7 days';
/** Webhook events deleted per statement (short transactions; the job loops until none is left). */
const WEBHOOK_PURGE_BATCH = 5000;

/**
 * Scheduled housekeeping. It works across tenants by nature, so it runs on the system role's
 * connection; the application role could not see other tenants' rows.
 */
@Processor(QueueName.Maintenance)
export class MaintenanceProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(MaintenanceProcessor.name);

  constructor(
    @InjectQueue(QueueName.Maintenance) private readonly queue: Queue,
    private readonly systemDb: SystemDb,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
  }

  /** One schedule per name, however many workers start: BullMQ's job schedulers are upserts. */
  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(
      MaintenanceJob.PurgeExpiredCredentials,
      { every: 60 * 60 * 1000 },
      { name: MaintenanceJob.PurgeExpiredCredentials, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
    await this.queue.upsertJobScheduler(
      MaintenanceJob.PurgeWebhookHistory,
      { every: 60 * 60 * 1000 },
      { name: MaintenanceJob.PurgeWebhookHistory, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
  }

  async process(job: Job): Promise<unknown> {
    switch (job.name) {
      case MaintenanceJob.PurgeExpiredCredentials:
        return this.purgeExpiredCredentials();
      case MaintenanceJob.PurgeWebhookHistory:
        return this.purgeWebhookHistory();
      default:
        throw new Error(`unknown maintenance job ${job.name}`);
    }
  }

  /** Deletes refresh tokens and one-time links that expired, were used or revoked over a week ago. */
  async purgeExpiredCredentials(): Promise<{ refreshTokens: number; oneTimeTokens: number }> {
    const result = await this.systemDb.run(async (m) => {
      const refresh = returnedRows(
        await m.query(
          `DELETE FROM refresh_tokens
            WHERE expires_at < now() - interval '${RETENTION}' OR revoked_at < now() - interval '${RETENTION}'
               OR used_at < now() - interval '${RETENTION}'
            RETURNING id`,
        ),
      );
      const oneTime = returnedRows(
        await m.query(
          `DELETE FROM one_time_tokens
            WHERE expires_at < now() - interval '${RETENTION}' OR used_at < now() - interval '${RETENTION}'
            RETURNING id`,
        ),
      );
      return { refreshTokens: refresh.length, oneTimeTokens: oneTime.length };
    });
    this.logger.log(result, 'purged expired credentials');
    return result;
  }

  /**
   * Deletes webhook events older than WEBHOOK_RETENTION_DAYS that were dispatched and have no
   * pending delivery (a retry or a redelivery still running keeps its event), with their deliveries
   * and attempts (cascade), in short batches, oldest first.
   */
  async purgeWebhookHistory(): Promise<{ events: number }> {
    let events = 0;
    for (;;) {
      const deleted = await this.systemDb.run(async (m) =>
        returnedRows(
          await m.query(
            `WITH doomed AS (
               SELECT e.id FROM webhook_events e
                WHERE e.dispatched_at IS NOT NULL AND e.created_at < now() - make_interval(days => $1)
                  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
                ORDER BY e.created_at
                LIMIT $2)
             DELETE FROM webhook_events e USING doomed WHERE e.id = doomed.id
             RETURNING e.id`,
            [this.config.WEBHOOK_RETENTION_DAYS, WEBHOOK_PURGE_BATCH],
          ),
        ),
      );
      events += deleted.length;
      if (deleted.length < WEBHOOK_PURGE_BATCH) break;
    }
    this.logger.log({ events, retentionDays: this.config.WEBHOOK_RETENTION_DAYS }, 'purged webhook history');
    return { events };
  }
}
