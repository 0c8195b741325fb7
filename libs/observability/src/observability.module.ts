import { Global, Module } from '@nestjs/common';
import { DependencyProbe } from './dependency-probe';
import { HttpMetrics } from './http-metrics';
import { observabilityMetricProviders } from './metrics';

/** Probes, HTTP metrics and the shared metric providers (every process; global). */
@Global()
@Module({
  providers: [...observabilityMetricProviders, DependencyProbe, HttpMetrics],
  exports: [...observabilityMetricProviders, DependencyProbe],
})
export class ObservabilityModule {}
