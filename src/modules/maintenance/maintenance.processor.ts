import { InjectQueue, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { MaintenanceJob, QueueName } from '@app/queue';
import { SystemDb } from '@app/tenancy';
import { Job, Queue } from 'bullmq';
import { v7 as uuidv7 } from 'uuid';
import { returnedRows } from '../../common/sql';
import { ContentLogsRepository } from '../content-logs/content-logs.repository';
import { keyEventData } from '../keys/keys.service';
import { DomainVerificationSweep, VERIFY_DOMAINS_JOB } from '../tenants/domain-verification.sweep';
import { WebhookOutbox } from '../webhooks/webhook-outbox';

/** How long spent credentials are kept (for investigating a reuse or an incident) before purging. */
const RETENTION = '7 days';
/** Webhook events deleted per statement (short transactions; the job loops until none is left). */
const WEBHOOK_PURGE_BATCH = 5000;
/** Top-up orders expired per transaction. */
const TOPUP_EXPIRY_BATCH = 1000;
/** Keys notified per transaction. */
const KEY_NOTICE_BATCH = 500;

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
    private readonly outbox: WebhookOutbox,
    private readonly contents: ContentLogsRepository,
    private readonly domains: DomainVerificationSweep,
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
      MaintenanceJob.NotifyExpiringKeys,
      { every: 60 * 60 * 1000 },
      { name: MaintenanceJob.NotifyExpiringKeys, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
    await this.queue.upsertJobScheduler(
      MaintenanceJob.ExpireTopups,
      { every: 60 * 1000 },
      { name: MaintenanceJob.ExpireTopups, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
    await this.queue.upsertJobScheduler(
      MaintenanceJob.PurgeRequestContents,
      { every: 15 * 60 * 1000 },
      { name: MaintenanceJob.PurgeRequestContents, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
    await this.queue.upsertJobScheduler(
      MaintenanceJob.PurgeWebhookHistory,
      { every: 60 * 60 * 1000 },
      { name: MaintenanceJob.PurgeWebhookHistory, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
    const domainEvery = this.config.DOMAIN_VERIFY_INTERVAL_SECONDS;
    if (domainEvery > 0) {
      // Pending domains are re-checked at this pace; a shorter interval than a minute is for tests.
      await this.queue.upsertJobScheduler(
        VERIFY_DOMAINS_JOB,
        { every: domainEvery * 1000 },
        { name: VERIFY_DOMAINS_JOB, opts: { removeOnComplete: 100, removeOnFail: 100 } },
      );
    } else {
      await this.queue.removeJobScheduler(VERIFY_DOMAINS_JOB);
    }
  }

  async process(job: Job): Promise<unknown> {
    switch (job.name) {
      case MaintenanceJob.PurgeExpiredCredentials:
        return this.purgeExpiredCredentials();
      case MaintenanceJob.PurgeWebhookHistory:
        return this.purgeWebhookHistory();
      case MaintenanceJob.NotifyExpiringKeys:
        return this.notifyExpiringKeys();
      case MaintenanceJob.ExpireTopups:
        return this.expireTopups();
      case MaintenanceJob.PurgeRequestContents:
        return this.purgeRequestContents();
      case VERIFY_DOMAINS_JOB:
        return this.domains.run();
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

  /**
   * Deletes stored prompts and completions past their tenant's retention, or of tenants that turned
   * content logging off, in short batches (content logging is optional and off by default).
   */
  async purgeRequestContents(): Promise<{ contents: number }> {
    let contents = 0;
    for (;;) {
      const deleted = await this.systemDb.run((m) => this.contents.purge(m, WEBHOOK_PURGE_BATCH));
      contents += deleted;
      if (deleted < WEBHOOK_PURGE_BATCH) break;
    }
    if (contents > 0) this.logger.log({ contents }, 'purged request contents');
    return { contents };
  }

  /**
   * `key.expiring`, once per key and expiry date: active keys that expire within
   * KEY_EXPIRY_NOTICE_DAYS are marked notified and their events written in the same transaction
   * (a failed run marks nothing and publishes nothing). Changing a key's expiry clears the mark.
   */
  async notifyExpiringKeys(): Promise<{ keys: number }> {
    const days = this.config.KEY_EXPIRY_NOTICE_DAYS;
    if (days === 0) return { keys: 0 };
    let keys = 0;
    for (;;) {
      const notified = await this.systemDb.run(async (m) => {
        const rows: Array<{ id: string; tenant_id: string; customer_id: string; name: string; prefix: string; status: string; expires_at: Date }> = returnedRows(
          await m.query(
            `UPDATE api_keys k SET expiry_notified_at = now()
              WHERE k.id IN (SELECT id FROM api_keys
                              WHERE status = 'active' AND expires_at IS NOT NULL AND expiry_notified_at IS NULL
                                AND expires_at > now() AND expires_at <= now() + make_interval(days => $1)
                              ORDER BY expires_at LIMIT $2
                              FOR UPDATE SKIP LOCKED)
              RETURNING k.id, k.tenant_id, k.customer_id, k.name, k.prefix, k.status, k.expires_at`,
            [days, KEY_NOTICE_BATCH],
          ),
        );
        for (const k of rows) {
          await this.outbox.publish(m, k.tenant_id, 'key.expiring', {
            ...keyEventData({ id: k.id, customerId: k.customer_id, name: k.name, prefix: k.prefix, status: k.status as 'active' }, null),
            expiresAt: k.expires_at.toISOString(),
          });
        }
        return rows.length;
      });
      keys += notified;
      if (notified < KEY_NOTICE_BATCH) break;
    }
    if (keys > 0) this.logger.log({ keys, days }, 'published key.expiring');
    return { keys };
  }

  /**
   * Top-up orders still pending after their `expires_at` become `expired`, with their history
   * row, in short batches. A payment that completed before the expiry and is notified late is still
   * credited (the notification carries the provider's time); one after it is refused and audited.
   */
  async expireTopups(): Promise<{ orders: number }> {
    let orders = 0;
    for (;;) {
      const expired = await this.systemDb.run(async (m) => {
        const rows: Array<{ id: string; tenant_id: string }> = returnedRows(
          await m.query(
            `UPDATE topups SET status = 'expired', updated_at = now()
              WHERE id IN (SELECT id FROM topups WHERE status = 'pending' AND expires_at <= now()
                            ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
              RETURNING id, tenant_id`,
            [TOPUP_EXPIRY_BATCH],
          ),
        );
        if (rows.length > 0) {
          await m.query(
            `INSERT INTO topup_events (id, tenant_id, topup_id, from_status, to_status, reason)
             SELECT e.id, e.tenant_id, e.topup_id, 'pending', 'expired', 'not paid in time' FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS e(id, tenant_id, topup_id)`,
            [rows.map(() => uuidv7()), rows.map((r) => r.tenant_id), rows.map((r) => r.id)],
          );
        }
        return rows.length;
      });
      orders += expired;
      if (expired < TOPUP_EXPIRY_BATCH) break;
    }
    if (orders > 0) this.logger.log({ orders }, 'expired unpaid top-up orders');
    return { orders };
  }
}
