import { Module } from '@nestjs/common';
import { PricingRuntime } from './pricing-runtime';
import { PricingRepository } from './pricing.repository';

/** What the inference proxy imports for prices: {@link PricingRuntime}. */
@Module({
  providers: [PricingRepository, PricingRuntime],
  exports: [PricingRuntime, PricingRepository],
})
export class PricingRuntimeModule {}
