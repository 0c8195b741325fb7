/**
 * Fake upstream model providers speaking their real wire formats, for tests, the benchmark and
 * `npm run dev`. This file holds the shared server core and the OpenAI-compatible fake
 * (`/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/moderations`, `/v1/rerank`, `/v1/images/generations`,
 * `/v1/audio/transcriptions`, `/v1/audio/speech`, `/v1/models`), with fixed, fast
 * answers and streams that end with a usage chunk when `stream_options.include_usage` is set.
 * The Anthropic and Gemini fakes (test/support/fakes/) use the same core.
 *
 *   node dist/scripts/fake-upstream.js [port]     runs the OpenAI-compatible fake alone
 *   FAKE_UPSTREAM_KEY=sk-... to require that key (default: any key is accepted)
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

/** What the fake does with the next request (a queue; `fallback` once it is empty). */
export type FakeBehaviour =
  | { kind: 'ok'; text?: string; delayMs?: number; chunkDelayMs?: number }
  | { kind: 'status'; status: number; body?: unknown }
  | { kind: 'malformed' }
  | { kind: 'truncated' }
  | { kind: 'stall-before'; ms: number }
  | { kind: 'stall-after'; ms: number }
  | { kind: 'redirect'; location: string }
  | { kind: 'tool-call' };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
  /** Set when the client (the gateway) closed the connection before the answer was complete. */
  aborted?: boolean;
}

export interface FakeContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  body: any;
  /** The request body as received (for fakes that check a signature over it). */
  rawBody: string;
  behaviour: FakeBehaviour;
  /** Answers with `status` and a JSON body. */
  json(status: number, payload: unknown): void;
  /** Starts an SSE response (headers only). */
  startSse(): void;
  /** Writes one SSE event; with `event`, an `event:` line first (Anthropic's style). */
  sse(data: unknown, event?: string): void;
  end(): void;
  /** Resolves after `ms`, or at once when the server closes. */
  sleep(ms: number): Promise<void>;
}

export interface FakeUpstream {
  port: number;
  /** http://127.0.0.1:PORT, base URL prefix. */
  url: string;
  requests: RecordedRequest[];
  /** Queues behaviours for the next requests, in order. */
  next(...behaviours: FakeBehaviour[]): void;
  /** What every request gets when the queue is empty. */
  fallback: FakeBehaviour;
  /** Keys the fake accepts; empty accepts any. A wrong key gets the provider's 401. */
  keys: Set<string>;
  close(): Promise<void>;
}

export interface FakeOptions {
  port?: number;
  host?: string;
  keys?: string[];
  /** The request's key, as this provider sends it. */
  keyOf(req: IncomingMessage, url: URL): string | undefined;
  /** The provider's error body for a status. */
  errorBody(status: number, message: string): unknown;
  handle(ctx: FakeContext): Promise<unknown> | unknown;
}

