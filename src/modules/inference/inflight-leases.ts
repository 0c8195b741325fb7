import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { BillingEngine, InFlightLease } from '@app/billing';

interface Tracked extends InFlightLease {
  tenantId: string;
  /** When its leases were last set (admitted or renewed), epoch ms. */
  since: number;
}

/**
 * The requests this api has in flight, whose hold and concurrency slots it keeps alive (issue 26):
 * a hold expires after INFERENCE_HOLD_TTL_SECONDS and a slot's lease after
 * INFERENCE_CONCURRENCY_LEASE_SECONDS, so that a crashed api's requests give them back; a request
 * that is merely long (a stream of an hour, a model that thinks for minutes before its first token)
 * must not lose them. Every third of the shorter of the two, one Redis call per tenant moves the
 * expiries of the requests admitted before that forward. The hot path pays a Map insert and delete.
 *
 * If this process dies, the renewals stop with it and the leases run out as before.
 */
@Injectable()
export class InflightLeases implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(InflightLeases.name);
  private readonly inflight = new Map<string, Tracked>();
  private timer?: NodeJS.Timeout;
  private renewing = false;

  constructor(private readonly billing: BillingEngine) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.renew(), this.billing.renewEveryMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
    this.inflight.clear();
  }

  /** A request whose hold (and slots, if capped) were just taken at `atMs`. */
  track(requestId: string, tenantId: string, keyId: string, customerId: string, atMs: number): void {
    this.inflight.set(requestId, { requestId, tenantId, keyId, customerId, since: atMs });
  }

  /** The request is settling: its hold and slots are given back by the settlement. */
  untrack(requestId: string): void {
    this.inflight.delete(requestId);
  }

  get size(): number {
    return this.inflight.size;
  }

  /** Renews the leases of the requests set at least one interval ago; the number of holds renewed. */
  async renew(nowMs = Date.now()): Promise<number> {
    if (this.renewing || this.inflight.size === 0) return 0;
    this.renewing = true;
    try {
      const due = new Map<string, Tracked[]>();
      const before = nowMs - this.billing.renewEveryMs;
      for (const r of this.inflight.values()) {
        if (r.since > before) continue;
        let list = due.get(r.tenantId);
        if (!list) due.set(r.tenantId, (list = []));
        list.push(r);
      }
      let renewed = 0;
      for (const [tenantId, list] of due) {
        for (let i = 0; i < list.length; i += 256) {
          const chunk = list.slice(i, i + 256);
          try {
            renewed += await this.billing.renew(tenantId, chunk, nowMs);
            for (const r of chunk) r.since = nowMs;
          } catch (error) {
            // Tried again at the next tick; the leases have two more intervals to run.
            this.logger.warn({ err: (error as Error).message, tenantId, requests: chunk.length }, 'lease renewal failed');
          }
        }
      }
      return renewed;
    } finally {
      this.renewing = false;
    }
  }
}
