import { num } from '../adapters/common';
import { ParsedResponse, Usage } from '../types';
import { ChatChunk, ChatToProtocol, namedEvent } from './chat-stream';

/**
 * Anthropic's Messages API over a chat-completions upstream (OpenAI-compatible or Gemini): the
 * request becomes a chat body, the chat answer (or its chunks) becomes a `message` (or Anthropic's
 * stream events). What chat cannot carry is dropped: cache_control (chat upstreams cache on their
 * own), thinking blocks of earlier turns, server tools.
 */
type Json = Record<string, unknown>;

const STOP_REASONS: Record<string, string> = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', function_call: 'tool_use', content_filter: 'refusal' };

function blocksOf(content: unknown): Json[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return Array.isArray(content) ? (content.filter((b) => b && typeof b === 'object') as Json[]) : [];
}

function textOf(content: unknown): string {
  return blocksOf(content)
    .map((b) => (b.type === 'text' ? String(b.text ?? '') : ''))
    .join('');
}

function imagePart(block: Json): Json | null {
  const source = (block.source ?? {}) as Json;
  if (source.type === 'base64') return { type: 'image_url', image_url: { url: `data:${String(source.media_type)};base64,${String(source.data)}` } };
  if (source.type === 'url') return { type: 'image_url', image_url: { url: String(source.url) } };
  return null;
}

/** A tool result's content as chat's tool message text (text blocks joined; other blocks dropped). */
function toolResultText(block: Json): string {
  const text = textOf(block.content);
  return block.is_error === true ? `Error: ${text}` : text;
}

/** An Anthropic Messages request as a chat-completions body. */
export function messagesToChat(body: Json): Json {
  const messages: Json[] = [];
  const system = typeof body.system === 'string' ? body.system : textOf(body.system);
  if (system) messages.push({ role: 'system', content: system });
  for (const message of Array.isArray(body.messages) ? (body.messages as Json[]) : []) {
    const blocks = blocksOf(message?.content);
    if (message?.role === 'assistant') {
      const text = blocks.map((b) => (b.type === 'text' ? String(b.text ?? '') : '')).join('');
      const toolCalls = blocks
        .filter((b) => b.type === 'tool_use')
        .map((b) => ({ id: String(b.id), type: 'function', function: { name: String(b.name), arguments: JSON.stringify(b.input ?? {}) } }));
      const out: Json = { role: 'assistant', content: text || null };
      if (toolCalls.length) out.tool_calls = toolCalls;
      messages.push(out);
      continue;
    }
    // A user turn: tool results first (chat wants them right after the assistant's calls), then the rest.
    const parts: Json[] = [];
    for (const block of blocks) {
      if (block.type === 'tool_result') messages.push({ role: 'tool', tool_call_id: String(block.tool_use_id), content: toolResultText(block) });
      else if (block.type === 'text') parts.push({ type: 'text', text: String(block.text ?? '') });
      else if (block.type === 'image') {
        const part = imagePart(block);
        if (part) parts.push(part);
      }
    }
    if (parts.length) messages.push({ role: 'user', content: parts.every((p) => p.type === 'text') ? parts.map((p) => p.text).join('') : parts });
  }
  const chat: Json = { model: body.model, messages };
  if (typeof body.max_tokens === 'number') chat.max_tokens = body.max_tokens;
  if (typeof body.temperature === 'number') chat.temperature = body.temperature;
  if (typeof body.top_p === 'number') chat.top_p = body.top_p;
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length) chat.stop = body.stop_sequences;
  if (body.stream === true) chat.stream = true;
  const tools = (Array.isArray(body.tools) ? (body.tools as Json[]) : []).filter((t) => t && typeof t.name === 'string' && (t.type === undefined || t.type === 'custom'));
  if (tools.length) {
    chat.tools = tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.input_schema ?? { type: 'object', properties: {} } } }));
    const choice = body.tool_choice as Json | undefined;
    if (choice?.type === 'auto') chat.tool_choice = 'auto';
    else if (choice?.type === 'any') chat.tool_choice = 'required';
    else if (choice?.type === 'none') chat.tool_choice = 'none';
    else if (choice?.type === 'tool' && typeof choice.name === 'string') chat.tool_choice = { type: 'function', function: { name: choice.name } };
    if (choice?.disable_parallel_tool_use === true) chat.parallel_tool_calls = false;
  }
  const user = (body.metadata as Json | undefined)?.user_id;
  if (typeof user === 'string') chat.user = user;
  return chat;
}

