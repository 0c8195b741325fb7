import { Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { FastifyInstance } from 'fastify';
import type { Counter, Histogram } from 'prom-client';
import { METRIC } from './metrics';

/** Set on the raw request by tenant resolution; read here without importing the tenancy lib. */
export const REQUEST_TENANT_SLUG = Symbol.for('aigateway.request.tenantSlug');

/**
 * Times every request in Fastify's own hooks, labelled by the route *template* (bounded
 * cardinality): unknown paths share the label "unmatched".
 */
@Injectable()
export class HttpMetrics implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @InjectMetric(METRIC.httpRequestDuration) private readonly duration: Histogram<'method' | 'route' | 'status_code'>,
    @InjectMetric(METRIC.httpRequestsTotal) private readonly requests: Counter<'method' | 'route' | 'status_code' | 'tenant'>,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify?.addHook) return;
    fastify.addHook('onRequest', async (request) => {
      (request as unknown as { startedAt: bigint }).startedAt = process.hrtime.bigint();
    });
    const { duration, requests } = this;
    fastify.addHook('onResponse', async (request, reply) => {
      // A request answered by an earlier onRequest hook (404 at an unknown Host, 503) never reached
      // ours: Fastify's own clock times it then.
      const startedAt = (request as unknown as { startedAt?: bigint }).startedAt;
      const seconds = startedAt === undefined ? reply.elapsedTime / 1000 : Number(process.hrtime.bigint() - startedAt) / 1e9;
      const route = request.routeOptions?.url ?? 'unmatched';
      const labels = { method: request.method, route, status_code: String(reply.statusCode) };
      duration.observe(labels, seconds);
      const tenant = (request.raw as unknown as Record<symbol, string | undefined>)[REQUEST_TENANT_SLUG] ?? 'none';
      requests.inc({ ...labels, tenant });
    });
  }
}
