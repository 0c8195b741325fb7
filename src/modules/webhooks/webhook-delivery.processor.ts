import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { SecretBoxError } from '@app/providers';
import { QueueName, WebhookDeliveryJob, WebhooksJob } from '@app/queue';
import { TenantDb } from '@app/tenancy';
import { Job, Queue, UnrecoverableError } from 'bullmq';
import { Agent } from 'undici';
import { deliveryJobOptions, payloadOf, retryDelayMs } from './webhook-jobs';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Histogram } from 'prom-client';
import { WEBHOOK_METRIC } from './webhook.metrics';
import { AttemptResult, createWebhookAgent, sendWebhook, SenderOptions } from './webhook-sender';
import { WebhookSecrets } from './webhook-secrets';
import { signedHeaders } from './webhook-signature';
import { DeliveryWork, WebhooksRepository } from './webhooks.repository';

class RetryLater extends Error {}

/**
 * Sends one delivery per job, in the tenant's scope (the job carries the tenant id). The delivery
 * row is the truth: a job for a delivery that is no longer pending does nothing, so a job added
 * twice (relay and sweeper) or redelivered by BullMQ never sends a finished delivery again.
 * Each attempt is counted before it is made and logged after; a failed attempt throws so BullMQ
 * retries it with exponential backoff (WEBHOOK_RETRY_BASE_MS x 2^n) up to WEBHOOK_MAX_ATTEMPTS.
 * A refused address (SSRF guard) is final at once: no retry would change the policy's answer.
 */
@Processor(QueueName.Webhooks)
export class WebhookDeliveryProcessor extends WorkerHost implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(WebhookDeliveryProcessor.name);
  private readonly agent: Agent;
  private readonly sender: SenderOptions;

  constructor(
    @InjectQueue(QueueName.Webhooks) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tenantDb: TenantDb,
    private readonly repository: WebhooksRepository,
    private readonly secrets: WebhookSecrets,
    @InjectMetric(WEBHOOK_METRIC.attemptsTotal) private readonly webhookAttemptsTotal: Counter<'result'>,
    @InjectMetric(WEBHOOK_METRIC.deliveriesTotal) private readonly webhookDeliveriesTotal: Counter<'status'>,
    @InjectMetric(WEBHOOK_METRIC.attemptDuration) private readonly webhookAttemptDuration: Histogram,
    @InjectMetric(WEBHOOK_METRIC.endpointsDisabledTotal) private readonly webhookEndpointsDisabledTotal: Counter,
  ) {
    super();
    this.sender = { allowPrivateNetworks: config.WEBHOOK_ALLOW_PRIVATE_NETWORKS, timeoutMs: config.WEBHOOK_TIMEOUT_MS, responseLimitBytes: config.WEBHOOK_RESPONSE_LIMIT_BYTES };
    this.agent = createWebhookAgent(this.sender);
  }

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.WEBHOOK_CONCURRENCY;
  }

  async onModuleDestroy(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }

  async process(job: Job<WebhookDeliveryJob>): Promise<unknown> {
    if (job.name !== WebhooksJob.Deliver) throw new Error(`unknown webhooks job ${job.name}`);
    return this.deliver(job.data);
  }

  /** One attempt of one delivery; resolves on success or when nothing is left to do. */
  async deliver({ tenantId, deliveryId }: WebhookDeliveryJob): Promise<{ status: string; attempt?: number }> {
    const prepared = await this.tenantDb.run({ tenantId }, async (m) => {
      const work = await this.repository.work(m, deliveryId);
      if (!work || work.status !== 'pending') return { done: work?.status ?? 'gone' } as const;
      if (!work.enabled) {
        await this.repository.abandon(m, deliveryId, 'endpoint_disabled: the endpoint was disabled before the delivery was sent');
        this.webhookDeliveriesTotal.inc({ status: 'failed' });
        return { done: 'failed' } as const;
      }
      if (work.attempts >= this.config.WEBHOOK_MAX_ATTEMPTS) {
        await this.repository.abandon(m, deliveryId, 'attempts_exhausted: no attempt left');
        this.webhookDeliveriesTotal.inc({ status: 'failed' });
        return { done: 'failed' } as const;
      }
      let secrets: string[];
      try {
        secrets = [this.secrets.open(work.endpointId, work.secretCiphertext)];
        // A rotation's previous secret signs too while its grace period lasts (a second signature).
        if (work.previousSecretCiphertext) secrets.push(this.secrets.open(work.endpointId, work.previousSecretCiphertext));
      } catch (error) {
        if (!(error instanceof SecretBoxError)) throw error;
        // A configuration problem of the platform: keep retrying, someone may restore the key.
        throw new Error('the endpoint secret cannot be decrypted with CHANNEL_ENCRYPTION_KEYS');
      }
      const attempt = await this.repository.startAttempt(m, deliveryId);
      return { work, secrets, attempt };
    });
    if ('done' in prepared) return { status: prepared.done! };

    const { work, secrets, attempt } = prepared;
    const body = payloadOf(work);
    const result = await sendWebhook(this.agent, work.url, signedHeaders(secrets, work.eventId, body), body, this.sender);
    this.webhookAttemptsTotal.inc({ result: result.succeeded ? 'succeeded' : (result.error ?? 'failed') });
    this.webhookAttemptDuration.observe(result.latencyMs / 1000);

    const last = result.final || attempt >= this.config.WEBHOOK_MAX_ATTEMPTS;
    const status = result.succeeded ? 'succeeded' : last ? 'failed' : 'pending';
    const nextAttemptAt = status === 'pending' ? new Date(Date.now() + retryDelayMs(this.config.WEBHOOK_RETRY_BASE_MS, attempt)) : null;
    const disabled = await this.tenantDb.run({ tenantId }, async (m) => {
      await this.repository.recordAttempt(m, work, attempt, toRecord(result), { status, nextAttemptAt });
      // An endpoint that keeps failing stops getting deliveries (its owner enables it again).
      const failures = this.config.WEBHOOK_DISABLE_AFTER_FAILURES;
      return status === 'failed' && failures > 0 && (await this.repository.disableIfFailing(m, work.endpointId, failures));
    });
    if (disabled) {
      this.webhookEndpointsDisabledTotal.inc();
      this.logger.warn({ tenantId, endpointId: work.endpointId, failures: this.config.WEBHOOK_DISABLE_AFTER_FAILURES }, 'webhook endpoint disabled: its last deliveries all failed');
    }
    if (status !== 'pending') this.webhookDeliveriesTotal.inc({ status });
    if (status === 'succeeded') return { status, attempt };
    this.logger.log({ tenantId, deliveryId, attempt, error: result.error, statusCode: result.statusCode }, status === 'failed' ? 'webhook delivery failed for good' : 'webhook attempt failed; retrying later');
    if (status === 'failed') throw new UnrecoverableError(`delivery failed: ${result.error}`);
    throw new RetryLater(`attempt ${attempt} failed: ${result.error}`);
  }

  /** Adds the job of a delivery (idempotent by job id). */
  enqueue(delivery: { id: string; tenantId: string }): Promise<unknown> {
    return this.queue.add(WebhooksJob.Deliver, { tenantId: delivery.tenantId, deliveryId: delivery.id } satisfies WebhookDeliveryJob, deliveryJobOptions(this.config, delivery.id));
  }
}

function toRecord(result: AttemptResult) {
  return {
    statusCode: result.statusCode,
    error: result.error ? `${result.error}: ${result.detail ?? ''}`.slice(0, 500) : null,
    latencyMs: result.latencyMs,
    snippet: result.snippet,
    succeeded: result.succeeded,
  };
}
