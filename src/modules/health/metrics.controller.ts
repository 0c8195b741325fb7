import { Controller, Get, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import { Public } from '@app/authorization';

/** /metrics for Prometheus; open like the health probes (keep it off the public ingress). */
@ApiExcludeController()
@Controller()
export class MetricsController extends PrometheusController {
  @Get()
  @Public()
  override index(@Res({ passthrough: true }) response: unknown) {
    return super.index(response);
  }
}
