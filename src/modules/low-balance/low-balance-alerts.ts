import { Inject, Injectable } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '@app/config';
import { toUnits } from '@app/money';
import { EntityManager } from 'typeorm';
import { WebhookOutbox } from '../webhooks/webhook-outbox';
import { balanceCrossings } from './balance-crossings';
import { LowBalanceRepository } from './low-balance.repository';

/**
 * Publishes `billing.low_balance` and `billing.balance_depleted` for wallets that crossed their
 * threshold or zero in the caller's transaction (metering's usage batches, manual debits). The
 * events are written in that same transaction: they exist if and only if the debit committed, and
 * a replayed batch, which debits nothing, publishes nothing.
 */
@Injectable()
export class LowBalanceAlerts {
  constructor(
    private readonly repository: LowBalanceRepository,
    private readonly outbox: WebhookOutbox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** `debited`: per customer of `tenantId`, what their wallet lost in this transaction (nano-units, positive). */
  async afterDebits(m: EntityManager, tenantId: string, debited: ReadonlyMap<string, bigint>): Promise<number> {
    const moves = await this.repository.debitedWallets(m, tenantId, debited, this.config.LOW_BALANCE_DEFAULT_THRESHOLD);
    let published = 0;
    for (const move of moves) {
      for (const type of balanceCrossings(toUnits(move.before), toUnits(move.after), toUnits(move.threshold))) {
        await this.outbox.publish(m, tenantId, type, { customerId: move.customerId, balance: move.after, threshold: move.threshold });
        published++;
      }
    }
    return published;
  }

  /** The platform-wide fallback threshold (LOW_BALANCE_DEFAULT_THRESHOLD). */
  get platformDefault(): string {
    return this.config.LOW_BALANCE_DEFAULT_THRESHOLD;
  }
}
