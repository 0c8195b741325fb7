import { Readable } from 'node:stream';
import { Dispatcher } from 'undici';
import { classify, sendUpstream } from './http';
import { interruptedError, mapUpstreamHttpError, protocolError, timeoutError, UpstreamError } from './errors';
import { Endpoint, ParsedResponse, ProviderAdapter, SseEvent, StreamTranslator, UpstreamTarget } from './types';

export interface ExchangeOptions {
  adapter: ProviderAdapter;
  dispatcher: Dispatcher;
  endpoint: Endpoint;
  /** The client's OpenAI-shaped body. */
  body: Record<string, unknown>;
  target: UpstreamTarget;
  /** The model name the client used (put back into responses). */
  publicModel: string;
  stream: boolean;
  /** Ask the upstream for usage in the stream (the proxy always should, to bill). */
  includeUsage?: boolean;
  firstByteMs: number;
  totalMs: number;
  signal?: AbortSignal;
  allowPrivateNetworks: boolean;
  /** Extra headers for the upstream (e.g. x-request-id). */
  headers?: Record<string, string>;
  /** Client protocol headers, for an upstream that speaks the client's protocol (BuildOptions.clientHeaders). */
  clientHeaders?: Record<string, string>;
}

export interface JsonExchange {
  kind: 'json';
  parsed: ParsedResponse;
  firstByteMs: number;
}

export interface StreamExchange {
  kind: 'stream';
  /** The first translated events (at least one), already read: nothing was sent to the client yet. */
  first: SseEvent[];
  /** The remaining events; throws UpstreamError if the upstream fails or stalls mid-stream. */
  rest: AsyncIterable<SseEvent[]>;
  translator: StreamTranslator;
  firstByteMs: number;
  /** Stops reading and closes the upstream request (the client went away). */
  abort(): void;
}

/** An answer passed to the client as the upstream's bytes (speech audio), as they arrive. */
export interface BytesExchange {
  kind: 'bytes';
  /** The upstream's content type (audio/mpeg, audio/wav...). */
  contentType: string;
  /** The body, unread: failover ended with the upstream's 2xx status line. */
  body: AsyncIterable<Buffer>;
  firstByteMs: number;
  /** Stops reading and closes the upstream request (the client went away). */
  abort(): void;
}

export type UpstreamExchange = JsonExchange | StreamExchange | BytesExchange;

/** The whole body as text (with events, not an async iterator: this runs for every answer). */
function readAll(body: Readable, limit = 64 * 1024 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        body.destroy();
        reject(protocolError('the response is too large'));
        return;
      }
      chunks.push(chunk);
    });
    body.once('end', () => resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks, size).toString('utf8')));
    body.once('error', reject);
    body.once('close', () => {
      // Closed without 'end': destroyed or aborted (an error, if any, was reported first). The
      // caller classifies it (deadline, client gone, or the connection).
      if (!body.readableEnded) reject(Object.assign(new Error('the upstream response ended early'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    });
  });
}

/**
 * A connection failure once the upstream had answered is an interrupted answer, not an upstream
 * that "could not be reached" (what the client would otherwise be told).
 */
function cutShort(error: UpstreamError): UpstreamError {
  return error.kind === 'connect' ? interruptedError() : error;
}

/**
 * One call to one upstream with one key: builds the request with the adapter, sends it, and
 * either parses the whole answer (non-stream) or reads the stream up to its first event. It
 * settles before anything is sent to the client, so every failure it throws (UpstreamError) is one
 * the caller may still fail over from. Upstream keys appear in no error it throws.
 */
