import { Module } from '@nestjs/common';
import { LowBalanceCoreModule } from '../low-balance/low-balance-core.module';
import { LedgerCoreModule } from './ledger-core.module';
import { LedgerController } from './ledger.controller';
import { LedgerService } from './ledger.service';
import { StripeRawBody } from './stripe-raw-body';
import { StripeWebhookService } from './stripe-webhook.service';

/** Api: balances, transactions, credits and the Stripe webhook. */
@Module({
  imports: [LedgerCoreModule, LowBalanceCoreModule],
  controllers: [LedgerController],
  providers: [LedgerService, StripeWebhookService, StripeRawBody],
})
export class LedgerModule {}
