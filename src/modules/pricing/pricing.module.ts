import { Module } from '@nestjs/common';
import { TenantsModule } from '../tenants/tenants.module';
import { PricingRuntimeModule } from './pricing-runtime.module';
import { PricingController, WholesaleDiscountController } from './pricing.controller';
import { PricingService } from './pricing.service';

@Module({
  imports: [TenantsModule, PricingRuntimeModule],
  controllers: [PricingController, WholesaleDiscountController],
  providers: [PricingService],
})
export class PricingModule {}