export async function exchange(options: ExchangeOptions): Promise<UpstreamExchange> {
  const { adapter, target } = options;
  let request = adapter.buildRequest(options.endpoint, options.body, target, {
    stream: options.stream,
    includeUsage: options.includeUsage ?? true,
    clientHeaders: options.clientHeaders,
  });
  if (options.headers) Object.assign(request.headers, options.headers);
  // Signed last, over the headers that are sent (SigV4 covers them).
  if (adapter.authorize) request = await adapter.authorize(request, { ...target, allowPrivateNetworks: options.allowPrivateNetworks });
  const deadline = Date.now() + options.totalMs;
  const response = await sendUpstream(options.dispatcher, request, {
    firstByteMs: options.firstByteMs,
    totalMs: options.totalMs,
    signal: options.signal,
    allowPrivateNetworks: options.allowPrivateNetworks,
  });
  try {
    if (response.status < 200 || response.status >= 300) {
      const text = await readAll(response.body, 1024 * 1024).catch(() => '');
      throw mapUpstreamHttpError(response.status, text, [target.apiKey]);
    }
    if (options.endpoint === 'speech') {
      const contentType = String(response.headers['content-type'] ?? 'application/octet-stream');
      const body = response.body;
      async function* chunks(): AsyncGenerator<Buffer> {
        try {
          for await (const chunk of body) yield chunk as Buffer;
        } catch (error) {
          throw cutShort(classify(error, Date.now() >= deadline, options.signal?.aborted ?? false));
        } finally {
          response.done();
          body.destroy();
        }
      }
      return { kind: 'bytes', contentType, body: chunks(), firstByteMs: response.firstByteMs, abort: () => body.destroy() };
    }
    if (!options.stream) {
      const text = await readAll(response.body).catch((error: unknown) => {
        throw cutShort(classify(error, Date.now() >= deadline, options.signal?.aborted ?? false));
      });
      const parsed = adapter.parseResponse(options.endpoint, text, options.publicModel, options.body);
      response.done();
      return { kind: 'json', parsed, firstByteMs: response.firstByteMs };
    }
    const translator = adapter.streamTranslator(options.endpoint, options.publicModel, target.upstreamModel, options.body);
    const iterator = response.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const remaining = Math.max(1, Math.min(options.firstByteMs, deadline - Date.now()));
    let first: SseEvent[] = [];
    let ended = false;
    // Read until the first event, within the first-byte timeout: an upstream that answers 200 and
    // then says nothing is still one we may fail over from.
    let firstTimeout: NodeJS.Timeout | undefined;
    const firstTimer = new Promise<never>((_, reject) => {
      firstTimeout = setTimeout(() => reject(timeoutError('timeout_first_byte')), remaining);
      firstTimeout.unref();
    });
    const readFirst = async () => {
      while (!first.length) {
        const next = await iterator.next();
        if (next.done) {
          ended = true;
          first = translator.end();
          break;
        }
        first = translator.push(next.value);
      }
    };
    const reading = readFirst();
    reading.catch(() => undefined); // settled by the race below; a late rejection is not unhandled
    try {
      await Promise.race([reading, firstTimer]);
    } catch (error) {
      response.body.destroy();
      throw classify(error, Date.now() >= deadline, options.signal?.aborted ?? false);
    } finally {
      // Otherwise every stream keeps a timer (and makes an error) until its first-byte deadline.
      clearTimeout(firstTimeout);
    }
    async function* rest(): AsyncGenerator<SseEvent[]> {
      try {
        if (ended) return;
        for (;;) {
          const next = await iterator.next();
          if (next.done) {
            const last = translator.end();
            if (last.length) yield last;
            return;
          }
          const events = translator.push(next.value);
          if (events.length) yield events;
        }
      } catch (error) {
        throw cutShort(classify(error, Date.now() >= deadline, options.signal?.aborted ?? false));
      } finally {
        response.done();
        response.body.destroy();
      }
    }
    return { kind: 'stream', first, rest: rest(), translator, firstByteMs: response.firstByteMs, abort: () => response.body.destroy() };
  } catch (error) {
    response.done();
    response.body.destroy();
    if (error instanceof UpstreamError) throw error;
    throw classify(error, Date.now() >= deadline, options.signal?.aborted ?? false);
  }
}
