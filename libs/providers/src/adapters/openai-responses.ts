import { protocolError } from '../errors';
import { SseParser } from '../sse';
import { BuildOptions, Endpoint, ProviderType, ParsedResponse, SseEvent, StreamTranslator, UpstreamRequest, UpstreamTarget, Usage } from '../types';
import { joinUrl, num, parseJson } from './common';
import { OpenAIAdapter } from './openai';

/** The usage object of a Responses answer in disjoint buckets (its input_tokens include the cached ones). */
export function usageFromResponses(raw: unknown): Usage | null {
  if (!raw || typeof raw !== 'object') return null;
  const u = raw as { input_tokens?: unknown; output_tokens?: unknown; input_tokens_details?: { cached_tokens?: unknown }; output_tokens_details?: { reasoning_tokens?: unknown } };
  const input = num(u.input_tokens);
  const cached = Math.min(input, num(u.input_tokens_details?.cached_tokens));
  const usage: Usage = { input: input - cached, output: num(u.output_tokens), cacheRead: cached, cacheWrite: 0 };
  const reasoning = num(u.output_tokens_details?.reasoning_tokens);
  if (reasoning) usage.reasoning = Math.min(reasoning, usage.output);
  return usage;
}

/** The events that end a Responses stream (each carries the whole response and its usage). */
const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/**
 * An OpenAI-compatible upstream that also serves the Responses API natively (OpenAI itself, and
 * servers that implement `/v1/responses`): chat, completions and embeddings as `openai`, and
 * `/v1/responses` passed through as sent (reasoning items, encrypted content, every tool kind),
 * only the model renamed. Stateless as the gateway is: `store` is sent as false.
 */
export class OpenAIResponsesAdapter extends OpenAIAdapter {
  override readonly type: ProviderType = 'openai-responses';

  override buildRequest(endpoint: Endpoint, body: Record<string, unknown>, target: UpstreamTarget, options: BuildOptions): UpstreamRequest {
    if (endpoint !== 'responses') return super.buildRequest(endpoint, body, target, options);
    const upstreamBody: Record<string, unknown> = { ...body, model: target.upstreamModel, store: false };
    if (options.stream) upstreamBody.stream = true;
    else delete upstreamBody.stream;
    return {
      url: joinUrl(target.baseUrl, '/responses'),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${target.apiKey}`, accept: options.stream ? 'text/event-stream' : 'application/json' },
      body: JSON.stringify(upstreamBody),
    };
  }

  override parseResponse(endpoint: Endpoint, text: string, publicModel: string, request?: Record<string, unknown>): ParsedResponse {
    if (endpoint !== 'responses') return super.parseResponse(endpoint, text, publicModel);
    const body = parseJson(text, 'the response');
    if (body.object !== 'response' || !Array.isArray(body.output)) throw protocolError('not a response');
    return { body: { ...body, model: publicModel }, usage: usageFromResponses(body.usage) };
  }

  override streamTranslator(endpoint: Endpoint, publicModel: string, upstreamModel?: string, request?: Record<string, unknown>): StreamTranslator {
    if (endpoint !== 'responses') return super.streamTranslator(endpoint, publicModel, upstreamModel);
    return new ResponsesPassThroughStream(publicModel, upstreamModel);
  }
}

/** Responses events as received (the model renamed in place); usage read from the terminal event. */
class ResponsesPassThroughStream implements StreamTranslator {
  private readonly parser = new SseParser();
  private readonly rename: Array<[string, string]> = [];
  usage: Usage | null = null;
  finished = false;

  constructor(publicModel: string, upstreamModel?: string) {
    if (upstreamModel && upstreamModel !== publicModel) {
      for (const space of ['', ' ']) this.rename.push([`"model":${space}${JSON.stringify(upstreamModel)}`, `"model":${space}${JSON.stringify(publicModel)}`]);
    }
  }

  push(chunk: Buffer | string): SseEvent[] {
    return this.parser.push(chunk).map((e) => this.pass(e.event, e.data, e.raw));
  }

  end(): SseEvent[] {
    const rest = this.parser.end().map((e) => this.pass(e.event, e.data, e.raw));
    if (!this.finished) throw protocolError('the stream ended before response.completed');
    return rest;
  }

  private pass(event: string | null, data: string, raw: string): SseEvent {
    let out = raw;
    for (const [from, to] of this.rename) if (out.includes(from)) out = out.split(from).join(to);
    if (event === 'error') throw protocolError('the upstream reported an error mid-stream');
    if (event && !TERMINAL.has(event)) return { raw: out, usageOnly: false, done: false };
    let payload: { type?: string; response?: { usage?: unknown } };
    try {
      payload = JSON.parse(data) as typeof payload;
    } catch {
      throw protocolError('a stream event is not JSON');
    }
    if (payload.type === 'error') throw protocolError('the upstream reported an error mid-stream');
    if (!TERMINAL.has(String(payload.type))) return { raw: out, usageOnly: false, done: false };
    this.finished = true;
    this.usage = usageFromResponses(payload.response?.usage);
    return { raw: out, usageOnly: false, done: true, final: true };
  }
}
