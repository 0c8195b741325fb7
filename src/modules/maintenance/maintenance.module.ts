import { Module } from '@nestjs/common';
import { SystemDb } from '@app/tenancy';
import { ContentLogsRepository } from '../content-logs/content-logs.repository';
import { MaintenanceProcessor } from './maintenance.processor';

/** Worker only. */
@Module({ providers: [SystemDb, MaintenanceProcessor, ContentLogsRepository] })
export class MaintenanceModule {}
