import { protocolError } from '../errors';
import { BuildOptions, Endpoint, ParsedResponse, ProviderAdapter, SseEvent, StreamTranslator, UpstreamRequest, UpstreamTarget, Usage } from '../types';

/** One chat.completion.chunk, as far as the translations read it. */
export interface ChatChunk {
  id?: string;
  choices?: Array<{
    index?: number;
    delta?: {
      content?: unknown;
      reasoning_content?: unknown;
      tool_calls?: Array<{ index?: number; id?: string; function?: { name?: string; arguments?: string } }>;
    };
    finish_reason?: string | null;
  }>;
  usage?: unknown;
}

/** A client protocol's stream, made from chat chunks. */
export interface ChatToProtocol {
  /** The client's events for one chat chunk ('' for none). */
  chunk(chunk: ChatChunk): string;
  /** The closing events, once the chat stream ended (usage final). */
  finish(usage: Usage | null): string;
}

/** A protocol carried over chat completions: how its request, answer and stream translate. */
export interface ChatProtocol {
  toChat(body: Record<string, unknown>): Record<string, unknown>;
  fromChat(parsed: ParsedResponse, publicModel: string, request: Record<string, unknown>): ParsedResponse;
  stream(publicModel: string, request: Record<string, unknown>): ChatToProtocol;
}

/** An SSE event with its `event:` line (Anthropic's and Responses' style). */
export function namedEvent(name: string, payload: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`;
}

/**
 * A client protocol (`messages`, `responses`) served by an upstream that speaks only chat: the
 * upstream's own adapter does the chat part (OpenAI-compatible as is, Gemini translated), this
 * one translates between chat and the client's protocol on both sides.
 */
export class ViaChatAdapter implements ProviderAdapter {
  constructor(
    private readonly inner: ProviderAdapter,
    private readonly endpoint: Endpoint,
    private readonly protocol: ChatProtocol,
  ) {}

  get type() {
    return this.inner.type;
  }

  supports(endpoint: Endpoint): boolean {
    return endpoint === this.endpoint && this.inner.supports('chat');
  }

  buildRequest(_endpoint: Endpoint, body: Record<string, unknown>, target: UpstreamTarget, options: BuildOptions): UpstreamRequest {
    return this.inner.buildRequest('chat', this.protocol.toChat(body), target, { stream: options.stream, includeUsage: options.includeUsage });
  }

  parseResponse(_endpoint: Endpoint, text: string, publicModel: string, request: Record<string, unknown> = {}): ParsedResponse {
    // The chat request matters to embeddings' answers only: chat answers are read without it.
    return this.protocol.fromChat(this.inner.parseResponse('chat', text, publicModel), publicModel, request);
  }

  streamTranslator(_endpoint: Endpoint, publicModel: string, upstreamModel?: string, request: Record<string, unknown> = {}): StreamTranslator {
    return new ViaChatStream(this.inner.streamTranslator('chat', publicModel, upstreamModel), this.protocol.stream(publicModel, request));
  }

  probe(target: UpstreamTarget): UpstreamRequest {
    return this.inner.probe(target);
  }

  get authorize(): ProviderAdapter['authorize'] {
    return this.inner.authorize?.bind(this.inner);
  }
}

/** The chat stream of the upstream's adapter, re-told in the client's protocol. */
class ViaChatStream implements StreamTranslator {
  constructor(
    private readonly chat: StreamTranslator,
    private readonly out: ChatToProtocol,
  ) {}

  get usage(): Usage | null {
    return this.chat.usage;
  }

  get finished(): boolean {
    return this.chat.finished;
  }

  push(chunk: Buffer | string): SseEvent[] {
    return this.translate(this.chat.push(chunk));
  }

  end(): SseEvent[] {
    return this.translate(this.chat.end());
  }

  private translate(events: SseEvent[]): SseEvent[] {
    const out: SseEvent[] = [];
    for (const event of events) {
      if (event.done) {
        out.push({ raw: this.out.finish(this.chat.usage), usageOnly: false, done: true, final: true });
        continue;
      }
      for (const line of event.raw.split('\n')) {
        if (!line.startsWith('data:')) continue;
        let chunk: ChatChunk;
        try {
          chunk = JSON.parse(line.slice(5)) as ChatChunk;
        } catch {
          throw protocolError('a stream event is not JSON');
        }
        const raw = this.out.chunk(chunk);
        if (raw) out.push({ raw, usageOnly: false, done: false });
      }
    }
    return out;
  }
}
