import { num } from '../adapters/common';
import { ParsedResponse, Usage } from '../types';
import { ChatChunk, ChatProtocol, ChatToProtocol, namedEvent } from './chat-stream';

/**
 * OpenAI's Responses API over a chat-completions upstream, stateless: `instructions` and `input`
 * (messages, function calls and their outputs) become chat messages; the chat answer becomes a
 * `response` with message and function_call output items, and its chunks become the Responses
 * event sequence (response.created ... response.completed). Reasoning items of earlier turns
 * cannot be carried by chat and are dropped; reasoning the upstream streams (`reasoning_content`)
 * comes back as a reasoning item.
 */
type Json = Record<string, unknown>;

function contentParts(content: unknown): Json[] | string {
  if (typeof content === 'string') return content;
  const parts: Json[] = [];
  for (const part of Array.isArray(content) ? (content as Json[]) : []) {
    if (part?.type === 'input_text' || part?.type === 'output_text' || part?.type === 'text') parts.push({ type: 'text', text: String(part.text ?? '') });
    else if (part?.type === 'input_image' && typeof part.image_url === 'string') parts.push({ type: 'image_url', image_url: { url: part.image_url, detail: part.detail } });
  }
  return parts.every((p) => p.type === 'text') ? parts.map((p) => p.text).join('') : parts;
}

/** A Responses request as a chat-completions body. */
export function responsesToChat(body: Json): Json {
  const messages: Json[] = [];
  if (typeof body.instructions === 'string' && body.instructions) messages.push({ role: 'system', content: body.instructions });
  const input = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : Array.isArray(body.input) ? (body.input as Json[]) : [];
  for (const item of input) {
    if (!item || typeof item !== 'object') continue;
    const type = item.type ?? 'message';
    if (type === 'message') {
      const role = item.role === 'developer' ? 'system' : String(item.role ?? 'user');
      messages.push({ role, content: contentParts(item.content) });
    } else if (type === 'function_call') {
      const call = { id: String(item.call_id), type: 'function', function: { name: String(item.name), arguments: String(item.arguments ?? '') } };
      const last = messages[messages.length - 1];
      if (last?.role === 'assistant' && Array.isArray(last.tool_calls)) (last.tool_calls as Json[]).push(call);
      else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
    } else if (type === 'function_call_output') {
      messages.push({ role: 'tool', tool_call_id: String(item.call_id), content: typeof item.output === 'string' ? item.output : JSON.stringify(item.output ?? '') });
    }
    // reasoning items and other item types have no chat equivalent
  }
  const chat: Json = { model: body.model, messages };
  if (typeof body.max_output_tokens === 'number') chat.max_tokens = body.max_output_tokens;
  if (typeof body.temperature === 'number') chat.temperature = body.temperature;
  if (typeof body.top_p === 'number') chat.top_p = body.top_p;
  if (typeof body.user === 'string') chat.user = body.user;
  if (typeof body.parallel_tool_calls === 'boolean') chat.parallel_tool_calls = body.parallel_tool_calls;
  if (body.stream === true) chat.stream = true;
  const effort = (body.reasoning as Json | undefined)?.effort;
  if (typeof effort === 'string') chat.reasoning_effort = effort;
  const tools = (Array.isArray(body.tools) ? (body.tools as Json[]) : []).filter((t) => t?.type === 'function' && typeof t.name === 'string');
  if (tools.length) {
    chat.tools = tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters ?? { type: 'object', properties: {} }, strict: t.strict } }));
    const choice = body.tool_choice;
    if (choice === 'auto' || choice === 'none' || choice === 'required') chat.tool_choice = choice;
    else if ((choice as Json | undefined)?.type === 'function') chat.tool_choice = { type: 'function', function: { name: (choice as Json).name } };
  }
  const format = ((body.text as Json | undefined)?.format ?? null) as Json | null;
  if (format?.type === 'json_schema') chat.response_format = { type: 'json_schema', json_schema: { name: format.name, schema: format.schema, strict: format.strict } };
  else if (format?.type === 'json_object') chat.response_format = { type: 'json_object' };
  return chat;
}

export function responsesUsageOf(usage: Usage | null): Json {
  const u = usage ?? { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };
  const input = u.input + u.cacheRead + u.cacheWrite;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u.cacheRead },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: u.reasoning ?? 0 },
    total_tokens: input + u.output,
  };
}

const rid = (prefix: string) => `${prefix}_${Date.now().toString(16)}${Math.random().toString(16).slice(2, 14)}`;

