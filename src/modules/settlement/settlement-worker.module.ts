import { Module } from '@nestjs/common';
import { SystemDb } from '@app/tenancy';
import { LedgerCoreModule } from '../ledger/ledger-core.module';
import { SettlementJobsProcessor } from './settlement-jobs.processor';
import { StatementCloser } from './statement-closer.service';
import { StatementsRepository } from './statements.repository';

/** Worker only: the scheduled close of settlement periods. */
@Module({
  imports: [LedgerCoreModule],
  providers: [SystemDb, StatementsRepository, StatementCloser, SettlementJobsProcessor],
  exports: [StatementCloser],
})
export class SettlementWorkerModule {}
