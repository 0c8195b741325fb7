import { Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { AppException, CommonErrorCode } from '@app/errors';

export const STRIPE_WEBHOOK_PATH = '/api/v1/payments/stripe/webhook';
/** Epay notifications come as a GET, or as a form POST (parsed on this route only). */
export const EPAY_NOTIFY_PATH = '/api/v1/payments/epay/notify';

/**
 * Stripe signs the exact bytes it sent, so the webhook needs the raw body. Rather than keeping a
 * raw copy of every request's body (the inference API's bodies are large), this hook buffers the
 * body of the webhook route only, keeps it on the request, and hands the same bytes on to the
 * JSON parser.
 */
@Injectable()
export class PaymentRawBody implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance?.() as FastifyInstance | undefined;
    if (!fastify?.addHook) return;
    // Forms are accepted on the Epay notification only; everywhere else stays JSON-only (415).
    fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => {
      if (request.url.split('?')[0] !== EPAY_NOTIFY_PATH) {
        done(AppException.common(CommonErrorCode.UnsupportedMediaType, 415, 'Send the body as application/json.'), undefined);
        return;
      }
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    fastify.addHook('preParsing', async (request: FastifyRequest, _reply, payload) => {
      if (request.url.split('?')[0] !== STRIPE_WEBHOOK_PATH) return payload;
      const chunks: Buffer[] = [];
      for await (const chunk of payload) chunks.push(chunk as Buffer);
      const raw = Buffer.concat(chunks);
      (request as FastifyRequest & { rawBody?: Buffer }).rawBody = raw;
      const replay = Readable.from([raw]) as Readable & { receivedEncodedLength?: number };
      replay.receivedEncodedLength = raw.length;
      return replay;
    });
  }
}
