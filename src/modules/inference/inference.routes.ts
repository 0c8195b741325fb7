import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppConfig, APP_CONFIG } from '@app/config';
import type { Endpoint } from '@app/providers';
import { clientIpOf, hostTenantOf } from '@app/tenancy';
import { ChannelsRuntime } from '../channels/runtime/channels-runtime';
import { PricingRuntime } from '../pricing/pricing-runtime';
import { toInferenceError, writeInferenceFailure } from './inference-failure';
import { InferenceError } from './openai-error';
import { InferenceService } from './inference.service';

const ENDPOINTS: Array<[string, Endpoint | 'count_tokens']> = [
  ['/v1/chat/completions', 'chat'],
  ['/v1/completions', 'completions'],
  ['/v1/embeddings', 'embeddings'],
  ['/v1/messages', 'messages'],
  ['/v1/messages/count_tokens', 'count_tokens'],
  ['/v1/responses', 'responses'],
  ['/v1/moderations', 'moderations'],
  ['/v1/rerank', 'rerank'],
  ['/v1/images/generations', 'images'],
];

/**
 * The OpenAI-compatible routes, registered on Fastify directly: the hot path skips Nest's
 * guards, pipes and interceptors (admin concerns) and writes to the socket itself, so streams
 * are piped as they arrive. Documented in the OpenAPI document by `inferenceOpenApi`.
 */
@Injectable()
export class InferenceRoutes implements OnModuleInit {
  private readonly logger = new Logger(InferenceRoutes.name);

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly inference: InferenceService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prices: PricingRuntime,
    private readonly channels: ChannelsRuntime,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify) return; // no HTTP server (cli)
    for (const [url, endpoint] of ENDPOINTS) {
      fastify.post(url, { bodyLimit: this.config.INFERENCE_BODY_LIMIT_BYTES }, (request, reply) => this.call(endpoint, request, reply));
    }
    fastify.get('/v1/models', (request, reply) => this.guard(request, reply, async () => ({ object: 'list', data: await this.models(request) })));
    fastify.get<{ Params: { id: string } }>('/v1/models/:id', (request, reply) =>
      this.guard(request, reply, async () => {
        const model = (await this.models(request)).find((m) => m.id === request.params.id);
        if (!model) throw InferenceError.modelNotFound(request.params.id);
        return model;
      }),
    );
  }

  private async call(endpoint: Endpoint | 'count_tokens', request: FastifyRequest, reply: FastifyReply): Promise<void> {
    reply.hijack();
    try {
      if (endpoint === 'count_tokens') {
        const call = { tenant: hostTenantOf(request.raw), headers: request.headers, body: request.body, clientIp: clientIpOf(request.raw), requestId: String(request.id), res: reply.raw };
        return await this.inference.countTokens(call);
      }
      await this.inference.handle({
        endpoint,
        tenant: hostTenantOf(request.raw),
        headers: request.headers,
        body: request.body,
        bodyBytes: Number(request.headers['content-length'] ?? 0) || JSON.stringify(request.body ?? '').length,
        clientIp: clientIpOf(request.raw),
        requestId: String(request.id),
        res: reply.raw,
      });
    } catch (error) {
      if (endpoint === 'messages' || endpoint === 'count_tokens') writeInferenceFailure(this.logger, error, String(request.id), reply.raw, 'anthropic');
      else this.fail(error, request, reply, true);
    }
  }

  private async guard(request: FastifyRequest, reply: FastifyReply, body: () => Promise<unknown>): Promise<void> {
    try {
      const result = await body();
      void reply.header('content-type', 'application/json').send(result);
    } catch (error) {
      this.fail(error, request, reply, false);
    }
  }

  private async models(request: FastifyRequest) {
    const tenant = hostTenantOf(request.raw);
    const key = await this.inference.authenticate(tenant, request.headers, clientIpOf(request.raw));
    // Priced in the tenant, not hidden, allowed on the key, and served by an enabled channel.
    return (await this.prices.modelsForKey(key))
      .filter((m) => this.channels.serves(m))
      .sort()
      .map((id) => ({ id, object: 'model', created: 0, owned_by: tenant?.slug ?? 'aigateway', protocols: this.channels.protocolsOf(id) }));
  }

  private fail(error: unknown, request: FastifyRequest, reply: FastifyReply, hijacked: boolean): void {
    const requestId = String(request.id);
    if (hijacked) return writeInferenceFailure(this.logger, error, requestId, reply.raw);
    const failure = toInferenceError(this.logger, error, requestId);
    void reply
      .code(failure.status)
      .headers({ 'content-type': 'application/json', 'x-request-id': requestId, ...failure.headers })
      .send(JSON.stringify(failure.body()));
  }
}
