import { Message } from '@smithy/eventstream-codec';
import { eventHeader, eventJson, EventStreamReader, parseAwsKey, signAws } from '../aws';
import { protocolError } from '../errors';
import { sseData } from '../sse';
import { BuildOptions, Endpoint, ParsedResponse, ProviderAdapter, ProviderType, SseEvent, StreamTranslator, UpstreamRequest, UpstreamTarget, Usage } from '../types';
import { AnthropicAdapter, AnthropicStream } from './anthropic';
import { chatCompletionId, contentText, joinUrl, maxTokensOf, nowSeconds, num, openAIUsage, parseJson, stopList } from './common';

type Json = Record<string, unknown>;

/** The body field Bedrock wants instead of the anthropic-version header. */
export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

/** Bedrock model ids (and inference profiles: `us.anthropic...`, their ARNs) of Anthropic's models. */
export function isBedrockAnthropic(modelId: string): boolean {
  return /(^|[./])anthropic\./.test(modelId);
}

const CONVERSE_STOP: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  content_filtered: 'content_filter',
  guardrail_intervened: 'content_filter',
};

function converseUsage(raw: unknown): Usage | null {
  if (!raw || typeof raw !== 'object') return null;
  const u = raw as Json;
  return { input: num(u.inputTokens), output: num(u.outputTokens), cacheRead: num(u.cacheReadInputTokens), cacheWrite: num(u.cacheWriteInputTokens) };
}

