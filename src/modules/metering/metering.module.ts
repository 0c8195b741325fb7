import { Module } from '@nestjs/common';
import { SystemDb } from '@app/tenancy';
import { LedgerCoreModule } from '../ledger/ledger-core.module';
import { LowBalanceCoreModule } from '../low-balance/low-balance-core.module';
import { UsageRecordsModule } from '../usage/usage-records.module';
import { LedgerJobsProcessor } from './ledger-jobs.processor';
import { MeteringConsumer } from './metering.consumer';
import { ReconciliationService } from './reconciliation.service';
import { UsageWriter } from './usage-writer';

/** Worker only: the metering consumer and the ledger's scheduled jobs. */
@Module({
  imports: [LedgerCoreModule, UsageRecordsModule, LowBalanceCoreModule],
  providers: [SystemDb, UsageWriter, MeteringConsumer, ReconciliationService, LedgerJobsProcessor],
  exports: [MeteringConsumer, ReconciliationService, UsageWriter],
})
export class MeteringModule {}
