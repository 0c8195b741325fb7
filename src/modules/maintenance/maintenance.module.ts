import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SYSTEM_CONNECTION } from '@app/database';
import { SystemDb } from '@app/tenancy';
import { ContentLogsRepository } from '../content-logs/content-logs.repository';
import { DomainVerificationSweep } from '../tenants/domain-verification.sweep';
import { DomainVerifier } from '../tenants/domain-verifier';
import { TenantDomain } from '../tenants/tenant-domain.entity';
import { TenantsRepository } from '../tenants/tenants.repository';
import { MaintenanceProcessor } from './maintenance.processor';

/** Worker only. */
@Module({
  // The domain sweep records checks through the tenants repository on the system connection.
  imports: [TypeOrmModule.forFeature([TenantDomain], SYSTEM_CONNECTION)],
  providers: [SystemDb, MaintenanceProcessor, ContentLogsRepository, DomainVerifier, TenantsRepository, DomainVerificationSweep],
})
export class MaintenanceModule {}
