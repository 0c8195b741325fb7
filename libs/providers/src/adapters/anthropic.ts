import { protocolError } from '../errors';
import { SseParser, sseData } from '../sse';
import { BuildOptions, Endpoint, ParsedResponse, ProviderAdapter, SseEvent, StreamTranslator, UpstreamRequest, UpstreamTarget, Usage } from '../types';
import { chatCompletionId, contentText, joinUrl, maxTokensOf, nowSeconds, num, openAIUsage, parseJson, stopList } from './common';

export const ANTHROPIC_VERSION = '2023-06-01';
/** Anthropic requires max_tokens; this is used when the client set none. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

const STOP_REASONS: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  pause_turn: 'stop',
  refusal: 'content_filter',
};

type Json = Record<string, unknown>;

/**
 * Anthropic's usage in disjoint buckets. `cache_creation_input_tokens` is every cache write;
 * `cache_creation.ephemeral_1h_input_tokens`, when reported, is its one-hour part (priced apart).
 */
export function anthropicUsage(raw: unknown): Usage {
  const u = (raw ?? {}) as Json;
  const usage: Usage = { input: num(u.input_tokens), output: num(u.output_tokens), cacheRead: num(u.cache_read_input_tokens), cacheWrite: num(u.cache_creation_input_tokens) };
  const creation = u.cache_creation as Json | undefined;
  if (creation && typeof creation === 'object') {
    const split = num(creation.ephemeral_5m_input_tokens) + num(creation.ephemeral_1h_input_tokens);
    // Only the split given: the total is at least its parts.
    if (split > usage.cacheWrite) usage.cacheWrite = split;
    const oneHour = num(creation.ephemeral_1h_input_tokens);
    if (oneHour) usage.cacheWrite1h = oneHour;
  }
  return usage;
}

/** Client headers an Anthropic upstream receives as sent (the version the client speaks, its betas). */
const PASSED_HEADERS = ['anthropic-version', 'anthropic-beta'];

function imageSource(part: Json): Json | null {
  const url = String((part.image_url as Json | undefined)?.url ?? '');
  const data = /^data:([^;]+);base64,(.*)$/s.exec(url);
  if (data) return { type: 'base64', media_type: data[1], data: data[2] };
  return url ? { type: 'url', url } : null;
}

function contentBlocks(content: unknown): Json[] {
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  if (!Array.isArray(content)) return [];
  const blocks: Json[] = [];
  for (const part of content as Json[]) {
    if (part?.type === 'text') blocks.push({ type: 'text', text: String(part.text ?? '') });
    else if (part?.type === 'image_url') {
      const source = imageSource(part);
      if (source) blocks.push({ type: 'image', source });
    }
  }
  return blocks;
}

