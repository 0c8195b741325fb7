import { Module } from '@nestjs/common';
import { SystemDb } from '@app/tenancy';
import { ContentLogsRepository } from '../content-logs/content-logs.repository';
import { DomainVerificationSweep } from '../tenants/domain-verification.sweep';
import { DomainVerifier } from '../tenants/domain-verifier';
import { TenantsRepository } from '../tenants/tenants.repository';
import { MaintenanceProcessor } from './maintenance.processor';

/** Worker only. */
@Module({ providers: [SystemDb, MaintenanceProcessor, ContentLogsRepository, DomainVerifier, TenantsRepository, DomainVerificationSweep] })
export class MaintenanceModule {}