export async function startFakeServer(options: FakeOptions): Promise<FakeUpstream> {
  const queue: FakeBehaviour[] = [];
  const requests: RecordedRequest[] = [];
  const timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let closing = false;
  const fake: FakeUpstream = {
    port: 0,
    url: '',
    requests,
    next: (...behaviours) => queue.push(...behaviours),
    fallback: { kind: 'ok' },
    keys: new Set(options.keys ?? []),
    close: async () => {
      closing = true;
      for (const t of timers) {
        clearTimeout(t.timer);
        t.resolve();
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void received());
    const received = async () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      let body: any = undefined;
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      // A multipart form (an audio upload), parsed by undici's FormData: fields as strings
      // (repeated ones as arrays), files as { name, type, size, bytes }.
      const contentType = String(req.headers['content-type'] ?? '');
      if (contentType.startsWith('multipart/form-data')) {
        try {
          const form = await new Response(Buffer.concat(chunks), { headers: { 'content-type': contentType } }).formData();
          body = {};
          for (const [name, value] of form.entries()) {
            const v = typeof value === 'string' ? value : { name: value.name, type: value.type, size: value.size, bytes: Buffer.from(await value.arrayBuffer()) };
            body[name] = name in body ? [body[name]].flat().concat(v) : v;
          }
        } catch {
          body = { malformed: true };
        }
      }
      const recorded: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname + url.search, headers: req.headers, body };
      requests.push(recorded);
      // A test hook: tells an upstream request the gateway aborted from one that completed.
      res.once('close', () => {
        if (!res.writableFinished) recorded.aborted = true;
      });
      const behaviour = queue.shift() ?? fake.fallback;
      const sleep = (ms: number) =>
        new Promise<void>((resolve) => {
          if (closing) return resolve();
          const entry = { timer: setTimeout(() => (timers.delete(entry), resolve()), ms), resolve };
          timers.add(entry);
        });
      const ctx: FakeContext = {
        req,
        res,
        url,
        body,
        rawBody: text,
        behaviour,
        json: (status, payload) => {
          if (res.writableEnded) return;
          const out = JSON.stringify(payload);
          res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
          res.end(out);
        },
        startSse: () => res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }),
        sse: (data, event) => {
          if (res.writableEnded || res.destroyed) return;
          res.write(`${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
        },
        end: () => {
          if (!res.writableEnded) res.end();
        },
        sleep,
      };
      void (async () => {
        const key = options.keyOf(req, url);
        if (fake.keys.size && (!key || !fake.keys.has(key))) return ctx.json(401, options.errorBody(401, 'invalid x-api-key'));
        switch (behaviour.kind) {
          case 'status':
            return ctx.json(behaviour.status, behaviour.body ?? options.errorBody(behaviour.status, `fake failure ${behaviour.status}`));
          case 'redirect':
            res.writeHead(307, { location: behaviour.location });
            return res.end();
          case 'stall-before':
            await sleep(behaviour.ms);
            if (closing) return res.destroy();
            break;
          default:
            break;
        }
        await options.handle(ctx);
      })().catch(() => res.destroy());
    };
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  fake.port = (server.address() as AddressInfo).port;
  fake.url = `http://127.0.0.1:${fake.port}`;
  return fake;
}

/** Stream helper: writes events; honours truncated (ends early) and stall-after (stalls after the first). */
export async function streamEvents(ctx: FakeContext, events: Array<{ data: unknown; event?: string }>, terminal: Array<{ data: unknown; event?: string }>): Promise<void> {
  ctx.startSse();
  for (const [index, e] of events.entries()) {
    ctx.sse(e.data, e.event);
    if (ctx.behaviour.kind === 'ok' && ctx.behaviour.chunkDelayMs && index < events.length - 1) {
      await ctx.sleep(ctx.behaviour.chunkDelayMs);
      if (ctx.res.destroyed) return;
    }
    if (index === 0 && ctx.behaviour.kind === 'stall-after') {
      await ctx.sleep(ctx.behaviour.ms);
      if (ctx.res.destroyed) return;
    }
    if (ctx.behaviour.kind === 'truncated' && index === 1) {
      // Half an event, then the connection ends: the upstream died mid-stream.
      await ctx.sleep(50);
      ctx.res.write('data: {"id":"cut');
      await ctx.sleep(20);
      return void ctx.res.destroy();
    }
  }
  for (const e of terminal) ctx.sse(e.data, e.event);
  ctx.end();
}

export const FAKE_TEXT = 'Hello from the fake upstream.';
/** The fake's transcription: two segments. */
export const FAKE_TRANSCRIPT = ['Hello from the fake', 'audio upstream.'];
/** Bytes of uploaded audio the fake counts as one second (12,345 bytes: 12.345 s). */
export const FAKE_AUDIO_BYTES_PER_SECOND = 1000;
/** Chunks of the fake's speech answer, 1,000 bytes each. */
export const FAKE_SPEECH_CHUNKS = 5;
export function fakeSpeechChunk(index: number): Buffer {
  return Buffer.alloc(1000, index + 1);
}
/** Tokens the fake's /v1/rerank reports per document. */
export const FAKE_RERANK_TOKENS_PER_DOCUMENT = 10;
/** The fixed token counts the OpenAI fake reports: 9 prompt tokens (2 cached), 7 completion tokens. */
export const FAKE_USAGE = { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16, prompt_tokens_details: { cached_tokens: 2 } };

function openAIError(status: number, message: string) {
  const type = status === 401 ? 'invalid_request_error' : status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message, type, param: null, code: status === 401 ? 'invalid_api_key' : null } };
}

