import { Controller, Get } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Public } from '@app/authorization';
import { Dependency, DependencyProbe } from '@app/observability';

/**
 * Liveness says the process can serve; readiness says its dependencies answer. Readiness names
 * the dependency that failed (503), and recovers by itself when the dependency comes back.
 */
@ApiExcludeController()
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly probe: DependencyProbe,
  ) {}

  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.check('postgres'), () => this.check('redis')]);
  }

  private async check(dependency: Dependency) {
    const indicator = this.indicators.check(dependency);
    const result = await this.probe.probe(dependency);
    return result.up ? indicator.up() : indicator.down({ message: result.error });
  }
}
