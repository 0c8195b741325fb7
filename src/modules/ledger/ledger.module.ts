import { Module } from '@nestjs/common';
import { LowBalanceCoreModule } from '../low-balance/low-balance-core.module';
import { LedgerCoreModule } from './ledger-core.module';
import { LedgerController } from './ledger.controller';
import { LedgerService } from './ledger.service';

/** Api: balances, transactions and credits (payments arrive through the topups module). */
@Module({
  imports: [LedgerCoreModule, LowBalanceCoreModule],
  controllers: [LedgerController],
  providers: [LedgerService],
  exports: [LedgerService],
})
export class LedgerModule {}
