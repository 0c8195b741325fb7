import { Inject, Injectable, Logger } from '@nestjs/common';
import { billingKeys } from '@app/billing';
import { REDIS } from '@app/redis';
import { fromUnits, toUnits } from '@app/money';
import { METRIC } from '@app/observability';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge } from 'prom-client';
import { SystemDb } from '@app/tenancy';
import Redis from 'ioredis';
import { BalanceService, ExpiredHolds } from '../ledger/balance.service';

export interface ReconciliationReport {
  wallets: number;
  drifting: number;
  corrected: number;
  /** Summed absolute drift, nano-units (dead letters included). */
  driftUnits: bigint;
  /** Retail of dead-lettered events charged in Redis and missing from the ledger, nano-units (part of the drift). */
  deadLetterUnits: bigint;
}

/** Wallets compared per consistent cut (one PostgreSQL transaction holding their rows, one Redis script). */
const CHUNK = 500;

/**
 * Compares every loaded wallet in Redis with the ledger (DESIGN.md "Metering and settlement") at
 * ONE consistent cut, so that a healthy platform shows no drift however busy metering is:
 *
 * 1. In one PostgreSQL transaction, the wallets' ledger rows are read FOR SHARE (in id order, as
 *    the ledger's posting trigger locks them: no deadlock), then the tenant's metering position
 *    (the highest stream entry id metered, written by each batch in its own transaction). While
 *    the share locks are held, no metering batch and no credit can change these wallets.
 * 2. One Redis script reads, atomically: the balances, the open holds, the retail of the stream
 *    entries after the position (not in the ledger), and lists the entries at or before it and the
 *    dead letters.
 * 3. In the same transaction, PostgreSQL says which of those listed are metered (their usage record
 *    exists; record and posting commit together).
 *
 * expected Redis balance = ledger - open holds - retail of live events not metered - retail of
 * dead letters not metered. Dead letters are charged in Redis and missing from the ledger: they
 * are reported as drift (until `cli metering replay-dead-letters` meters them), never "corrected"
 * away. The rest of a drift is corrected when the same amount was already seen on the previous run
 * (kept in `{t}:recon`): the reading cannot race, but a second sighting costs nothing and guards
 * against a wallet changed outside these paths. The drift of the last run is exported
 * (aigateway_balance_drift*; alert AIGatewayBalanceDrift).
 */
@Injectable()
export class ReconciliationService {
  private readonly logger = new Logger(ReconciliationService.name);

  constructor(
    private readonly systemDb: SystemDb,
    private readonly balances: BalanceService,
    @Inject(REDIS) private readonly redis: Redis,
    @InjectMetric(METRIC.balanceDrift) private readonly balanceDrift: Gauge,
    @InjectMetric(METRIC.balanceDriftWallets) private readonly balanceDriftWallets: Gauge,
    @InjectMetric(METRIC.balanceCorrectionsTotal) private readonly balanceCorrectionsTotal: Counter,
    @InjectMetric(METRIC.holdsExpiredTotal) private readonly holdsExpiredTotal: Counter,
  ) {}

  async reconcileAll(): Promise<ReconciliationReport> {
    const tenants: Array<{ id: string }> = await this.systemDb.run((m) => m.query(`SELECT id FROM tenants ORDER BY id`));
    const total: ReconciliationReport = { wallets: 0, drifting: 0, corrected: 0, driftUnits: 0n, deadLetterUnits: 0n };
    for (const { id } of tenants) {
      const report = await this.reconcileTenant(id);
      total.wallets += report.wallets;
      total.drifting += report.drifting;
      total.corrected += report.corrected;
      total.driftUnits += report.driftUnits;
      total.deadLetterUnits += report.deadLetterUnits;
    }
    this.balanceDrift.set(Number(fromUnits(total.driftUnits)));
    this.balanceDriftWallets.set(total.drifting);
    if (total.drifting > 0) {
      this.logger.warn({ ...total, driftUnits: total.driftUnits.toString(), deadLetterUnits: total.deadLetterUnits.toString() }, 'balance drift found');
    }
    return total;
  }