/** An OpenAI-compatible server (what vLLM, DeepSeek and others expose), base URL `${url}/v1`. */
export function startFakeOpenAI(options: { port?: number; host?: string; keys?: string[]; text?: string } = {}): Promise<FakeUpstream> {
  const text = options.text ?? FAKE_TEXT;
  return startFakeServer({
    ...options,
    keyOf: (req) => /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1],
    errorBody: openAIError,
    handle: async (ctx) => {
      const { url, body, behaviour } = ctx;
      const model = String(body?.model ?? 'fake-model');
      const created = Math.floor(Date.now() / 1000);
      const answer = behaviour.kind === 'ok' && behaviour.text ? behaviour.text : text;
      if (behaviour.kind === 'ok' && behaviour.delayMs) await ctx.sleep(behaviour.delayMs);
      if (ctx.req.method === 'GET' && url.pathname === '/v1/models') {
        return ctx.json(200, { object: 'list', data: [{ id: 'fake-model', object: 'model', created, owned_by: 'fake' }] });
      }
      if (behaviour.kind === 'malformed') {
        ctx.res.writeHead(200, { 'content-type': 'application/json' });
        return ctx.res.end('{"id": "chatcmpl-broken", "choices": [');
      }
      if (url.pathname === '/v1/embeddings') {
        const inputs = Array.isArray(body?.input) ? body.input : [body?.input];
        return ctx.json(200, {
          object: 'list',
          model,
          data: inputs.map((_: unknown, index: number) => ({ object: 'embedding', index, embedding: [0.1, 0.2, 0.3, index] })),
          usage: { prompt_tokens: 4 * inputs.length, total_tokens: 4 * inputs.length },
        });
      }
      if (url.pathname === '/v1/moderations') {
        const inputs = Array.isArray(body?.input) ? body.input : [body?.input];
        const flagged = (i: unknown) => String(i).toLowerCase().includes('kill');
        return ctx.json(200, {
          id: 'modr-fake',
          model,
          results: inputs.map((i: unknown) => ({ flagged: flagged(i), categories: { violence: flagged(i) }, category_scores: { violence: flagged(i) ? 0.97 : 0.01 } })),
        });
      }
      if (url.pathname === '/v1/images/generations') {
        const n = typeof body?.n === 'number' ? body.n : 1;
        // A 1x1 PNG per image; no usage (as DALL-E answers).
        const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
        return ctx.json(200, { created, data: Array.from({ length: n }, () => ({ b64_json: png, revised_prompt: String(body?.prompt ?? '') })) });
      }
      if (url.pathname === '/v1/audio/transcriptions') {
        // OpenAI's verbose_json; the audio "lasts" one second per FAKE_AUDIO_BYTES_PER_SECOND bytes.
        const file = body?.file as { size?: number } | undefined;
        if (!file?.size) return ctx.json(400, openAIError(400, 'file is required'));
        const duration = file.size / FAKE_AUDIO_BYTES_PER_SECOND;
        const half = Math.round((duration / 2) * 100) / 100;
        return ctx.json(200, {
          task: 'transcribe',
          language: 'english',
          duration,
          text: FAKE_TRANSCRIPT.join(' '),
          segments: [
            { id: 0, seek: 0, start: 0, end: half, text: ` ${FAKE_TRANSCRIPT[0]}`, tokens: [1, 2], temperature: 0, avg_logprob: -0.2, compression_ratio: 1, no_speech_prob: 0 },
            { id: 1, seek: 0, start: half, end: duration, text: ` ${FAKE_TRANSCRIPT[1]}`, tokens: [3, 4], temperature: 0, avg_logprob: -0.2, compression_ratio: 1, no_speech_prob: 0 },
          ],
        });
      }
      if (url.pathname === '/v1/audio/speech') {
        // FAKE_SPEECH_CHUNKS chunks of audio/mpeg-looking bytes; stall-after pauses after the
        // first, truncated cuts the connection after the second.
        ctx.res.writeHead(200, { 'content-type': 'audio/mpeg', 'transfer-encoding': 'chunked' });
        for (let i = 0; i < FAKE_SPEECH_CHUNKS; i++) {
          if (ctx.res.destroyed) return;
          ctx.res.write(fakeSpeechChunk(i));
          if (i === 0 && behaviour.kind === 'stall-after') await ctx.sleep(behaviour.ms);
          if (i === 1 && behaviour.kind === 'truncated') {
            await ctx.sleep(20);
            return void ctx.res.destroy();
          }
          if (behaviour.kind === 'ok' && behaviour.chunkDelayMs) await ctx.sleep(behaviour.chunkDelayMs);
        }
        return ctx.end();
      }
      if (url.pathname === '/v1/rerank') {
        // vLLM's and Jina's shape (usage in tokens) with Cohere's billed search units as well.
        const documents: unknown[] = Array.isArray(body?.documents) ? body.documents : [];
        const results = documents.map((_, index) => ({ index, relevance_score: 1 / (index + 1) })).slice(0, body?.top_n ?? documents.length);
        return ctx.json(200, { id: 'rerank-fake', model, results, usage: { total_tokens: FAKE_RERANK_TOKENS_PER_DOCUMENT * documents.length }, meta: { billed_units: { search_units: Math.max(1, Math.ceil(documents.length / 100)) } } });
      }
      if (url.pathname === '/v1/responses') return respond(ctx, model, answer);
      const chat = url.pathname === '/v1/chat/completions';
      if (!chat && url.pathname !== '/v1/completions') return ctx.json(404, openAIError(404, `no route ${url.pathname}`));
      const id = chat ? 'chatcmpl-fake' : 'cmpl-fake';
      const toolCall = behaviour.kind === 'tool-call';
      if (!body?.stream) {
        if (behaviour.kind === 'truncated') {
          ctx.res.writeHead(200, { 'content-type': 'application/json' });
          ctx.res.write('{"id":"chatcmpl-fake","object":"chat.completion","choices":[{"index":0,');
          return void ctx.res.destroy();
        }
        if (behaviour.kind === 'stall-after') {
          ctx.res.writeHead(200, { 'content-type': 'application/json' });
          ctx.res.write('{"id":"chatcmpl-fake",');
          await ctx.sleep(behaviour.ms);
          return ctx.end();
        }
        const choice = chat
          ? {
              index: 0,
              message: toolCall
                ? { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] }
                : { role: 'assistant', content: answer, refusal: null },
              logprobs: null,
              finish_reason: toolCall ? 'tool_calls' : 'stop',
            }
          : { index: 0, text: answer, logprobs: null, finish_reason: 'stop' };
        return ctx.json(200, { id, object: chat ? 'chat.completion' : 'text_completion', created, model, choices: [choice], usage: FAKE_USAGE });
      }
      const chunk = (delta: unknown, finish: string | null) =>
        chat
          ? { id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] }
          : { id, object: 'text_completion', created, model, choices: [{ index: 0, text: (delta as { content?: string }).content ?? '', logprobs: null, finish_reason: finish }] };
      const words = answer.split(/(?<= )/);
      const events =
        chat && toolCall
          ? [
              { data: chunk({ role: 'assistant', content: null }, null) },
              { data: chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }, null) },
              { data: chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, null) },
              { data: chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, null) },
              { data: chunk({}, 'tool_calls') },
            ]
          : [{ data: chunk({ role: 'assistant', content: '' }, null) }, ...words.map((w) => ({ data: chunk({ content: w }, null) })), { data: chunk({}, 'stop') }];
      const terminal: Array<{ data: unknown }> = [];
      if (body?.stream_options?.include_usage) terminal.push({ data: { id, object: chat ? 'chat.completion.chunk' : 'text_completion', created, model, choices: [], usage: FAKE_USAGE } });
      terminal.push({ data: '[DONE]' });
      await streamEvents(ctx, events, terminal);
    },
  });
}

