import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { KeysRuntimeModule } from '../keys/keys-runtime.module';
import { TenantsModule } from '../tenants/tenants.module';
import { UsageRecordsModule } from '../usage/usage-records.module';
import { CustomersController } from './customers.controller';
import { CustomersRepository } from './customers.repository';
import { CustomersService } from './customers.service';
import { SalespersonRelease } from './salesperson-release';
import { TenantSalesController } from './tenant-sales.controller';
import { TenantSalesService } from './tenant-sales.service';
import { UsageSummaryService } from './usage-summary.service';
import { PlatformUsageController, UsageController } from './usage.controller';

@Module({
  imports: [AuthModule, TenantsModule, UsageRecordsModule, KeysRuntimeModule],
  controllers: [CustomersController, TenantSalesController, UsageController, PlatformUsageController],
  providers: [CustomersRepository, CustomersService, TenantSalesService, UsageSummaryService, SalespersonRelease],
  exports: [SalespersonRelease],
})
export class CustomersModule {}
