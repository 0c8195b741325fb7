import { AppException, COMMON_ERROR_TITLES, CommonErrorCode, errorShapeFor, openAiError, PROBLEM_CONTENT_TYPE } from '@app/errors';
import { REQUEST_TENANT_ID, REQUEST_TENANT_SLUG } from '@app/observability';
import type { FastifyInstance } from 'fastify';
import { IncomingMessage } from 'node:http';
import { TenantResolver } from './tenant-resolver';
import { ResolvedTenant } from './tenant.types';

/** Where the Host's tenant is kept on the raw request until the request context takes it. */
export const REQUEST_HOST_TENANT = Symbol.for('aigateway.request.hostTenant');

/** The client address as Fastify sees it (X-Forwarded-For only when TRUST_PROXY is on). */
export const REQUEST_CLIENT_IP = Symbol.for('aigateway.request.clientIp');

export function clientIpOf(req: IncomingMessage): string | null {
  return (req as unknown as Record<symbol, string | undefined>)[REQUEST_CLIENT_IP] ?? req.socket?.remoteAddress ?? null;
}

export function hostTenantOf(req: IncomingMessage): ResolvedTenant | null {
  return (req as unknown as Record<symbol, ResolvedTenant | null | undefined>)[REQUEST_HOST_TENANT] ?? null;
}

const SKIP = /^\/(health|metrics)(\/|\?|$)/;

/** Health probes are answered at any Host: kubelets and load balancers call by address. */
export function servedAtAnyHost(url: string): boolean {
  return SKIP.test(url);
}

/** Why a request at a Host that is no tenant's domain is refused (in the route's error shape). */
export const UNKNOWN_HOST_DETAIL = 'No tenant serves this host: call the API at a tenant\'s domain.';

/**
 * Resolves the Host header's tenant for every request (unknown routes included, so logs and
 * metrics carry it) in Fastify's first hook, before the request context is created. Probes and
 * scrapes skip it. A Host that is no tenant's domain is answered 404 `unknown_tenant` here, on
 * every route but health (API docs, JWKS and webhooks included): the token's tenant is never a
 * fallback. The resolver is bound once the Nest application exists.
 */
export function installHostTenantHook(fastify: FastifyInstance): (resolver: TenantResolver) => void {
  let resolver: TenantResolver | undefined;
  fastify.addHook('onRequest', async (request, reply) => {
    (request.raw as unknown as Record<symbol, unknown>)[REQUEST_CLIENT_IP] = request.ip;
    if (!resolver || SKIP.test(request.url)) return;
    let tenant: ResolvedTenant | null;
    try {
      tenant = await resolver.resolveHost(request.host);
      const raw = request.raw as unknown as Record<symbol, unknown>;
      raw[REQUEST_HOST_TENANT] = tenant;
      if (tenant) {
        raw[REQUEST_TENANT_ID] = tenant.id;
        raw[REQUEST_TENANT_SLUG] = tenant.slug;
      }
    } catch {
      const problem = AppException.common(CommonErrorCode.ServiceUnavailable, 503, 'The tenant directory is unavailable; retry shortly.');
      return reply
        .code(503)
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .header('retry-after', '2')
        .send({ type: `urn:aigateway:problem:${problem.code}`, title: problem.title, status: 503, code: problem.code, detail: problem.detail, requestId: String(request.id) });
    }
    if (tenant) return;
    const code = CommonErrorCode.UnknownTenant;
    if (errorShapeFor(request.url) === 'openai') return reply.code(404).send(openAiError(404, UNKNOWN_HOST_DETAIL, code));
    return reply
      .code(404)
      .header('content-type', PROBLEM_CONTENT_TYPE)
      .send({ type: `urn:aigateway:problem:${code}`, title: COMMON_ERROR_TITLES[code], status: 404, code, detail: UNKNOWN_HOST_DETAIL, requestId: String(request.id) });
  });
  return (bound) => {
    resolver = bound;
  };
}