/** The response object around `output` (the fields the SDKs read, echoing the request). */
function responseObject(id: string, createdAt: number, model: string, request: Json, status: string, output: Json[], usage: Usage | null, finishReason: string | null): Json {
  const incomplete = finishReason === 'length';
  return {
    id,
    object: 'response',
    created_at: createdAt,
    status: status === 'completed' && incomplete ? 'incomplete' : status,
    error: null,
    incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
    instructions: typeof request.instructions === 'string' ? request.instructions : null,
    max_output_tokens: typeof request.max_output_tokens === 'number' ? request.max_output_tokens : null,
    model,
    output,
    parallel_tool_calls: request.parallel_tool_calls !== false,
    previous_response_id: null,
    reasoning: { effort: (request.reasoning as Json | undefined)?.effort ?? null, summary: null },
    store: false,
    temperature: typeof request.temperature === 'number' ? request.temperature : 1,
    text: request.text ?? { format: { type: 'text' } },
    tool_choice: request.tool_choice ?? 'auto',
    tools: Array.isArray(request.tools) ? request.tools : [],
    top_p: typeof request.top_p === 'number' ? request.top_p : 1,
    truncation: 'disabled',
    usage: status === 'in_progress' ? null : responsesUsageOf(usage),
    user: typeof request.user === 'string' ? request.user : null,
    metadata: request.metadata ?? {},
  };
}

function messageItem(id: string, text: string, status: string): Json {
  return { type: 'message', id, status, role: 'assistant', content: status === 'in_progress' && !text ? [] : [{ type: 'output_text', text, annotations: [] }] };
}

/** A chat.completion as a Responses `response`. */
export function chatToResponse(parsed: ParsedResponse, publicModel: string, request: Json): ParsedResponse {
  const choice = ((parsed.body.choices as Json[] | undefined) ?? [])[0] ?? {};
  const message = (choice.message ?? {}) as Json;
  const output: Json[] = [];
  if (typeof message.reasoning_content === 'string' && message.reasoning_content) {
    output.push({ type: 'reasoning', id: rid('rs'), summary: [{ type: 'summary_text', text: message.reasoning_content }] });
  }
  if (typeof message.content === 'string' && message.content) output.push(messageItem(rid('msg'), message.content, 'completed'));
  for (const call of (message.tool_calls as Json[] | undefined) ?? []) {
    const fn = (call.function ?? {}) as Json;
    output.push({ type: 'function_call', id: rid('fc'), call_id: String(call.id), name: String(fn.name), arguments: String(fn.arguments ?? ''), status: 'completed' });
  }
  const created = typeof parsed.body.created === 'number' ? parsed.body.created : Math.floor(Date.now() / 1000);
  return { body: responseObject(rid('resp'), created, publicModel, request, 'completed', output, parsed.usage, String(choice.finish_reason ?? 'stop')), usage: parsed.usage };
}

type OpenItem =
  | { kind: 'message'; id: string; index: number; text: string }
  | { kind: 'reasoning'; id: string; index: number; text: string }
  | { kind: 'call'; id: string; index: number; tool: number; callId: string; name: string; args: string };

/**
 * Chat chunks to the Responses event sequence: response.created and response.in_progress first;
 * per output item output_item.added, its deltas (output_text, function_call_arguments,
 * reasoning_summary_text) and their .done events, output_item.done; response.completed (with the
 * whole response and usage) at the chat's `[DONE]`. Every event carries a sequence_number.
 */
export class ChatToResponses implements ChatToProtocol {
  private readonly id = rid('resp');
  private readonly createdAt = Math.floor(Date.now() / 1000);
  private sequence = 0;
  private started = false;
  private open: OpenItem | null = null;
  private readonly output: Json[] = [];
  private finishReason: string | null = null;

  constructor(
    private readonly model: string,
    private readonly request: Json,
  ) {}

