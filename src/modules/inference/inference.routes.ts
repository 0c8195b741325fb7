import multipart from '@fastify/multipart';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppConfig, APP_CONFIG } from '@app/config';
import { assertStorableText, CommonErrorCode } from '@app/errors';
import type { Endpoint, UploadedFile } from '@app/providers';
import { clientIpOf, hostTenantOf } from '@app/tenancy';
import { ChannelsRuntime } from '../channels/runtime/channels-runtime';
import { PricingRuntime } from '../pricing/pricing-runtime';
import { toInferenceError, writeInferenceFailure } from './inference-failure';
import { asInferenceError } from './inference-front-door';
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
  ['/v1/audio/speech', 'speech'],
];

/** The multipart form of a transcription: one file, a few short fields. */
const TRANSCRIPTION_FIELD_BYTES = 64 * 1024;
const TRANSCRIPTION_FIELDS = 20;
/** Room for the form's boundaries, part headers and fields beyond the file itself. */
const MULTIPART_OVERHEAD_BYTES = TRANSCRIPTION_FIELDS * (TRANSCRIPTION_FIELD_BYTES + 1024);

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
    this.registerTranscriptions(fastify);
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

  /**
   * POST /v1/audio/transcriptions takes multipart/form-data (OpenAI's shape: file, model,
   * response_format...), parsed by @fastify/multipart in a scope of its own, so no other route
   * accepts multipart. The upload is limited at the edge (INFERENCE_AUDIO_UPLOAD_LIMIT_BYTES): a
   * Content-Length beyond the limit is refused before any of the body is read, and a body that
   * grows beyond it while streamed (chunked) is refused as soon as it does; either way the answer
   * is 413 with `Connection: close`, and the rest of the body is never read.
   */
  private registerTranscriptions(fastify: FastifyInstance): void {
    const fileLimit = this.config.INFERENCE_AUDIO_UPLOAD_LIMIT_BYTES;
    void fastify.register(async (scope) => {
      await scope.register(multipart, {
        limits: { fileSize: fileLimit, files: 1, fields: TRANSCRIPTION_FIELDS, fieldSize: TRANSCRIPTION_FIELD_BYTES, parts: TRANSCRIPTION_FIELDS + 1, headerPairs: 100 },
        throwFileSizeLimit: true,
      });
      scope.addHook('onRequest', async (request, reply) => {
        try {
          assertStorableText(request.query); // as every route, before its body
        } catch (error) {
          this.fail(error, request, reply, false);
          return reply;
        }
        // Only a multipart form: any other body is refused before it is read (or parsed).
        if (!/^multipart\/form-data\s*;/i.test(String(request.headers['content-type'] ?? ''))) {
          this.fail(multipartError({ code: 'FST_INVALID_MULTIPART_CONTENT_TYPE' }), request, reply, false);
          return reply;
        }
        const declared = Number(request.headers['content-length']);
        if (declared > fileLimit + MULTIPART_OVERHEAD_BYTES) {
          this.fail(tooLarge(), request, reply, false);
          return reply;
        }
      });
      scope.post('/v1/audio/transcriptions', { bodyLimit: fileLimit + MULTIPART_OVERHEAD_BYTES }, (request, reply) => this.transcribe(request, reply));
    });
  }

  private async transcribe(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    let body: Record<string, unknown>;
    try {
      // The caller's key is checked before the upload is read: nobody else makes the gateway read one.
      await this.inference.authenticate(hostTenantOf(request.raw), request.headers, clientIpOf(request.raw));
      body = await readTranscriptionForm(request);
    } catch (error) {
      return this.fail(error, request, reply, false);
    }
    reply.hijack();
    try {
      await this.inference.handle({
        endpoint: 'transcriptions',
        tenant: hostTenantOf(request.raw),
        headers: request.headers,
        body,
        bodyBytes: (body.file as UploadedFile | undefined)?.data.length ?? 0,
        clientIp: clientIpOf(request.raw),
        requestId: String(request.id),
        res: reply.raw,
      });
    } catch (error) {
      this.fail(error, request, reply, true);
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
    const failure = toInferenceError(this.logger, asInferenceError(multipartError(error)), requestId);
    // A refused upload is not read further: the connection closes after the answer.
    if (failure.status === 413) void reply.header('connection', 'close');
    void reply
      .code(failure.status)
      .headers({ 'content-type': 'application/json', 'x-request-id': requestId, ...failure.headers })
      .send(JSON.stringify(failure.body()));
  }
}

function tooLarge(): InferenceError {
  return new InferenceError(413, 'invalid_request_error', CommonErrorCode.PayloadTooLarge, 'The upload is too large.');
}

/** @fastify/multipart's errors in OpenAI's shape: its limits are 413, a malformed form 400. */
function multipartError(error: unknown): unknown {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== 'string' || !code.startsWith('FST_')) return error;
  if (code === 'FST_REQ_FILE_TOO_LARGE' || code.endsWith('_LIMIT')) return tooLarge();
  if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') {
    return new InferenceError(415, 'invalid_request_error', CommonErrorCode.UnsupportedMediaType, 'Send the transcription as multipart/form-data.');
  }
  return InferenceError.invalidRequest('The multipart form could not be read.', null, CommonErrorCode.MalformedRequest);
}

/**
 * The transcription form: its one file (read into memory, within the limit) and its text fields
 * (repeated ones, such as `timestamp_granularities[]`, as arrays).
 */
async function readTranscriptionForm(request: FastifyRequest): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = {};
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'file' || body.file) {
        part.file.resume();
        throw InferenceError.invalidRequest('Only one file, in the `file` field, is accepted.', part.fieldname, 'invalid_value');
      }
      const data = await readFile(part.file);
      const file: UploadedFile = { data, filename: safeFilename(part.filename), contentType: part.mimetype || 'application/octet-stream' };
      body.file = file;
      continue;
    }
    if (part.valueTruncated || part.fieldnameTruncated) throw tooLarge();
    const value = String(part.value ?? '');
    const current = body[part.fieldname];
    if (part.fieldname.endsWith('[]')) body[part.fieldname] = [...((current as string[] | undefined) ?? []), value];
    else body[part.fieldname] = value;
  }
  assertStorableText(Object.fromEntries(Object.entries(body).filter(([name]) => name !== 'file')));
  // Numbers arrive as text in a form.
  if (typeof body.temperature === 'string') {
    const t = Number(body.temperature);
    if (!Number.isFinite(t) || t < 0 || t > 1) throw InferenceError.invalidRequest('`temperature` must be a number from 0 to 1.', 'temperature', 'invalid_value');
    body.temperature = t;
  }
  return body;
}

/**
 * The file part's bytes. Over the limit the part stream only says `limit` (and drops the rest
 * until the part ends, which a body that keeps coming never does): that is refused at once.
 */
function readFile(file: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    file.on('data', (chunk: Buffer) => chunks.push(chunk));
    file.once('limit', () => reject(tooLarge()));
    file.once('end', () => resolve(Buffer.concat(chunks)));
    file.once('error', reject);
  });
}

/** The file's name as passed on: printable, short (it only tells the upstream the format). */
function safeFilename(name: string | undefined): string {
  const cleaned = (name ?? '').replace(/[^\w.\- ]/g, '_').slice(-100);
  return cleaned || 'audio';
}
