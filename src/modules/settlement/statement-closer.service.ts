import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { fromUnits, toUnits } from '@app/money';
import { SystemDb } from '@app/tenancy';
import { EntityManager } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { EntryInput, LedgerRepository } from '../ledger/ledger.repository';
import { WebhookOutbox } from '../webhooks/webhook-outbox';
import { PeriodKind, periodEndAfter, periodStartOf } from './periods';
import { PeriodOutOfOrderError } from './settlement.exceptions';
import { FigureRow, LastStatement, StatementsRepository } from './statements.repository';

type TenantOf = { id: string; type: 'platform' | 'reseller'; createdAt: Date };

export interface ClosedStatement {
  id: string;
  tenantId: string;
  periodStart: string;
  periodEnd: string;
  /** False when the period had been closed already (by another worker, or an earlier run). */
  created: boolean;
}

/**
 * Closes settlement periods (worker, system role). One database transaction per tenant and period
 * writes the statement and its lines, the reseller's `settlement` ledger transaction and the
 * `statement.closed` webhook event, so they exist together or not at all.
 *
 * Money (migration SettlementLedger): for a reseller, everything the statement settles (its
 * period's records and the late records of earlier periods) moves out of reseller_revenue (-retail)
 * and wholesale_payable (+wholesale) into reseller_settled (+retail - wholesale), the withdrawable
 * margin. The platform's own statement moves no money: its direct customers' retail is platform
 * revenue already. Manual adjustments made since the previous cutoff are reported (`adjustments`,
 * lines of kind 'adjustment') but not settled again: each posted its own ledger transaction.
 */
@Injectable()
export class StatementCloser {
  private readonly logger = new Logger(StatementCloser.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly systemDb: SystemDb,
    private readonly statements: StatementsRepository,
    private readonly ledger: LedgerRepository,
    private readonly outbox: WebhookOutbox,
  ) {}

  /**
   * The scheduled job: every tenant's periods that ended at least SETTLEMENT_GRACE_SECONDS before
   * `now`, from its last statement (or its creation), at most SETTLEMENT_MAX_PERIODS_PER_RUN each.
   * A tenant that fails is logged and retried next run; the others go on.
   */
  async closeAllDue(now = new Date()): Promise<{ closed: number; failed: number }> {
    const tenants = await this.systemDb.run((m) => this.statements.tenantsToClose(m));
    let closed = 0;
    let failed = 0;
    for (const tenant of tenants) {
      const start = tenant.lastPeriodEnd ?? periodStartOf(tenant.createdAt, this.kind);
      if (!this.isDue(start, now)) continue;
      try {
        closed += (await this.closeDue(tenant.id, now)).filter((s) => s.created).length;
      } catch (error) {
        failed += 1;
        this.logger.error({ tenantId: tenant.id, err: error }, 'closing statements failed; retried next run');
      }
    }
    if (closed > 0 || failed > 0) this.logger.log({ closed, failed }, 'settlement periods closed');
    return { closed, failed };
  }

  /** Closes one tenant's due periods in order (each in its own transaction). */
  async closeDue(tenantId: string, now = new Date()): Promise<ClosedStatement[]> {
    const closed: ClosedStatement[] = [];
    for (let i = 0; i < this.config.SETTLEMENT_MAX_PERIODS_PER_RUN; i++) {
      const result = await this.withCutoff(tenantId, async (m, tenant, last, cutoff) => {
        const start = last?.periodEnd ?? periodStartOf(tenant.createdAt, this.kind);
        if (!this.isDue(start, now)) return null;
        return this.write(m, tenant, start, this.kind, last, cutoff);
      });
      if (!result) break;
      closed.push(result);
    }
    return closed;
  }

  /**
   * Closes the period of `kind` starting at `start` for one tenant, now: for tests and operators.
   * It must be the tenant's next period (or its first); closing one again returns it unchanged.
   */
  async closePeriod(tenantId: string, start: Date, kind: PeriodKind = this.kind): Promise<ClosedStatement> {
    const result = await this.withCutoff(tenantId, async (m, tenant, last, cutoff) => {
      const existing = await this.statements.findByPeriod(m, tenantId, start);
      if (existing) {
        return { id: existing.id, tenantId, periodStart: start.toISOString(), periodEnd: periodEndAfter(start, kind).toISOString(), created: false };
      }
      if (last && last.periodEnd.getTime() !== start.getTime()) {
        throw new PeriodOutOfOrderError(`the next period of tenant ${tenantId} starts at ${last.periodEnd.toISOString()}, not ${start.toISOString()}`);
      }
      return this.write(m, tenant, start, kind, last, cutoff);
    });
    if (!result) throw new Error(`unknown tenant ${tenantId}`);
    return result;
  }

