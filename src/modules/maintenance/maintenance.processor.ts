import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, OnApplicationBootstrap } from '@nestjs/common';
import { MaintenanceJob, QueueName } from '@app/queue';
import { SystemDb } from '@app/tenancy';
import { Job, Queue } from 'bullmq';
import { returnedRows } from '../../common/sql';

/** How long spent credentials are kept (for investigating a reuse or an incident) before purging. */
const RETENTION = '7 days';

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
  }

  async process(job: Job): Promise<unknown> {
    switch (job.name) {
      case MaintenanceJob.PurgeExpiredCredentials:
        return this.purgeExpiredCredentials();
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
}
