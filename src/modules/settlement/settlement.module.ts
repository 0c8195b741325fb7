import { Module } from '@nestjs/common';
import { LedgerCoreModule } from '../ledger/ledger-core.module';
import { OpenPeriodController } from './open-period.controller';
import { OpenPeriodService } from './open-period.service';
import { StatementAdjustmentsController } from './statement-adjustments.controller';
import { StatementAdjustmentsRepository } from './statement-adjustments.repository';
import { StatementAdjustmentsService } from './statement-adjustments.service';
import { StatementsController } from './statements.controller';
import { StatementsRepository } from './statements.repository';
import { StatementsService } from './statements.service';

/** Api: reading settlement statements and adjusting closed ones (the worker's SettlementWorkerModule closes them). */
@Module({
  imports: [LedgerCoreModule],
  controllers: [OpenPeriodController, StatementsController, StatementAdjustmentsController],
  providers: [OpenPeriodService, StatementsRepository, StatementsService, StatementAdjustmentsRepository, StatementAdjustmentsService],
})
export class SettlementModule {}
