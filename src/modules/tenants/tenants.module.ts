import { Module } from '@nestjs/common';
import { DomainVerifier } from './domain-verifier';
import { TenantsController } from './tenants.controller';
import { TenantsRepository } from './tenants.repository';
import { TenantsService } from './tenants.service';

@Module({
  controllers: [TenantsController],
  providers: [TenantsRepository, TenantsService, DomainVerifier],
  exports: [TenantsRepository, TenantsService, DomainVerifier],
})
export class TenantsModule {}
