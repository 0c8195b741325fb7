import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BillingEngine, SettleRequest, SettleSpool } from '@app/billing';
import { AppConfig, APP_CONFIG } from '@app/config';
import { InferenceMetrics } from './inference.metrics';

/** A spool of another host untouched this long belongs to a process that is gone. */
const ORPHAN_AFTER_MS = 60_000;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Where settlements go: Redis (charge and usage event in one Lua call) when it answers, otherwise
 * the local durable spool, replayed in order once Redis is back (DESIGN.md: no usage is lost). The
 * response to the client never waits for the replay.
 */
@Injectable()
export class SettlementOutbox implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(SettlementOutbox.name);
  private readonly spool: SettleSpool;
  private readonly dir: string;
  private readonly file: string;
  private readonly settleTimeoutMs: number;
  private timer?: NodeJS.Timeout;
  private adopting = false;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly billing: BillingEngine,
    private readonly metrics: InferenceMetrics,
  ) {
    // One file per process: two instances never share a spool.
    this.dir = config.INFERENCE_SPOOL_DIR;
    this.file = join(this.dir, `settle-${hostname()}-${process.pid}.jsonl`);
    this.spool = new SettleSpool(this.file);
    this.settleTimeoutMs = config.INFERENCE_SETTLE_TIMEOUT_MS;
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

  /**
   * Durable when it returns: Redis took the settlement, or it is fsynced to the spool (Redis
   * refused it, or did not answer within INFERENCE_SETTLE_TIMEOUT_MS; if the hung call runs later,
   * the replay finds it settled and charges nothing twice). The answer's end waits for this.
   */
  async settle(request: SettleRequest): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const settling = this.billing.settle(request);
    try {
      await Promise.race([
        settling,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Redis did not answer within ${this.settleTimeoutMs} ms`)), this.settleTimeoutMs);
        }),
      ]);
    } catch (error) {
      settling.catch(() => undefined); // a hung call that fails later is already spooled
      this.logger.warn({ err: (error as Error).message, requestId: request.event.requestId }, 'settlement spooled: Redis did not take it');
      this.spool.append(request);
      this.metrics.spooled(this.spool.size);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Keeps a running stream's settlement-so-far on its hold (BillingEngine.checkpoint). Best effort:
   * a checkpoint that fails (Redis away) only means a crash before the next one charges less.
   */
  async checkpoint(request: SettleRequest): Promise<void> {
    try {
      await this.billing.checkpoint(request);
    } catch (error) {
      this.logger.debug({ err: (error as Error).message, requestId: request.event.requestId }, 'stream checkpoint not kept');
    }
  }

  /** Replays the spool, then any spool a dead process left; returns how many settlements reached Redis. */
  async replay(): Promise<number> {
    let delivered = 0;
    if (this.spool.size > 0) {
      delivered = await this.spool.replay((r) => this.billing.settle(r));
      if (delivered > 0) this.logger.log({ delivered }, 'spooled settlements delivered');
      this.metrics.spooled(this.spool.size);
    }
    return delivered + (await this.adoptOrphans());
  }

  /**
   * Spools of processes that are gone. Each process writes its own file (named by host and pid),
   * so after a crash and restart the new process (a new pid, in a container often a new host
   * name) would never read the old file and its settlements would be lost. A file is taken over
   * when its process is known dead (same host, pid not running) or, from another host, when it
   * has not changed for ORPHAN_AFTER_MS (a live process rewrites a non-empty spool every second).
   * Settling is idempotent on the request id, so a file replayed twice charges nothing twice.
   */
  private async adoptOrphans(): Promise<number> {
    if (this.adopting) return 0; // a slow replay still running: one at a time
    this.adopting = true;
    try {
      let names: string[];
      try {
        names = readdirSync(this.dir);
      } catch {
        return 0;
      }
      let delivered = 0;
      for (const name of names) {
        const path = join(this.dir, name);
        if (path === this.file || !/^settle-.+\.jsonl$/.test(name)) continue;
        const owner = this.owner(name, path);
        if (owner === 'alive') continue;
        const orphan = new SettleSpool(path);
        const count = orphan.size;
        // An empty file of another host may belong to a live process that is idle: left alone.
        if (count === 0 && owner !== 'dead') continue;
        const done = count > 0 ? await orphan.replay((r) => this.billing.settle(r)) : 0;
        delivered += done;
        if (done === count) unlinkSync(path);
        if (done > 0) this.logger.log({ delivered: done, file: name }, 'settlements of a dead process delivered');
      }
      return delivered;
    } finally {
      this.adopting = false;
    }
  }

  /** `dead`: same host, pid gone; `stale`: another host's file untouched for long; else `alive`. */
  private owner(name: string, path: string): 'dead' | 'stale' | 'alive' {
    const owner = /^settle-(.+)-(\d+)\.jsonl$/.exec(name);
    if (owner && owner[1] === hostname()) return processAlive(Number(owner[2])) ? 'alive' : 'dead';
    try {
      return Date.now() - statSync(path).mtimeMs > ORPHAN_AFTER_MS ? 'stale' : 'alive';
    } catch {
      return 'alive';
    }
  }

  get pending(): number {
    return this.spool.size;
  }
}
