import { Module } from '@nestjs/common';
import { TenantsModule } from '../tenants/tenants.module';
import { PricingRuntimeModule } from './pricing-runtime.module';
import { PricingController, WholesaleDiscountController } from './pricing.controller';
import { PricingService } from './pricing.service';
import { PriceRulesController } from './price-rules.controller';
import { PriceRulesService } from './price-rules.service';
import { PriceRulesRepository } from './price-rules.repository';

@Module({
  imports: [TenantsModule, PricingRuntimeModule],
  controllers: [PricingController, WholesaleDiscountController, PriceRulesController],
  providers: [PricingService, PriceRulesService, PriceRulesRepository],
})
export class PricingModule {}
