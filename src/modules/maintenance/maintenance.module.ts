import { Module } from '@nestjs/common';
import { SystemDb } from '@app/tenancy';
import { MaintenanceProcessor } from './maintenance.processor';

/** Worker only. */
@Module({ providers: [SystemDb, MaintenanceProcessor] })
export class MaintenanceModule {}
