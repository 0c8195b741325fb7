import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { QueueName, SettlementJob } from '@app/queue';
import { Job, Queue } from 'bullmq';
import { StatementCloser } from './statement-closer.service';

/**
 * The scheduled close (a BullMQ job scheduler: one schedule however many workers run; two closes
 * racing on one tenant are serialised by a lock and the unique period key). Every run catches up
 * the periods that are due, so a worker that was down for days closes them all in order.
 */
@Processor(QueueName.Settlement)
export class SettlementJobsProcessor extends WorkerHost implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(QueueName.Settlement) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly closer: StatementCloser,
  ) {
    super();
  }

  async onApplicationBootstrap(): Promise<void> {
    const name = SettlementJob.CloseStatements;
    if (!this.config.SETTLEMENT_ENABLED) {
      await this.queue.removeJobScheduler(name);
      return;
    }
    await this.queue.upsertJobScheduler(
      name,
      { every: this.config.SETTLEMENT_CLOSE_INTERVAL_SECONDS * 1000 },
      { name, opts: { removeOnComplete: 100, removeOnFail: 100, attempts: 1 } },
    );
  }

  async process(job: Job): Promise<unknown> {
    if (job.name !== SettlementJob.CloseStatements) throw new Error(`unknown settlement job ${job.name}`);
    return this.closer.closeAllDue();
  }
}
