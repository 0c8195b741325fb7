import { Module } from '@nestjs/common';
import { UsageRecordsRepository } from './usage-records.repository';

/** The usage records table's repository, for the metering worker and the usage summaries. */
@Module({ providers: [UsageRecordsRepository], exports: [UsageRecordsRepository] })
export class UsageRecordsModule {}