  async reconcileTenant(tenantId: string): Promise<ReconciliationReport> {
    const report: ReconciliationReport = { wallets: 0, drifting: 0, corrected: 0, driftUnits: 0n, deadLetterUnits: 0n };
    const customers: Array<{ customer_id: string }> = await this.systemDb.run((m) =>
      m.query(`SELECT customer_id FROM ledger_accounts WHERE tenant_id = $1 AND kind = 'customer_wallet' ORDER BY id`, [tenantId]),
    );
    const stateKey = `${billingKeys.tag(tenantId)}:recon`;
    const previous = await this.redis.hgetall(stateKey);
    const next: Record<string, string> = {};
    for (let i = 0; i < customers.length; i += CHUNK) {
      const readings = await this.readAtOneCut(tenantId, customers.slice(i, i + CHUNK).map((c) => c.customer_id));
      for (const r of readings) {
        report.wallets++;
        const drift = r.balance - r.expected;
        report.deadLetterUnits += r.deadLetters;
        if (drift === 0n) continue;
        report.drifting++;
        report.driftUnits += drift < 0n ? -drift : drift;
        // What the dead letters do not explain.
        const unexplained = drift + r.deadLetters;
        if (unexplained === 0n) continue;
        if (previous[r.customerId] === unexplained.toString()) {
          if (await this.balances.correct(tenantId, r.customerId, -unexplained)) {
            report.corrected++;
            this.balanceCorrectionsTotal.inc();
            this.logger.warn({ tenantId, customerId: r.customerId, drift: fromUnits(unexplained) }, 'redis balance corrected to the ledger');
          }
        } else {
          next[r.customerId] = unexplained.toString();
        }
      }
    }
    const pipeline = this.redis.multi().del(stateKey);
    if (Object.keys(next).length > 0) pipeline.hset(stateKey, next).expire(stateKey, 24 * 3600);
    await pipeline.exec();
    return report;
  }

  /** Ledger and Redis of these wallets at one consistent cut (see the class comment); only wallets loaded in Redis. */
  private readAtOneCut(
    tenantId: string,
    customerIds: string[],
  ): Promise<Array<{ customerId: string; balance: bigint; expected: bigint; deadLetters: bigint }>> {
    return this.systemDb.run(async (m) => {
      const rows: Array<{ customer_id: string; balance: string }> = await m.query(
        `SELECT customer_id, balance::text AS balance FROM ledger_accounts
          WHERE tenant_id = $1 AND kind = 'customer_wallet' AND customer_id = ANY($2::uuid[]) ORDER BY id FOR SHARE`,
        [tenantId, customerIds],
      );
      const [position]: Array<{ id: string }> = await m.query(`SELECT last_ms || '-' || last_seq AS id FROM metering_positions WHERE tenant_id = $1`, [tenantId]);
      const snapshot = await this.balances.snapshot(
        tenantId,
        rows.map((r) => r.customer_id),
        position?.id ?? null,
      );
      const metered = new Set<string>();
      if (snapshot.uncertain.length > 0) {
        const found: Array<{ request_id: string }> = await m.query(`SELECT request_id FROM usage_records WHERE tenant_id = $1 AND request_id = ANY($2::uuid[])`, [
          tenantId,
          [...new Set(snapshot.uncertain.map((u) => u.requestId))],
        ]);
        for (const f of found) metered.add(f.request_id);
      }
      const live = new Map<string, bigint>();
      const dead = new Map<string, bigint>();
      const seen = new Set<string>();
      for (const u of snapshot.uncertain) {
        // An event both in the stream and dead-lettered, or twice, was charged once.
        if (metered.has(u.requestId) || seen.has(u.requestId)) continue;
        seen.add(u.requestId);
        const into = u.deadLetter ? dead : live;
        into.set(u.customerId, (into.get(u.customerId) ?? 0n) + u.retailUnits);
      }
      const ledger = new Map(rows.map((r) => [r.customer_id, toUnits(r.balance)]));
      return snapshot.wallets
        .filter((w) => w.balanceUnits !== null) // not loaded: it will be loaded from the ledger
        .map((w) => {
          const deadLetters = dead.get(w.customerId) ?? 0n;
          const expected = ledger.get(w.customerId)! - w.holdUnits - w.unmeteredUnits - (live.get(w.customerId) ?? 0n) - deadLetters;
          return { customerId: w.customerId, balance: w.balanceUnits!, expected: expected + deadLetters, deadLetters };
        });
    });
  }

  /**
   * Releases every tenant's expired holds (left by an api instance that died mid-request), and
   * settles those of streams that died mid-way for what they had delivered (their checkpoint).
   */
  async releaseExpiredHolds(now = Date.now()): Promise<ExpiredHolds> {
    const tenants: Array<{ id: string }> = await this.systemDb.run((m) => m.query(`SELECT id FROM tenants ORDER BY id`));
    const total: ExpiredHolds = { released: 0, units: 0n, checkpointsSettled: 0, chargedUnits: 0n };
    for (const { id } of tenants) {
      for (;;) {
        const batch = await this.balances.releaseExpiredHolds(id, now, 1000);
        total.released += batch.released;
        total.units += batch.units;
        total.checkpointsSettled += batch.checkpointsSettled;
        total.chargedUnits += batch.chargedUnits;
        if (batch.released < 1000) break;
      }
    }
    if (total.released > 0) {
      this.holdsExpiredTotal.inc(total.released);
      this.logger.warn(
        { released: total.released, units: fromUnits(total.units), checkpointsSettled: total.checkpointsSettled, charged: fromUnits(total.chargedUnits) },
        'expired holds released',
      );
    }
    return total;
  }
}
