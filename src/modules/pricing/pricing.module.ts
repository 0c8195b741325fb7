import { Module } from '@nestjs/common';
import { MembersModule } from '../members/members.module';
import { TenantsModule } from '../tenants/tenants.module';
import { PricingRuntimeModule } from './pricing-runtime.module';
import { PricingController, SubResellersController, WholesaleDiscountController } from './pricing.controller';
import { SubResellersService } from './sub-resellers.service';
import { PricingService } from './pricing.service';
import { PriceRulesController } from './price-rules.controller';
import { PriceRulesService } from './price-rules.service';
import { PriceRulesRepository } from './price-rules.repository';

@Module({
  imports: [TenantsModule, PricingRuntimeModule, MembersModule],
  controllers: [PricingController, WholesaleDiscountController, PriceRulesController, SubResellersController],
  providers: [PricingService, PriceRulesService, PriceRulesRepository, SubResellersService],
})
export class PricingModule {}
