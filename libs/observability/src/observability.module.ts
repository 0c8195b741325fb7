import { Global, Module } from '@nestjs/common';
import { DependencyProbe } from './dependency-probe';
import { HttpMetrics } from './http-metrics';

@Global()
@Module({
  providers: [DependencyProbe, HttpMetrics],
  exports: [DependencyProbe],
})
export class ObservabilityModule {}
