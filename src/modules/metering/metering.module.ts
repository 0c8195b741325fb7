import { Module } from '@nestjs/common';
import { SystemDb } from '@app/tenancy';
import { LedgerCoreModule } from '../ledger/ledger-core.module';
import { LowBalanceCoreModule } from '../low-balance/low-balance-core.module';
import { RiskCoreModule } from '../risk/risk-core.module';
import { UsageRecordsModule } from '../usage/usage-records.module';
import { DeadLetterReplay } from './dead-letter-replay';
import { LedgerJobsProcessor } from './ledger-jobs.processor';
import { MeteringProcessor } from './metering.processor';
import { ReconciliationService } from './reconciliation.service';
import { UsageWriter } from './usage-writer';

/** Worker only: the metering drain jobs and the ledger's scheduled jobs. */
@Module({
  imports: [LedgerCoreModule, UsageRecordsModule, LowBalanceCoreModule, RiskCoreModule],
  providers: [SystemDb, UsageWriter, MeteringProcessor, ReconciliationService, LedgerJobsProcessor, DeadLetterReplay],
  exports: [MeteringProcessor, ReconciliationService, UsageWriter, DeadLetterReplay],
})
export class MeteringModule {}
