import { protocolError } from '../errors';
import { SseParser, sseData } from '../sse';
import { BuildOptions, Endpoint, ParsedResponse, ProviderAdapter, SseEvent, StreamTranslator, UpstreamRequest, UpstreamTarget, Usage } from '../types';
import { chatCompletionId, contentText, joinUrl, maxTokensOf, nowSeconds, num, openAIUsage, parseJson, stopList } from './common';

type Json = Record<string, unknown>;

const FINISH_REASONS: Record<string, string> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
};

/** Gemini's usageMetadata: promptTokenCount includes cachedContentTokenCount; thinking counts as output. */
function geminiUsage(raw: unknown): Usage | null {
  if (!raw || typeof raw !== 'object') return null;
  const u = raw as Json;
  const prompt = num(u.promptTokenCount);
  const cached = Math.min(prompt, num(u.cachedContentTokenCount));
  return { input: prompt - cached, output: num(u.candidatesTokenCount) + num(u.thoughtsTokenCount), cacheRead: cached, cacheWrite: 0 };
}

function parts(content: unknown): Json[] {
  if (typeof content === 'string') return content ? [{ text: content }] : [];
  if (!Array.isArray(content)) return [];
  const out: Json[] = [];
  for (const part of content as Json[]) {
    if (part?.type === 'text') out.push({ text: String(part.text ?? '') });
    else if (part?.type === 'image_url') {
      const url = String((part.image_url as Json | undefined)?.url ?? '');
      const data = /^data:([^;]+);base64,(.*)$/s.exec(url);
      if (data) out.push({ inlineData: { mimeType: data[1], data: data[2] } });
      else if (url) out.push({ fileData: { fileUri: url } });
    }
  }
  return out;
}

function args(text: unknown): Json {
  if (typeof text !== 'string' || !text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' ? (value as Json) : {};
  } catch {
    return {};
  }
}

/** OpenAI chat messages to Gemini contents (roles user/model) and a system instruction. */
export function toGeminiContents(messages: unknown): { systemInstruction?: Json; contents: Json[] } {
  const system: string[] = [];
  const contents: Json[] = [];
  const toolNames = new Map<string, string>();
  const append = (role: 'user' | 'model', newParts: Json[]) => {
    const last = contents[contents.length - 1];
    if (last && last.role === role) (last.parts as Json[]).push(...newParts);
    else contents.push({ role, parts: newParts });
  };
  for (const message of Array.isArray(messages) ? (messages as Json[]) : []) {
    if (message?.role === 'system' || message?.role === 'developer') system.push(contentText(message.content));
    else if (message?.role === 'user') append('user', parts(message.content));
    else if (message?.role === 'assistant') {
      const p = parts(message.content);
      for (const call of (message.tool_calls as Json[] | undefined) ?? []) {
        const fn = (call.function ?? {}) as Json;
        toolNames.set(String(call.id), String(fn.name));
        p.push({ functionCall: { name: fn.name, args: args(fn.arguments) } });
      }
      append('model', p);
    } else if (message?.role === 'tool') {
      const name = toolNames.get(String(message.tool_call_id)) ?? 'tool';
      append('user', [{ functionResponse: { name, response: { content: contentText(message.content) } } }]);
    }
  }
  return { systemInstruction: system.length ? { parts: [{ text: system.join('\n\n') }] } : undefined, contents };
}

function toolConfig(choice: unknown): Json | undefined {
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  const name = ((choice as Json | undefined)?.function as Json | undefined)?.name;
  return typeof name === 'string' ? { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [name] } } : undefined;
}

function candidateMessage(candidate: Json | undefined, toolCallBase: string): { text: string; toolCalls: Json[] } {
  let text = '';
  const toolCalls: Json[] = [];
  for (const part of (((candidate?.content as Json | undefined)?.parts as Json[] | undefined) ?? [])) {
    if (typeof part.text === 'string' && !part.thought) text += part.text;
    else if (part.functionCall) {
      const call = part.functionCall as Json;
      toolCalls.push({ id: `call_${toolCallBase}_${toolCalls.length}`, type: 'function', function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) } });
    }
  }
  return { text, toolCalls };
}

/** Gemini API (`{base}/v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`, `:batchEmbedContents`). */
export class GeminiAdapter implements ProviderAdapter {
  readonly type = 'gemini' as const;

  supports(endpoint: Endpoint): boolean {
    return endpoint === 'chat' || endpoint === 'embeddings';
  }

  buildRequest(endpoint: Endpoint, body: Json, target: UpstreamTarget, options: BuildOptions): UpstreamRequest {
    const model = encodeURIComponent(target.upstreamModel);
    const headers = { 'content-type': 'application/json', 'x-goog-api-key': target.apiKey };
    if (endpoint === 'embeddings') {
      const inputs = Array.isArray(body.input) ? (body.input as unknown[]) : [body.input];
      return {
        url: joinUrl(target.baseUrl, `/v1beta/models/${model}:batchEmbedContents`),
        headers,
        body: JSON.stringify({ requests: inputs.map((text) => ({ model: `models/${target.upstreamModel}`, content: { parts: [{ text: String(text ?? '') }] } })) }),
      };
    }
    const { systemInstruction, contents } = toGeminiContents(body.messages);
    const generationConfig: Json = {};
    if (typeof body.temperature === 'number') generationConfig.temperature = body.temperature;
    if (typeof body.top_p === 'number') generationConfig.topP = body.top_p;
    const maxTokens = maxTokensOf(body);
    if (maxTokens !== undefined) generationConfig.maxOutputTokens = maxTokens;
    const stop = stopList(body.stop);
    if (stop?.length) generationConfig.stopSequences = stop;
    if (typeof body.n === 'number') generationConfig.candidateCount = body.n;
    const format = (body.response_format as Json | undefined)?.type;
    if (format === 'json_object' || format === 'json_schema') generationConfig.responseMimeType = 'application/json';
    const request: Json = { contents };
    if (systemInstruction) request.systemInstruction = systemInstruction;
    if (Object.keys(generationConfig).length) request.generationConfig = generationConfig;
    if (Array.isArray(body.tools)) {
      request.tools = [{ functionDeclarations: (body.tools as Json[]).map((t) => { const fn = (t.function ?? {}) as Json; return { name: fn.name, description: fn.description, parameters: fn.parameters }; }) }];
    }
    const config = toolConfig(body.tool_choice);
    if (config) request.toolConfig = config;
    const path = options.stream ? `/v1beta/models/${model}:streamGenerateContent?alt=sse` : `/v1beta/models/${model}:generateContent`;
    return { url: joinUrl(target.baseUrl, path), headers: { ...headers, accept: options.stream ? 'text/event-stream' : 'application/json' }, body: JSON.stringify(request) };
  }

