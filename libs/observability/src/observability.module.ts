import { DynamicModule, Global, Module } from '@nestjs/common';
import { DependencyProbe } from './dependency-probe';
import { HttpMetrics } from './http-metrics';
import { observabilityMetricProviders } from './metrics';
import { Tracing, TRACING_PROCESS } from './tracing';

/** Probes, HTTP metrics and the shared metric providers (every process; global). */
@Global()
@Module({
  providers: [...observabilityMetricProviders, DependencyProbe, HttpMetrics, Tracing],
  exports: [...observabilityMetricProviders, DependencyProbe, Tracing],
})
export class ObservabilityModule {
  /** With the process's name (the traces' service name). */
  static forProcess(processName: string): DynamicModule {
    return { module: ObservabilityModule, providers: [{ provide: TRACING_PROCESS, useValue: processName }] };
  }
}