  /**
   * Takes a cutoff (a short transaction of its own, before the close's: the lock it holds pauses
   * metering, and a close must never wait for a second pooled connection while holding one), then
   * runs `work` in a transaction holding the tenant's close lock. A cutoff not later than the last
   * statement's (another close got in between) is taken again.
   */
  private async withCutoff<T>(
    tenantId: string,
    work: (m: EntityManager, tenant: TenantOf, last: LastStatement | null, cutoff: string) => Promise<T | null>,
  ): Promise<T | null> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const cutoff = await this.systemDb.run((m) => this.statements.cutoff(m));
      const outcome = await this.systemDb.run(async (m) => {
        await this.statements.lockTenant(m, tenantId);
        const tenant = await this.statements.tenant(m, tenantId);
        if (!tenant) return { done: true as const, value: null };
        const last = await this.statements.last(m, tenantId);
        // Same fixed-width ISO format on both sides: text order is time order.
        if (last && last.closedAt >= cutoff) return { done: false as const };
        return { done: true as const, value: await work(m, tenant, last, cutoff) };
      });
      if (outcome.done) return outcome.value;
    }
    throw new Error(`could not take a cutoff later than the last statement of tenant ${tenantId}`);
  }

  private get kind(): PeriodKind {
    return this.config.SETTLEMENT_PERIOD;
  }

  private isDue(start: Date, now: Date): boolean {
    return periodEndAfter(start, this.kind).getTime() + this.config.SETTLEMENT_GRACE_SECONDS * 1000 <= now.getTime();
  }

  private async write(
    m: EntityManager,
    tenant: TenantOf,
    start: Date,
    kind: PeriodKind,
    last: LastStatement | null,
    cutoff: string,
  ): Promise<ClosedStatement> {
    const end = periodEndAfter(start, kind);
    if (new Date(cutoff) < end) throw new Error(`period ${start.toISOString()}..${end.toISOString()} has not ended yet`);
    const figures = await this.statements.figures(m, {
      tenantId: tenant.id,
      tenantType: tenant.type,
      start,
      end,
      cutoff,
      previousCutoff: last?.closedAt ?? null,
    });
    const id = uuidv7();
    const settlementTransactionId = tenant.type === 'reseller' ? await this.settle(m, tenant.id, id, start, figures.totals, figures.correctionTotals) : null;
    const corrected = [
      ...new Set([
        ...figures.corrections.map((c) => c.corrects_statement_id).filter((x): x is string => x !== null),
        ...figures.adjustments.map((a) => a.corrects_statement_id),
      ]),
    ];
    // Reported, not settled: each adjustment's own ledger transaction moved its money already.
    const adjustments = fromUnits(figures.adjustments.reduce((sum, a) => sum + toUnits(a.amount), 0n));
    await this.statements.insert(
      m,
      {
        id,
        tenantId: tenant.id,
        tenantType: tenant.type,
        kind,
        start,
        end,
        closedAt: cutoff,
        previousClosedAt: last?.closedAt ?? null,
        totals: figures.totals,
        corrections: figures.correctionTotals,
        correctedStatementIds: corrected,
        settlementTransactionId,
        adjustments,
      },
      figures,
    );
    const t = figures.totals;
    const c = figures.correctionTotals;
    await this.outbox.publish(m, tenant.id, 'statement.closed', {
      statementId: id,
      periodKind: kind,
      periodStart: start.toISOString(),
      periodEnd: end.toISOString(),
      requests: Number(t.requests),
      retailRevenue: t.retail_revenue,
      wholesaleCost: t.wholesale_cost,
      margin: t.margin,
      corrections: { requests: Number(c.requests), retailRevenue: c.retail_revenue, wholesaleCost: c.wholesale_cost, margin: c.margin, correctedStatementIds: corrected },
      settledMargin: fromUnits(toUnits(t.margin) + toUnits(c.margin)),
      adjustments,
    });
    return { id, tenantId: tenant.id, periodStart: start.toISOString(), periodEnd: end.toISOString(), created: true };
  }

  /** The reseller's settlement transaction; null when every leg is zero (nothing to move). */
  private async settle(m: EntityManager, tenantId: string, statementId: string, start: Date, totals: FigureRow, corrections: FigureRow): Promise<string | null> {
    const retail = toUnits(totals.retail_revenue) + toUnits(corrections.retail_revenue);
    const wholesale = toUnits(totals.wholesale_cost) + toUnits(corrections.wholesale_cost);
    const legs: Array<[Parameters<LedgerRepository['tenantAccount']>[2], bigint]> = [
      ['reseller_revenue', -retail],
      ['wholesale_payable', wholesale],
      ['reseller_settled', retail - wholesale],
    ];
    const entries: EntryInput[] = [];
    for (const [kind, units] of legs) {
      if (units === 0n) continue;
      entries.push({ accountId: await this.ledger.tenantAccount(m, tenantId, kind), tenantId, amount: fromUnits(units) });
    }
    if (entries.length === 0) return null;
    const id = uuidv7();
    await this.ledger.post(m, [
      {
        id,
        tenantId,
        kind: 'settlement',
        idempotencyKey: `settlement:${statementId}`,
        customerId: null,
        amount: '0',
        note: `settlement of the period starting ${start.toISOString()}`,
        entries,
      },
    ]);
    return id;
  }
}
