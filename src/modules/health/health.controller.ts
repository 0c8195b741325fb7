import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
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
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    try {
      return await this.health.check([() => this.check('postgres'), () => this.check('redis')]);
    } catch (error) {
      // Terminus reports a failed check as a 503 whose body names the dependency; answer with that
      // body itself (probes and operators read it), not a generic problem document.
      if (error instanceof ServiceUnavailableException) {
        reply.status(503);
        return error.getResponse();
      }
      throw error;
    }
  }

  private async check(dependency: Dependency) {
    const indicator = this.indicators.check(dependency);
    const result = await this.probe.probe(dependency);
    return result.up ? indicator.up() : indicator.down({ message: result.error });
  }
}