export function anthropicUsageOf(usage: Usage | null): Json {
  const u = usage ?? { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
  return { input_tokens: u.input, output_tokens: u.output, cache_read_input_tokens: u.cacheRead, cache_creation_input_tokens: u.cacheWrite };
}

function messageId(chatId: unknown): string {
  const id = typeof chatId === 'string' ? chatId.replace(/^chatcmpl-/, '').replace(/[^A-Za-z0-9_-]/g, '') : '';
  return `msg_${id || Math.random().toString(36).slice(2)}`;
}

/** A chat.completion (already parsed by the upstream's adapter) as an Anthropic `message`. */
export function chatToMessage(parsed: ParsedResponse, publicModel: string): ParsedResponse {
  const choice = ((parsed.body.choices as Json[] | undefined) ?? [])[0] ?? {};
  const message = (choice.message ?? {}) as Json;
  const content: Json[] = [];
  if (typeof message.reasoning_content === 'string' && message.reasoning_content) content.push({ type: 'thinking', thinking: message.reasoning_content, signature: '' });
  if (typeof message.content === 'string' && message.content) content.push({ type: 'text', text: message.content });
  for (const call of (message.tool_calls as Json[] | undefined) ?? []) {
    const fn = (call.function ?? {}) as Json;
    content.push({ type: 'tool_use', id: String(call.id), name: String(fn.name), input: parseObject(fn.arguments) });
  }
  return {
    body: {
      id: messageId(parsed.body.id),
      type: 'message',
      role: 'assistant',
      model: publicModel,
      content,
      stop_reason: STOP_REASONS[String(choice.finish_reason)] ?? 'end_turn',
      stop_sequence: null,
      usage: anthropicUsageOf(parsed.usage),
    },
    usage: parsed.usage,
  };
}

export function parseObject(text: unknown): Json {
  if (typeof text !== 'string' || !text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
  } catch {
    return {};
  }
}

/**
 * Chat chunks to Anthropic's stream: message_start at the first chunk; one content block per run
 * of text, reasoning (as thinking) or tool call, opened with content_block_start and closed with
 * content_block_stop; message_delta (stop reason, usage) and message_stop at the chat's `[DONE]`.
 */
export class ChatToMessages implements ChatToProtocol {
  private started = false;
  private open: { kind: 'text' | 'thinking' | 'tool'; index: number; tool?: number } | null = null;
  private blocks = 0;
  private stopReason = 'end_turn';

  constructor(private readonly model: string) {}

  chunk(chunk: ChatChunk): string {
    let out = this.start(chunk.id);
    for (const choice of chunk.choices ?? []) {
      if (choice.index !== undefined && choice.index !== 0) continue;
      const delta = choice.delta ?? {};
      if (typeof delta.reasoning_content === 'string' && delta.reasoning_content) {
        out += this.block('thinking', { type: 'thinking', thinking: '', signature: '' });
        out += this.delta({ type: 'thinking_delta', thinking: delta.reasoning_content });
      }
      if (typeof delta.content === 'string' && delta.content) {
        out += this.block('text', { type: 'text', text: '' });
        out += this.delta({ type: 'text_delta', text: delta.content });
      }
      for (const call of delta.tool_calls ?? []) {
        const index = num(call.index);
        if (call.id || !this.open || this.open.kind !== 'tool' || this.open.tool !== index) {
          out += this.block('tool', { type: 'tool_use', id: String(call.id ?? `toolu_${this.blocks}`), name: String(call.function?.name ?? ''), input: {} }, index);
        }
        const args = call.function?.arguments;
        if (typeof args === 'string' && args) out += this.delta({ type: 'input_json_delta', partial_json: args });
      }
      if (choice.finish_reason) this.stopReason = STOP_REASONS[choice.finish_reason] ?? 'end_turn';
    }
    return out;
  }

  /** The end: the open block closed, message_delta with the stop reason and the usage, message_stop. */
  finish(usage: Usage | null): string {
    let out = this.start(undefined) + this.close();
    const u = anthropicUsageOf(usage);
    out += namedEvent('message_delta', { type: 'message_delta', delta: { stop_reason: this.stopReason, stop_sequence: null }, usage: u });
    out += namedEvent('message_stop', { type: 'message_stop' });
    return out;
  }

  private start(id: string | undefined): string {
    if (this.started) return '';
    this.started = true;
    const message = { id: messageId(id), type: 'message', role: 'assistant', model: this.model, content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsageOf(null) };
    return namedEvent('message_start', { type: 'message_start', message });
  }

  private block(kind: 'text' | 'thinking' | 'tool', contentBlock: Json, tool?: number): string {
    if (kind !== 'tool' && this.open?.kind === kind) return '';
    const out = this.close();
    this.open = { kind, index: this.blocks++, tool };
    return out + namedEvent('content_block_start', { type: 'content_block_start', index: this.open.index, content_block: contentBlock });
  }

  private delta(delta: Json): string {
    return namedEvent('content_block_delta', { type: 'content_block_delta', index: this.open!.index, delta });
  }

  private close(): string {
    if (!this.open) return '';
    const out = namedEvent('content_block_stop', { type: 'content_block_stop', index: this.open.index });
    this.open = null;
    return out;
  }
}

export const MESSAGES_OVER_CHAT = {
  toChat: messagesToChat,
  fromChat: (parsed: ParsedResponse, publicModel: string) => chatToMessage(parsed, publicModel),
  stream: (model: string) => new ChatToMessages(model),
};
