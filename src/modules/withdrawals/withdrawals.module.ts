import { Module } from '@nestjs/common';
import { LedgerCoreModule } from '../ledger/ledger-core.module';
import { WithdrawalsController } from './withdrawals.controller';
import { WithdrawalsRepository } from './withdrawals.repository';
import { WithdrawalsService } from './withdrawals.service';

/** Api: withdrawals of settled reseller margin (request, approve, reject, pay, read). */
@Module({
  imports: [LedgerCoreModule],
  controllers: [WithdrawalsController],
  providers: [WithdrawalsService, WithdrawalsRepository],
})
export class WithdrawalsModule {}
