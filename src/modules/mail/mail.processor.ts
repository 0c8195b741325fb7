import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { MailJob, QueueName } from '@app/queue';
import { Job } from 'bullmq';
import { MailTransport } from './mail.transport';

/** Sends queued mail; a failure is retried with backoff by BullMQ (DEFAULT_JOB_OPTIONS). */
@Processor(QueueName.Mail, { concurrency: 4 })
export class MailProcessor extends WorkerHost {
  private readonly logger = new Logger(MailProcessor.name);

  constructor(private readonly transport: MailTransport) {
    super();
  }

  async process(job: Job<MailJob>): Promise<{ messageId: string }> {
    const { to, subject, text, html, kind, tenantId } = job.data;
    const messageId = await this.transport.send({ to, subject, text, html });
    this.logger.log({ jobId: job.id, kind, tenantId, messageId }, 'mail sent');
    return { messageId };
  }
}