  parseResponse(endpoint: Endpoint, text: string, publicModel: string, request?: Json): ParsedResponse {
    const body = parseJson(text, 'the response');
    if (endpoint === 'embeddings') {
      const base64 = request?.encoding_format === 'base64';
      if (!Array.isArray(body.embeddings)) throw protocolError('no embeddings');
      return {
        body: {
          object: 'list',
          model: publicModel,
          data: (body.embeddings as Json[]).map((e, index) => {
            const values = Array.isArray(e.values) ? (e.values as number[]) : [];
            // OpenAI's base64 encoding: little-endian float32, what the SDK asks for by default.
            const embedding = base64 ? Buffer.from(new Float32Array(values).buffer).toString('base64') : values;
            return { object: 'embedding', index, embedding };
          }),
          usage: { prompt_tokens: 0, total_tokens: 0 },
        },
        usage: null,
      };
    }
    if (!Array.isArray(body.candidates)) throw protocolError('no candidates');
    const id = chatCompletionId(body.responseId);
    const choices = (body.candidates as Json[]).map((candidate, index) => {
      const { text, toolCalls } = candidateMessage(candidate, `${index}`);
      const message: Json = { role: 'assistant', content: text || (toolCalls.length ? null : ''), refusal: null };
      if (toolCalls.length) message.tool_calls = toolCalls;
      const finish = toolCalls.length ? 'tool_calls' : (FINISH_REASONS[String(candidate.finishReason)] ?? 'stop');
      return { index: num(candidate.index) || index, message, logprobs: null, finish_reason: finish };
    });
    const usage = geminiUsage(body.usageMetadata);
    return {
      body: { id, object: 'chat.completion', created: nowSeconds(), model: publicModel, choices, ...(usage ? { usage: openAIUsage(usage) } : {}) },
      usage,
    };
  }

  streamTranslator(_endpoint: Endpoint, publicModel: string): StreamTranslator {
    return new GeminiStream(publicModel);
  }

  probe(target: UpstreamTarget): UpstreamRequest {
    return this.buildRequest('chat', { messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 }, target, { stream: false, includeUsage: false });
  }
}

/**
 * Each SSE event is a whole GenerateContentResponse; the stream has no terminal marker, so it is
 * complete when a candidate carried a finishReason. Usage is in the last event's usageMetadata.
 */
class GeminiStream implements StreamTranslator {
  private readonly parser = new SseParser();
  private readonly id = chatCompletionId(undefined);
  private readonly created = nowSeconds();
  private first = true;
  private toolCalls = 0;
  usage: Usage | null = null;
  finished = false;

  constructor(private readonly model: string) {}

  push(chunk: Buffer | string): SseEvent[] {
    return this.parser.push(chunk).flatMap((e) => this.translate(e.data));
  }

  end(): SseEvent[] {
    const rest = this.parser.end().flatMap((e) => this.translate(e.data));
    if (!this.finished) throw protocolError('the stream ended without a finishReason');
    return [
      ...rest,
      ...(this.usage
        ? [{ raw: sseData({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: openAIUsage(this.usage) }), usageOnly: true, done: false }]
        : []),
      { raw: sseData('[DONE]'), usageOnly: false, done: true },
    ];
  }

  private chunk(delta: Json, finish: string | null): SseEvent {
    return {
      raw: sseData({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] }),
      usageOnly: false,
      done: false,
    };
  }

  private translate(data: string): SseEvent[] {
    let payload: Json;
    try {
      payload = JSON.parse(data) as Json;
    } catch {
      throw protocolError('a stream event is not JSON');
    }
    if (payload.error) throw protocolError('the upstream reported an error mid-stream');
    const usage = geminiUsage(payload.usageMetadata);
    if (usage) this.usage = usage;
    const candidate = (payload.candidates as Json[] | undefined)?.[0];
    if (!candidate) return [];
    const { text, toolCalls } = candidateMessage(candidate, `${this.toolCalls}`);
    const out: SseEvent[] = [];
    const delta: Json = {};
    if (this.first) {
      delta.role = 'assistant';
      this.first = false;
    }
    if (text) delta.content = text;
    if (toolCalls.length) {
      delta.tool_calls = toolCalls.map((call, i) => ({ index: this.toolCalls + i, ...call }));
      this.toolCalls += toolCalls.length;
    }
    const reason = candidate.finishReason ? (this.toolCalls ? 'tool_calls' : (FINISH_REASONS[String(candidate.finishReason)] ?? 'stop')) : null;
    if (Object.keys(delta).length) out.push(this.chunk(delta, null));
    if (reason) {
      this.finished = true;
      out.push(this.chunk({}, reason));
    }
    return out;
  }
}
