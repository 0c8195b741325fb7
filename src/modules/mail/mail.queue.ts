import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { AppException, CommonErrorCode } from '@app/errors';
import { MailJob, QueueName } from '@app/queue';
import { Queue } from 'bullmq';

/** Producer side of mail: the api queues, the worker sends. */
@Injectable()
export class MailQueue {
  constructor(
    @InjectQueue(QueueName.Mail) private readonly queue: Queue<MailJob>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Queues a mail; fails fast (503) when Redis is unreachable, so callers can roll back whatever
   * the mail was about instead of leaving it half done.
   */
  async enqueue(job: MailJob): Promise<void> {
    try {
      // The body carries one-time links: drop it from Redis once sent, and soon after a final failure.
      await this.queue.add(job.kind, job, { removeOnComplete: true, removeOnFail: { age: 24 * 3600 } });
    } catch {
      throw AppException.common(CommonErrorCode.ServiceUnavailable, 503, 'Mail cannot be queued right now; nothing was changed. Retry shortly.', {
        retryAfterSeconds: 5,
      });
    }
  }

  /** A link on the tenant's own domain, with the scheme (and port, in development) of PUBLIC_URL. */
  linkOn(domain: string | null, path: string): string {
    const base = new URL(this.config.PUBLIC_URL);
    if (domain) base.hostname = domain;
    return new URL(path, base).toString();
  }
}
