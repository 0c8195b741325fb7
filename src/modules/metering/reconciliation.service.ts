import { Inject, Injectable, Logger } from '@nestjs/common';
import { billingKeys } from '@app/billing';
import { REDIS } from '@app/redis';
import { fromUnits, toUnits } from '@app/money';
import { METRIC } from '@app/observability';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge } from 'prom-client';
import { SystemDb } from '@app/tenancy';
import Redis from 'ioredis';
import { BalanceService } from '../ledger/balance.service';

export interface ReconciliationReport {
  wallets: number;
  drifting: number;
  corrected: number;
  /** Summed absolute drift, nano-units. */
  driftUnits: bigint;
}

/**
 * Compares every loaded wallet in Redis with the ledger (DESIGN.md "Metering and settlement"):
 * expected Redis balance = ledger balance - open holds - retail of events not metered yet. A
 * drift is corrected only when the same drift was already seen on the previous run (kept in
 * `{t}:recon`), so a request settling or a batch committing between the two reads of one run is
 * never "corrected". The drift of the last run is exported (aigateway_balance_drift*; alert
 * AIGatewayBalanceDrift).
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
    const total: ReconciliationReport = { wallets: 0, drifting: 0, corrected: 0, driftUnits: 0n };
    for (const { id } of tenants) {
      const report = await this.reconcileTenant(id);
      total.wallets += report.wallets;
      total.drifting += report.drifting;
      total.corrected += report.corrected;
      total.driftUnits += report.driftUnits;
    }
    this.balanceDrift.set(Number(fromUnits(total.driftUnits)));
    this.balanceDriftWallets.set(total.drifting);
    if (total.drifting > 0) this.logger.warn({ ...total, driftUnits: total.driftUnits.toString() }, 'balance drift found');
    return total;
  }

  async reconcileTenant(tenantId: string): Promise<ReconciliationReport> {
    const report: ReconciliationReport = { wallets: 0, drifting: 0, corrected: 0, driftUnits: 0n };
    const wallets: Array<{ customer_id: string; balance: string }> = await this.systemDb.run((m) =>
      m.query(`SELECT customer_id, balance::text AS balance FROM ledger_accounts WHERE tenant_id = $1 AND kind = 'customer_wallet'`, [tenantId]),
    );
    const ledger = new Map(wallets.map((w) => [w.customer_id, toUnits(w.balance)]));
    const stateKey = `${billingKeys.tag(tenantId)}:recon`;
    const previous = await this.redis.hgetall(stateKey);
    const next: Record<string, string> = {};
    for (let i = 0; i < wallets.length; i += 500) {
      const snapshots = await this.balances.snapshot(tenantId, wallets.slice(i, i + 500).map((w) => w.customer_id));
      for (const s of snapshots) {
        if (s.balanceUnits === null) continue; // not loaded: it will be loaded from the ledger
        report.wallets++;
        const expected = ledger.get(s.customerId)! - s.holdUnits - s.unmeteredUnits;
        const drift = s.balanceUnits - expected;
        if (drift === 0n) continue;
        report.drifting++;
        report.driftUnits += drift < 0n ? -drift : drift;
        if (previous[s.customerId] === drift.toString()) {
          if (await this.balances.correct(tenantId, s.customerId, -drift)) {
            report.corrected++;
            this.balanceCorrectionsTotal.inc();
            this.logger.warn({ tenantId, customerId: s.customerId, drift: fromUnits(drift) }, 'redis balance corrected to the ledger');
          }
        } else {
          next[s.customerId] = drift.toString();
        }
      }
    }
    const pipeline = this.redis.multi().del(stateKey);
    if (Object.keys(next).length > 0) pipeline.hset(stateKey, next).expire(stateKey, 24 * 3600);
    await pipeline.exec();
    return report;
  }

  /** Releases every tenant's expired holds (left by an api instance that died mid-request). */
  async releaseExpiredHolds(now = Date.now()): Promise<{ released: number; units: bigint }> {
    const tenants: Array<{ id: string }> = await this.systemDb.run((m) => m.query(`SELECT id FROM tenants ORDER BY id`));
    let released = 0;
    let units = 0n;
    for (const { id } of tenants) {
      for (;;) {
        const batch = await this.balances.releaseExpiredHolds(id, now, 1000);
        released += batch.released;
        units += batch.units;
        if (batch.released < 1000) break;
      }
    }
    if (released > 0) {
      this.holdsExpiredTotal.inc(released);
      this.logger.warn({ released, units: fromUnits(units) }, 'expired holds released');
    }
    return { released, units };
  }
}