  chunk(chunk: ChatChunk): string {
    let out = this.start();
    for (const choice of chunk.choices ?? []) {
      if (choice.index !== undefined && choice.index !== 0) continue;
      const delta = choice.delta ?? {};
      if (typeof delta.reasoning_content === 'string' && delta.reasoning_content) {
        out += this.item('reasoning');
        const item = this.open as Extract<OpenItem, { kind: 'reasoning' }>;
        item.text += delta.reasoning_content;
        out += this.event('response.reasoning_summary_text.delta', { item_id: item.id, output_index: item.index, summary_index: 0, delta: delta.reasoning_content });
      }
      if (typeof delta.content === 'string' && delta.content) {
        out += this.item('message');
        const item = this.open as Extract<OpenItem, { kind: 'message' }>;
        item.text += delta.content;
        out += this.event('response.output_text.delta', { item_id: item.id, output_index: item.index, content_index: 0, delta: delta.content, logprobs: [] });
      }
      for (const call of delta.tool_calls ?? []) {
        const tool = num(call.index);
        if (call.id || this.open?.kind !== 'call' || this.open.tool !== tool) out += this.item('call', tool, String(call.id ?? rid('call')), String(call.function?.name ?? ''));
        const item = this.open as Extract<OpenItem, { kind: 'call' }>;
        const args = call.function?.arguments;
        if (typeof args === 'string' && args) {
          item.args += args;
          out += this.event('response.function_call_arguments.delta', { item_id: item.id, output_index: item.index, delta: args });
        }
      }
      if (choice.finish_reason) this.finishReason = choice.finish_reason;
    }
    return out;
  }

  finish(usage: Usage | null): string {
    const out = this.start() + this.close();
    const response = responseObject(this.id, this.createdAt, this.model, this.request, 'completed', this.output, usage, this.finishReason);
    return out + this.event(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response });
  }

  private event(type: string, payload: Json): string {
    return namedEvent(type, { type, sequence_number: this.sequence++, ...payload });
  }

  private start(): string {
    if (this.started) return '';
    this.started = true;
    const response = responseObject(this.id, this.createdAt, this.model, this.request, 'in_progress', [], null, null);
    return this.event('response.created', { response }) + this.event('response.in_progress', { response });
  }

  private item(kind: OpenItem['kind'], tool = 0, callId = '', name = ''): string {
    if (this.open?.kind === kind && kind !== 'call') return '';
    let out = this.close();
    const index = this.output.length;
    if (kind === 'message') {
      this.open = { kind, id: rid('msg'), index, text: '' };
      out += this.event('response.output_item.added', { output_index: index, item: messageItem(this.open.id, '', 'in_progress') });
      out += this.event('response.content_part.added', { item_id: this.open.id, output_index: index, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
    } else if (kind === 'reasoning') {
      this.open = { kind, id: rid('rs'), index, text: '' };
      out += this.event('response.output_item.added', { output_index: index, item: { type: 'reasoning', id: this.open.id, summary: [] } });
      out += this.event('response.reasoning_summary_part.added', { item_id: this.open.id, output_index: index, summary_index: 0, part: { type: 'summary_text', text: '' } });
    } else {
      this.open = { kind, id: rid('fc'), index, tool, callId, name, args: '' };
      out += this.event('response.output_item.added', { output_index: index, item: { type: 'function_call', id: this.open.id, call_id: callId, name, arguments: '', status: 'in_progress' } });
    }
    this.output.push({}); // its place; filled when the item is done
    return out;
  }

  private close(): string {
    const item = this.open;
    if (!item) return '';
    this.open = null;
    let out = '';
    let done: Json;
    if (item.kind === 'message') {
      const part = { type: 'output_text', text: item.text, annotations: [] };
      out += this.event('response.output_text.done', { item_id: item.id, output_index: item.index, content_index: 0, text: item.text, logprobs: [] });
      out += this.event('response.content_part.done', { item_id: item.id, output_index: item.index, content_index: 0, part });
      done = messageItem(item.id, item.text, 'completed');
    } else if (item.kind === 'reasoning') {
      out += this.event('response.reasoning_summary_text.done', { item_id: item.id, output_index: item.index, summary_index: 0, text: item.text });
      out += this.event('response.reasoning_summary_part.done', { item_id: item.id, output_index: item.index, summary_index: 0, part: { type: 'summary_text', text: item.text } });
      done = { type: 'reasoning', id: item.id, summary: [{ type: 'summary_text', text: item.text }] };
    } else {
      out += this.event('response.function_call_arguments.done', { item_id: item.id, output_index: item.index, arguments: item.args });
      done = { type: 'function_call', id: item.id, call_id: item.callId, name: item.name, arguments: item.args, status: 'completed' };
    }
    this.output[item.index] = done;
    return out + this.event('response.output_item.done', { output_index: item.index, item: done });
  }
}

export const RESPONSES_OVER_CHAT: ChatProtocol = {
  toChat: responsesToChat,
  fromChat: chatToResponse,
  stream: (model, request) => new ChatToResponses(model, request),
};