function parseArguments(text: unknown): unknown {
  if (typeof text !== 'string' || !text) return {};
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

function converseContent(content: unknown): Json[] {
  if (typeof content === 'string') return content ? [{ text: content }] : [];
  if (!Array.isArray(content)) return [];
  const blocks: Json[] = [];
  for (const part of content as Json[]) {
    if (part?.type === 'text') blocks.push({ text: String(part.text ?? '') });
    else if (part?.type === 'image_url') {
      const data = /^data:image\/(png|jpeg|gif|webp);base64,(.*)$/s.exec(String((part.image_url as Json | undefined)?.url ?? ''));
      if (data) blocks.push({ image: { format: data[1], source: { bytes: data[2] } } });
    }
  }
  return blocks;
}

/** OpenAI chat messages to Converse's system blocks and alternating messages. */
export function toConverseMessages(messages: unknown): { system: Json[]; messages: Json[] } {
  const system: Json[] = [];
  const out: Json[] = [];
  const append = (role: 'user' | 'assistant', blocks: Json[]) => {
    const last = out[out.length - 1];
    if (last && last.role === role) (last.content as Json[]).push(...blocks);
    else out.push({ role, content: blocks });
  };
  for (const message of Array.isArray(messages) ? (messages as Json[]) : []) {
    const role = message?.role;
    if (role === 'system' || role === 'developer') system.push({ text: contentText(message.content) });
    else if (role === 'user') append('user', converseContent(message.content));
    else if (role === 'assistant') {
      const blocks = converseContent(message.content);
      for (const call of (message.tool_calls as Json[] | undefined) ?? []) {
        const fn = (call.function ?? {}) as Json;
        blocks.push({ toolUse: { toolUseId: call.id, name: fn.name, input: parseArguments(fn.arguments) } });
      }
      append('assistant', blocks);
    } else if (role === 'tool') {
      append('user', [{ toolResult: { toolUseId: message.tool_call_id, content: [{ text: contentText(message.content) }] } }]);
    }
  }
  return { system, messages: out };
}

/**
 * AWS Bedrock runtime (`https://bedrock-runtime.{region}.amazonaws.com`), signed with SigV4 for
 * service `bedrock` in the channel's region. Anthropic models go through InvokeModel
 * (`/model/{id}/invoke`, `/invoke-with-response-stream`) with Anthropic's own Messages body
 * (`anthropic_version` in the body, no model); every other model through the Converse API
 * (`/model/{id}/converse`, `/converse-stream`). Streams are AWS event streams, decoded with the SDK's
 * codec: InvokeModel's `chunk` events carry Anthropic's stream events (base64 JSON), Converse's
 * events are its own (messageStart, contentBlockDelta, messageStop, metadata with usage).
 */
export class BedrockAdapter implements ProviderAdapter {
  readonly type: ProviderType = 'bedrock';
  private readonly anthropic = new AnthropicAdapter();

  supports(endpoint: Endpoint): boolean {
    return endpoint === 'chat';
  }

  buildRequest(_endpoint: Endpoint, body: Json, target: UpstreamTarget, options: BuildOptions): UpstreamRequest {
    const model = encodeURIComponent(target.upstreamModel);
    const headers = { 'content-type': 'application/json', accept: options.stream ? 'application/vnd.amazon.eventstream' : 'application/json' };
    if (isBedrockAnthropic(target.upstreamModel)) {
      const request = JSON.parse(this.anthropic.buildRequest('chat', body, target, { stream: false, includeUsage: false }).body as string) as Json;
      delete request.model;
      delete request.stream;
      delete request.metadata; // not part of Bedrock's Anthropic body
      request.anthropic_version = BEDROCK_ANTHROPIC_VERSION;
      return { url: joinUrl(target.baseUrl, `/model/${model}/${options.stream ? 'invoke-with-response-stream' : 'invoke'}`), headers, body: JSON.stringify(request) };
    }
    const { system, messages } = toConverseMessages(body.messages);
    const request: Json = { messages };
    if (system.length) request.system = system;
    const inference: Json = {};
    const maxTokens = maxTokensOf(body);
    if (maxTokens !== undefined) inference.maxTokens = maxTokens;
    if (typeof body.temperature === 'number') inference.temperature = body.temperature;
    if (typeof body.top_p === 'number') inference.topP = body.top_p;
    const stop = stopList(body.stop);
    if (stop?.length) inference.stopSequences = stop;
    if (Object.keys(inference).length) request.inferenceConfig = inference;
    if (Array.isArray(body.tools) && body.tools.length) {
      request.toolConfig = {
        tools: (body.tools as Json[]).map((tool) => {
          const fn = (tool.function ?? {}) as Json;
          return { toolSpec: { name: fn.name, description: fn.description, inputSchema: { json: fn.parameters ?? { type: 'object', properties: {} } } } };
        }),
      };
    }
    return { url: joinUrl(target.baseUrl, `/model/${model}/${options.stream ? 'converse-stream' : 'converse'}`), headers, body: JSON.stringify(request) };
  }

  async authorize(request: UpstreamRequest, target: UpstreamTarget): Promise<UpstreamRequest> {
    const region = target.settings?.region;
    if (!region) throw protocolError('the Bedrock channel has no region');
    const headers = await signAws({ method: 'POST', url: request.url, headers: request.headers, body: request.body as string, service: 'bedrock', region, credentials: parseAwsKey(target.apiKey) });
    return { ...request, headers };
  }

  parseResponse(_endpoint: Endpoint, text: string, publicModel: string): ParsedResponse {
    const body = parseJson(text, 'the response');
    if (body.type === 'message') return this.anthropic.parseResponse('chat', text, publicModel);
    const message = (body.output as Json | undefined)?.message as Json | undefined;
    if (!message || !Array.isArray(message.content)) throw protocolError('no output message');
    let content = '';
    const toolCalls: Json[] = [];
    for (const block of message.content as Json[]) {
      if (typeof block.text === 'string') content += block.text;
      const use = block.toolUse as Json | undefined;
      if (use) toolCalls.push({ id: use.toolUseId, type: 'function', function: { name: use.name, arguments: JSON.stringify(use.input ?? {}) } });
    }
    const usage = converseUsage(body.usage);
    const reply: Json = { role: 'assistant', content: content || (toolCalls.length ? null : ''), refusal: null };
    if (toolCalls.length) reply.tool_calls = toolCalls;
    return {
      body: {
        id: chatCompletionId(undefined),
        object: 'chat.completion',
        created: nowSeconds(),
        model: publicModel,
        choices: [{ index: 0, message: reply, logprobs: null, finish_reason: CONVERSE_STOP[String(body.stopReason)] ?? 'stop' }],
        ...(usage ? { usage: openAIUsage(usage) } : {}),
      },
      usage,
    };
  }

  streamTranslator(_endpoint: Endpoint, publicModel: string, upstreamModel?: string): StreamTranslator {
    return upstreamModel && isBedrockAnthropic(upstreamModel) ? new BedrockInvokeStream(publicModel) : new ConverseStream(publicModel);
  }

  probe(target: UpstreamTarget): UpstreamRequest {
    return this.buildRequest('chat', { messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 }, target, { stream: false, includeUsage: false });
  }
}

/** An `exception` or `error` frame: the upstream failed mid-stream (its message is not passed on). */
function failed(message: Message): boolean {
  const type = eventHeader(message, ':message-type');
  return type === 'exception' || type === 'error';
}

/** InvokeModelWithResponseStream of an Anthropic model: each `chunk` holds one Anthropic stream event. */
class BedrockInvokeStream implements StreamTranslator {
  private readonly frames = new EventStreamReader();
  private readonly inner: AnthropicStream;

  constructor(model: string) {
    this.inner = new AnthropicStream(model);
  }

  get usage(): Usage | null {
    return this.inner.usage;
  }

  get finished(): boolean {
    return this.inner.finished;
  }

  push(chunk: Buffer | string): SseEvent[] {
    const out: SseEvent[] = [];
    for (const message of this.frames.push(chunk)) {
      if (failed(message)) throw protocolError('the upstream reported an error mid-stream');
      if (eventHeader(message, ':event-type') !== 'chunk') continue;
      const bytes = eventJson(message).bytes;
      if (typeof bytes !== 'string') throw protocolError('a Bedrock chunk has no bytes');
      const event = Buffer.from(bytes, 'base64').toString('utf8');
      let type = 'message';
      try {
        type = String((JSON.parse(event) as Json).type ?? 'message');
      } catch {
        throw protocolError('a stream event is not JSON');
      }
      out.push(...this.inner.push(`event: ${type}\ndata: ${event}\n\n`));
    }
    return out;
  }

  end(): SseEvent[] {
    if (this.frames.pending) throw protocolError('the stream ended inside a frame');
    return this.inner.end();
  }
}

/**
 * ConverseStream: messageStart -> role chunk; contentBlockStart (toolUse) and contentBlockDelta
 * (text, toolUse input) -> content and tool_calls deltas; messageStop -> finish_reason; metadata
 * (after messageStop, with usage) -> a usage-only chunk and [DONE].
 */
class ConverseStream implements StreamTranslator {
  private readonly frames = new EventStreamReader();
  private readonly id = chatCompletionId(undefined);
  private readonly created = nowSeconds();
  private readonly toolIndex = new Map<number, number>();
  private usageSoFar: Usage | null = null;
  finished = false;

  constructor(private readonly model: string) {}

  get usage(): Usage | null {
    return this.usageSoFar;
  }

  push(chunk: Buffer | string): SseEvent[] {
    return this.frames.push(chunk).flatMap((message) => this.translate(message));
  }

  end(): SseEvent[] {
    if (!this.finished) throw protocolError('the stream ended before its metadata');
    return [];
  }

  private chunk(delta: Json, finishReason: string | null = null): SseEvent {
    return {
      raw: sseData({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] }),
      usageOnly: false,
      done: false,
    };
  }

  private translate(message: Message): SseEvent[] {
    if (failed(message)) throw protocolError('the upstream reported an error mid-stream');
    if (this.finished) return [];
    const payload = eventJson(message);
    switch (eventHeader(message, ':event-type')) {
      case 'messageStart':
        return [this.chunk({ role: 'assistant', content: '' })];
      case 'contentBlockStart': {
        const use = ((payload.start as Json | undefined)?.toolUse ?? null) as Json | null;
        if (!use) return [];
        const index = this.toolIndex.size;
        this.toolIndex.set(num(payload.contentBlockIndex), index);
        return [this.chunk({ tool_calls: [{ index, id: use.toolUseId, type: 'function', function: { name: use.name, arguments: '' } }] })];
      }
      case 'contentBlockDelta': {
        const delta = (payload.delta ?? {}) as Json;
        if (typeof delta.text === 'string') return [this.chunk({ content: delta.text })];
        const use = delta.toolUse as Json | undefined;
        if (use) return [this.chunk({ tool_calls: [{ index: this.toolIndex.get(num(payload.contentBlockIndex)) ?? 0, function: { arguments: String(use.input ?? '') } }] })];
        return [];
      }
      case 'messageStop':
        return [this.chunk({}, CONVERSE_STOP[String(payload.stopReason)] ?? 'stop')];
      case 'metadata': {
        this.usageSoFar = converseUsage(payload.usage);
        this.finished = true;
        return [
          { raw: sseData({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: openAIUsage(this.usageSoFar ?? { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }) }), usageOnly: true, done: false },
          { raw: sseData('[DONE]'), usageOnly: false, done: true },
        ];
      }
      default:
        return [];
    }
  }
}
