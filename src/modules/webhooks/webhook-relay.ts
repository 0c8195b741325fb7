import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { SystemDb } from '@app/tenancy';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter } from 'prom-client';
import { WEBHOOK_METRIC } from './webhook.metrics';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor';
import { WebhooksRepository } from './webhooks.repository';

/**
 * The outbox relay, in every worker: every WEBHOOK_RELAY_INTERVAL_MS it takes a batch of
 * undispatched `webhook_events` (FOR UPDATE SKIP LOCKED, so workers side by side share them),
 * creates the deliveries and marks the events dispatched in one transaction, then enqueues one
 * job per delivery. No event is lost or fanned out twice: the deliveries commit with the
 * dispatched mark, and (endpoint, event) is unique. A job lost between commit and enqueue (Redis
 * down, a crash) is found by the sweeper, which re-adds the jobs of pending deliveries that made
 * no progress for WEBHOOK_SWEEP_INTERVAL_MS; adding an existing job id is a no-op.
 */
@Injectable()
export class WebhookRelay implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(WebhookRelay.name);
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private lastSweep = Date.now();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly systemDb: SystemDb,
    private readonly repository: WebhooksRepository,
    private readonly processor: WebhookDeliveryProcessor,
    @InjectMetric(WEBHOOK_METRIC.relayedEventsTotal) private readonly webhookRelayedEventsTotal: Counter,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule(0);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .catch((error) => this.logger.warn({ err: error }, 'webhook relay step failed; retrying'))
        .finally(() => {
          this.running = undefined;
          this.schedule(this.config.WEBHOOK_RELAY_INTERVAL_MS);
        });
    }, delay);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    // Drain what is there, batch after batch, then wait for the next interval.
    while (!this.stopped && (await this.relayOnce()) >= this.config.WEBHOOK_RELAY_BATCH_SIZE);
    if (!this.stopped && Date.now() - this.lastSweep >= this.config.WEBHOOK_SWEEP_INTERVAL_MS) {
      this.lastSweep = Date.now();
      await this.sweep();
    }
  }

  /** One batch; returns the number of events taken. */
  async relayOnce(): Promise<number> {
    const { events, deliveries } = await this.systemDb.run((m) => this.repository.relayBatch(m, this.config.WEBHOOK_RELAY_BATCH_SIZE));
    if (events) this.webhookRelayedEventsTotal.inc(events);
    await this.enqueueAll(deliveries);
    return events;
  }

  /** Re-adds the jobs of pending deliveries without progress (a no-op for jobs that still exist). */
  async sweep(): Promise<number> {
    const stalled = await this.systemDb.run((m) => this.repository.stalledDeliveries(m, this.config.WEBHOOK_SWEEP_INTERVAL_MS, 1000));
    await this.enqueueAll(stalled);
    return stalled.length;
  }

  private async enqueueAll(deliveries: Array<{ id: string; tenantId: string }>): Promise<void> {
    const results = await Promise.allSettled(deliveries.map((d) => this.processor.enqueue(d)));
    const failed = results.filter((r) => r.status === 'rejected').length;
    if (failed) this.logger.warn({ failed }, 'webhook jobs not enqueued; the sweeper will add them later');
  }
}
