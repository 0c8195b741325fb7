import { Module } from '@nestjs/common';
import { LimitsRuntime } from './limits-runtime';
import { LimitsRepository } from './limits.repository';

/** What the inference proxy imports for stored limits: {@link LimitsRuntime}. */
@Module({
  providers: [LimitsRepository, LimitsRuntime],
  exports: [LimitsRuntime, LimitsRepository],
})
export class LimitsRuntimeModule {}