function parseArguments(text: unknown): unknown {
  if (typeof text !== 'string' || !text) return {};
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

/** OpenAI chat messages to Anthropic's system prompt and alternating messages. */
export function toAnthropicMessages(messages: unknown): { system?: string; messages: Json[] } {
  const system: string[] = [];
  const out: Json[] = [];
  const append = (role: 'user' | 'assistant', blocks: Json[]) => {
    const last = out[out.length - 1];
    if (last && last.role === role) (last.content as Json[]).push(...blocks);
    else out.push({ role, content: blocks });
  };
  for (const message of Array.isArray(messages) ? (messages as Json[]) : []) {
    const role = message?.role;
    if (role === 'system' || role === 'developer') system.push(contentText(message.content));
    else if (role === 'user') append('user', contentBlocks(message.content));
    else if (role === 'assistant') {
      const blocks = contentBlocks(message.content);
      for (const call of (message.tool_calls as Json[] | undefined) ?? []) {
        const fn = (call.function ?? {}) as Json;
        blocks.push({ type: 'tool_use', id: call.id, name: fn.name, input: parseArguments(fn.arguments) });
      }
      append('assistant', blocks);
    } else if (role === 'tool') {
      append('user', [{ type: 'tool_result', tool_use_id: message.tool_call_id, content: contentText(message.content) }]);
    }
  }
  return { system: system.length ? system.join('\n\n') : undefined, messages: out };
}

function toolChoice(choice: unknown): Json | undefined {
  if (choice === 'auto') return { type: 'auto' };
  if (choice === 'required') return { type: 'any' };
  if (choice === 'none') return { type: 'none' };
  const name = ((choice as Json | undefined)?.function as Json | undefined)?.name;
  return typeof name === 'string' ? { type: 'tool', name } : undefined;
}

/** Anthropic Messages API (`POST {base}/v1/messages`); base URL without the version path. */
export class AnthropicAdapter implements ProviderAdapter {
  readonly type = 'anthropic' as const;

  supports(endpoint: Endpoint): boolean {
    return endpoint === 'chat' || endpoint === 'messages';
  }

  buildRequest(endpoint: Endpoint, body: Json, target: UpstreamTarget, options: BuildOptions): UpstreamRequest {
    if (endpoint === 'messages') return this.passThrough(body, target, options);
    const { system, messages } = toAnthropicMessages(body.messages);
    const request: Json = { model: target.upstreamModel, max_tokens: maxTokensOf(body) ?? ANTHROPIC_DEFAULT_MAX_TOKENS, messages };
    if (system) request.system = system;
    if (typeof body.temperature === 'number') request.temperature = Math.min(1, body.temperature);
    if (typeof body.top_p === 'number') request.top_p = body.top_p;
    const stop = stopList(body.stop);
    if (stop?.length) request.stop_sequences = stop;
    if (Array.isArray(body.tools)) {
      request.tools = (body.tools as Json[]).map((tool) => {
        const fn = (tool.function ?? {}) as Json;
        return { name: fn.name, description: fn.description, input_schema: fn.parameters ?? { type: 'object', properties: {} } };
      });
    }
    const choice = toolChoice(body.tool_choice);
    if (choice) request.tool_choice = choice;
    if (typeof body.user === 'string') request.metadata = { user_id: body.user };
    if (options.stream) request.stream = true;
    return {
      url: joinUrl(target.baseUrl, '/v1/messages'),
      headers: { 'content-type': 'application/json', 'x-api-key': target.apiKey, 'anthropic-version': ANTHROPIC_VERSION, accept: options.stream ? 'text/event-stream' : 'application/json' },
      body: JSON.stringify(request),
    };
  }

  /**
   * `/v1/messages` as the client sent it (cache_control, thinking, tools, images and all), only the
   * model renamed, with the client's anthropic-version and anthropic-beta headers.
   */
  private passThrough(body: Json, target: UpstreamTarget, options: BuildOptions): UpstreamRequest {
    const request: Json = { ...body, model: target.upstreamModel };
    if (options.stream) request.stream = true;
    else delete request.stream;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-api-key': target.apiKey,
      'anthropic-version': ANTHROPIC_VERSION,
      accept: options.stream ? 'text/event-stream' : 'application/json',
    };
    for (const name of PASSED_HEADERS) {
      const value = options.clientHeaders?.[name];
      if (value) headers[name] = value;
    }
    return { url: joinUrl(target.baseUrl, '/v1/messages'), headers, body: JSON.stringify(request) };
  }

  parseResponse(endpoint: Endpoint, text: string, publicModel: string): ParsedResponse {
    const body = parseJson(text, 'the response');
    if (body.type !== 'message' || !Array.isArray(body.content)) throw protocolError('not a message');
    if (endpoint === 'messages') return { body: { ...body, model: publicModel }, usage: anthropicUsage(body.usage) };
    let content = '';
    const toolCalls: Json[] = [];
    for (const block of body.content as Json[]) {
      if (block.type === 'text') content += String(block.text ?? '');
      else if (block.type === 'tool_use') toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
    const usage = anthropicUsage(body.usage);
    const message: Json = { role: 'assistant', content: content || (toolCalls.length ? null : ''), refusal: null };
    if (toolCalls.length) message.tool_calls = toolCalls;
    return {
      body: {
        id: chatCompletionId(body.id),
        object: 'chat.completion',
        created: nowSeconds(),
        model: publicModel,
        choices: [{ index: 0, message, logprobs: null, finish_reason: STOP_REASONS[String(body.stop_reason)] ?? 'stop' }],
        usage: openAIUsage(usage),
      },
      usage,
    };
  }

  streamTranslator(endpoint: Endpoint, publicModel: string): StreamTranslator {
    return endpoint === 'messages' ? new AnthropicPassThroughStream(publicModel) : new AnthropicStream(publicModel);
  }

  probe(target: UpstreamTarget): UpstreamRequest {
    return this.buildRequest('chat', { messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 }, target, { stream: false, includeUsage: false });
  }
}

/**
 * message_start -> role chunk; content_block_start (tool_use) and content_block_delta
 * (text_delta, input_json_delta) -> content and tool_calls deltas; message_delta -> finish_reason;
 * message_stop -> a usage-only chunk and [DONE]. An `error` event ends the stream with an error.
 */
export class AnthropicStream implements StreamTranslator {
  private readonly parser = new SseParser();
  private id = chatCompletionId(undefined);
  private readonly created = nowSeconds();
  private readonly toolIndex = new Map<number, number>();
  private usageSoFar: Usage = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
  private started = false;
  finished = false;

  constructor(private readonly model: string) {}

  get usage(): Usage | null {
    return this.started ? this.usageSoFar : null;
  }

  push(chunk: Buffer | string): SseEvent[] {
    return this.parser.push(chunk).flatMap((e) => this.translate(e.event, e.data));
  }

  end(): SseEvent[] {
    const rest = this.parser.end().flatMap((e) => this.translate(e.event, e.data));
    if (!this.finished) throw protocolError('the stream ended before message_stop');
    return rest;
  }

  private chunk(delta: Json, finishReason: string | null = null): SseEvent {
    return {
      raw: sseData({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] }),
      usageOnly: false,
      done: false,
    };
  }

  private translate(event: string | null, data: string): SseEvent[] {
    if (this.finished) return [];
    let payload: Json;
    try {
      payload = JSON.parse(data) as Json;
    } catch {
      throw protocolError('a stream event is not JSON');
    }
    const type = (payload.type as string | undefined) ?? event;
    switch (type) {
      case 'message_start': {
        const message = (payload.message ?? {}) as Json;
        this.id = chatCompletionId(message.id);
        this.started = true;
        const u = anthropicUsage(message.usage);
        this.usageSoFar = { ...u };
        return [this.chunk({ role: 'assistant', content: '' })];
      }
      case 'content_block_start': {
        const block = (payload.content_block ?? {}) as Json;
        if (block.type !== 'tool_use') return [];
        const index = this.toolIndex.size;
        this.toolIndex.set(num(payload.index), index);
        return [this.chunk({ tool_calls: [{ index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }] })];
      }
      case 'content_block_delta': {
        const delta = (payload.delta ?? {}) as Json;
        if (delta.type === 'text_delta') return [this.chunk({ content: String(delta.text ?? '') })];
        if (delta.type === 'input_json_delta') {
          const index = this.toolIndex.get(num(payload.index)) ?? 0;
          return [this.chunk({ tool_calls: [{ index, function: { arguments: String(delta.partial_json ?? '') } }] })];
        }
        return [];
      }
      case 'message_delta': {
        const u = (payload.usage ?? {}) as Json;
        // message_delta's usage counts are cumulative.
        if (u.output_tokens !== undefined) this.usageSoFar.output = num(u.output_tokens);
        if (u.input_tokens !== undefined) this.usageSoFar.input = num(u.input_tokens);
        if (u.cache_read_input_tokens !== undefined) this.usageSoFar.cacheRead = num(u.cache_read_input_tokens);
        if (u.cache_creation_input_tokens !== undefined) this.usageSoFar.cacheWrite = num(u.cache_creation_input_tokens);
        const reason = (payload.delta as Json | undefined)?.stop_reason;
        return reason ? [this.chunk({}, STOP_REASONS[String(reason)] ?? 'stop')] : [];
      }
      case 'message_stop': {
        this.finished = true;
        return [
          {
            raw: sseData({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: openAIUsage(this.usageSoFar) }),
            usageOnly: true,
            done: false,
          },
          { raw: sseData('[DONE]'), usageOnly: false, done: true },
        ];
      }
      case 'error':
        throw protocolError('the upstream reported an error mid-stream');
      default:
        return []; // ping, content_block_stop, future event types
    }
  }
}