/** The usage a native Responses answer reports: 9 input tokens (2 cached), 7 output tokens (3 of them reasoning). */
export const FAKE_RESPONSES_USAGE = { input_tokens: 9, input_tokens_details: { cached_tokens: 2 }, output_tokens: 7, output_tokens_details: { reasoning_tokens: 3 }, total_tokens: 16 };

/**
 * OpenAI's Responses API (`POST /v1/responses`), as its reference describes it: a `response` with
 * a reasoning item (encrypted content, as OpenAI returns with `include`) and a message; streams of
 * response.created, response.in_progress, output items and their deltas, response.completed.
 */
async function respond(ctx: FakeContext, model: string, text: string): Promise<void> {
  const { body } = ctx;
  const created = Math.floor(Date.now() / 1000);
  const reasoning = { type: 'reasoning', id: 'rs_fake', summary: [], encrypted_content: 'gAAAAfakeEncrypted' };
  const message = { type: 'message', id: 'msg_fake', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] };
  const response = (status: string, output: unknown[]) => ({
    id: 'resp_fake',
    object: 'response',
    created_at: created,
    status,
    model,
    output,
    store: body?.store ?? true,
    usage: status === 'completed' ? FAKE_RESPONSES_USAGE : null,
  });
  if (!body?.stream) return ctx.json(200, response('completed', [reasoning, message]));
  let sequence = 0;
  const e = (type: string, payload: Record<string, unknown>) => ({ event: type, data: { type, sequence_number: sequence++, ...payload } });
  const words = text.split(/(?<= )/);
  const events = [
    e('response.created', { response: response('in_progress', []) }),
    e('response.in_progress', { response: response('in_progress', []) }),
    e('response.output_item.added', { output_index: 0, item: reasoning }),
    e('response.output_item.done', { output_index: 0, item: reasoning }),
    e('response.output_item.added', { output_index: 1, item: { ...message, status: 'in_progress', content: [] } }),
    e('response.content_part.added', { item_id: 'msg_fake', output_index: 1, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }),
    ...words.map((w) => e('response.output_text.delta', { item_id: 'msg_fake', output_index: 1, content_index: 0, delta: w })),
    e('response.output_text.done', { item_id: 'msg_fake', output_index: 1, content_index: 0, text }),
    e('response.content_part.done', { item_id: 'msg_fake', output_index: 1, content_index: 0, part: message.content[0] }),
    e('response.output_item.done', { output_index: 1, item: message }),
  ];
  await streamEvents(ctx, events, [e('response.completed', { response: response('completed', [reasoning, message]) })]);
}

if (require.main === module) {
  const port = Number(process.argv[2] ?? process.env.FAKE_UPSTREAM_PORT ?? 4010);
  const keys = process.env.FAKE_UPSTREAM_KEY ? [process.env.FAKE_UPSTREAM_KEY] : [];
  startFakeOpenAI({ port, keys }).then(
    (fake) => process.stdout.write(`fake OpenAI-compatible upstream on ${fake.url}/v1\n`),
    (error: unknown) => {
      process.stderr.write(`fake upstream: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
