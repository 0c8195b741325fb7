import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BillingEngine, SettleRequest, SettleSpool } from '@app/billing';
import { AppConfig, APP_CONFIG } from '@app/config';
import { InferenceMetrics } from './inference.metrics';

/**
 * Where settlements go: Redis (charge and usage event in one Lua call) when it answers, otherwise
 * the local durable spool, replayed in order once Redis is back (DESIGN.md: no usage is lost). The
 * response to the client never waits for the replay.
 */
@Injectable()
export class SettlementOutbox implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(SettlementOutbox.name);
  private readonly spool: SettleSpool;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly billing: BillingEngine,
    private readonly metrics: InferenceMetrics,
  ) {
    // One file per process: two instances never share a spool.
    this.spool = new SettleSpool(join(config.INFERENCE_SPOOL_DIR, `settle-${hostname()}-${process.pid}.jsonl`));
  }

  onModuleInit(): void {
    this.metrics.spooled(this.spool.size);
    this.timer = setInterval(() => void this.replay(), 1000);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.replay();
  }

  async settle(request: SettleRequest): Promise<void> {
    try {
      await this.billing.settle(request);
    } catch (error) {
      this.logger.warn({ err: (error as Error).message, requestId: request.event.requestId }, 'settlement spooled: Redis did not take it');
      this.spool.append(request);
      this.metrics.spooled(this.spool.size);
    }
  }

  /** Replays the spool; returns how many settlements reached Redis. */
  async replay(): Promise<number> {
    if (this.spool.size === 0) return 0;
    const delivered = await this.spool.replay((r) => this.billing.settle(r));
    if (delivered > 0) this.logger.log({ delivered }, 'spooled settlements delivered');
    this.metrics.spooled(this.spool.size);
    return delivered;
  }

  get pending(): number {
    return this.spool.size;
  }
}