/**
 * Anthropic's events to an Anthropic client: each event goes out as received, only the model in
 * message_start put back to the public name. Usage is read on the way (message_start's prompt
 * buckets, message_delta's cumulative counts); message_delta and message_stop are the answer's end.
 */
class AnthropicPassThroughStream implements StreamTranslator {
  private readonly parser = new SseParser();
  private usageSoFar: Usage | null = null;
  finished = false;

  constructor(private readonly model: string) {}

  get usage(): Usage | null {
    return this.usageSoFar;
  }

  push(chunk: Buffer | string): SseEvent[] {
    return this.parser.push(chunk).map((e) => this.pass(e.event, e.data, e.raw));
  }

  end(): SseEvent[] {
    const rest = this.parser.end().map((e) => this.pass(e.event, e.data, e.raw));
    if (!this.finished) throw protocolError('the stream ended before message_stop');
    return rest;
  }

  private pass(event: string | null, data: string, raw: string): SseEvent {
    const type = event ?? '';
    if (type === 'ping' || type === 'content_block_delta' || type === 'content_block_start' || type === 'content_block_stop') return { raw, usageOnly: false, done: false };
    let payload: Json;
    try {
      payload = JSON.parse(data) as Json;
    } catch {
      throw protocolError('a stream event is not JSON');
    }
    switch ((payload.type as string | undefined) ?? type) {
      case 'message_start': {
        const message = (payload.message ?? {}) as Json;
        this.usageSoFar = anthropicUsage(message.usage);
        return { raw: `event: message_start\ndata: ${JSON.stringify({ ...payload, message: { ...message, model: this.model } })}\n\n`, usageOnly: false, done: false };
      }
      case 'message_delta': {
        const u = (payload.usage ?? {}) as Json;
        const usage = this.usageSoFar ?? { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
        // Cumulative counts; the prompt buckets only when given again.
        if (u.output_tokens !== undefined) usage.output = num(u.output_tokens);
        if (u.input_tokens !== undefined) usage.input = num(u.input_tokens);
        if (u.cache_read_input_tokens !== undefined) usage.cacheRead = num(u.cache_read_input_tokens);
        if (u.cache_creation_input_tokens !== undefined) {
          const again = anthropicUsage(u);
          usage.cacheWrite = again.cacheWrite;
          if (again.cacheWrite1h !== undefined) usage.cacheWrite1h = again.cacheWrite1h;
        }
        this.usageSoFar = usage;
        return { raw, usageOnly: false, done: false, final: true };
      }
      case 'message_stop':
        this.finished = true;
        return { raw, usageOnly: false, done: true, final: true };
      case 'error':
        throw protocolError('the upstream reported an error mid-stream');
      default:
        return { raw, usageOnly: false, done: false };
    }
  }
}
