import { protocolError } from '../errors';
import { SseParser } from '../sse';
import { FormData } from 'undici';
import { BuildOptions, UploadedFile, Endpoint, UNSTREAMED_ENDPOINTS, ProviderType, ParsedResponse, ProviderAdapter, SseEvent, StreamTranslator, UpstreamRequest, UpstreamTarget, Usage } from '../types';
import { quirksOf } from '../presets';
import { joinUrl, num, parseJson } from './common';

const PATHS: Record<Endpoint, string> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  messages: '/messages',
  responses: '/responses',
  moderations: '/moderations',
  rerank: '/rerank',
  images: '/images/generations',
  transcriptions: '/audio/transcriptions',
  speech: '/audio/speech',
};

/** Cohere's search unit: one query over up to 100 documents. */
const DOCUMENTS_PER_SEARCH_UNIT = 100;

/** Search units of a rerank request, as Cohere counts them when the upstream reports none. */
export function searchUnitsOf(body: Record<string, unknown> | undefined): number {
  const documents = Array.isArray(body?.documents) ? body.documents.length : 0;
  return Math.max(1, Math.ceil(documents / DOCUMENTS_PER_SEARCH_UNIT));
}

/** OpenAI's usage object to disjoint buckets (its prompt_tokens include the cached ones). */
export function usageFromOpenAI(raw: unknown): Usage | null {
  if (!raw || typeof raw !== 'object') return null;
  const u = raw as {
    prompt_tokens?: unknown;
    completion_tokens?: unknown;
    prompt_tokens_details?: { cached_tokens?: unknown } | null;
    completion_tokens_details?: { reasoning_tokens?: unknown } | null;
    /** DeepSeek's name for the cached part of the prompt. */
    prompt_cache_hit_tokens?: unknown;
    /** Moonshot's (Kimi). */
    cached_tokens?: unknown;
  };
  const prompt = num(u.prompt_tokens);
  const cached = Math.min(prompt, num(u.prompt_tokens_details?.cached_tokens) || num(u.prompt_cache_hit_tokens) || num(u.cached_tokens));
  const usage: Usage = { input: prompt - cached, output: num(u.completion_tokens), cacheRead: cached, cacheWrite: 0 };
  // Reasoning tokens are part of completion_tokens; priced apart when the price list says so.
  const reasoning = num(u.completion_tokens_details?.reasoning_tokens);
  if (reasoning) usage.reasoning = Math.min(reasoning, usage.output);
  return usage;
}

/** The client's response_format of a transcription (OpenAI's default: json). */
export function transcriptionFormat(request: Record<string, unknown> | undefined): string {
  return typeof request?.response_format === 'string' ? request.response_format : 'json';
}

/** Fields of a transcription passed on to the upstream besides model, file and response_format. */
const TRANSCRIPTION_FIELDS = ['language', 'prompt', 'temperature', 'timestamp_granularities[]', 'chunking_strategy'];

/**
 * The upstream's multipart form: the file as uploaded, the upstream model, and always
 * `response_format=verbose_json`, whose `duration` is what the request is billed by (the client's
 * own format is made from it: see transcriptionAnswer).
 */
function transcriptionForm(body: Record<string, unknown>, upstreamModel: string): FormData {
  const form = new FormData();
  const file = body.file as UploadedFile;
  form.append('file', new Blob([file.data], { type: file.contentType }), file.filename);
  form.append('model', upstreamModel);
  form.append('response_format', 'verbose_json');
  for (const name of TRANSCRIPTION_FIELDS) {
    const value = body[name];
    for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) form.append(name, String(v));
  }
  return form;
}

/**
 * A verbose_json transcription to the client's format, billed per second of audio: the answer's
 * `duration` (OpenAI's verbose_json always has it), else `usage.seconds` (`type: duration`), else the
 * end of its last segment; rounded up to a whole second. An answer with none of them is a protocol
 * error (502): the gateway does not guess what to charge.
 */
function transcriptionAnswer(body: Record<string, unknown>, request: Record<string, unknown> | undefined): ParsedResponse {
  if (typeof body.text !== 'string') throw protocolError('no text');
  const segments = Array.isArray(body.segments) ? (body.segments as Array<{ start?: unknown; end?: unknown; text?: unknown }>) : [];
  const usage = body.usage as { type?: unknown; seconds?: unknown } | undefined;
  const duration = finite(body.duration) ?? (usage?.type === 'duration' ? finite(usage.seconds) : null) ?? finite(segments.at(-1)?.end);
  if (duration === null || duration < 0) throw protocolError('no duration');
  const seconds = Math.ceil(duration);
  const billed = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, requests: seconds };
  switch (transcriptionFormat(request)) {
    case 'verbose_json':
      return { body, usage: billed };
    case 'text':
      return { body, usage: billed, raw: { contentType: 'text/plain; charset=utf-8', text: `${body.text}\n` } };
    case 'srt':
      return { body, usage: billed, raw: { contentType: 'text/plain; charset=utf-8', text: subtitles(segments, 'srt') } };
    case 'vtt':
      return { body, usage: billed, raw: { contentType: 'text/vtt; charset=utf-8', text: subtitles(segments, 'vtt') } };
    default:
      return { body: { text: body.text, usage: { type: 'duration', seconds } }, usage: billed };
  }
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** SubRip or WebVTT cues from verbose_json segments. */
function subtitles(segments: Array<{ start?: unknown; end?: unknown; text?: unknown }>, format: 'srt' | 'vtt'): string {
  const stamp = (t: unknown) => {
    const ms = Math.max(0, Math.round((finite(t) ?? 0) * 1000));
    const pad = (n: number, w = 2) => String(n).padStart(w, '0');
    const text = `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}${format === 'srt' ? ',' : '.'}${pad(ms % 1000, 3)}`;
    return text;
  };
  const cues = segments.map((s, i) => `${format === 'srt' ? `${i + 1}\n` : ''}${stamp(s.start)} --> ${stamp(s.end)}\n${String(s.text ?? '').trim()}\n`);
  return format === 'srt' ? cues.join('\n') : `WEBVTT\n\n${cues.join('\n')}`;
}

/**
 * OpenAI-compatible upstreams (OpenAI, vLLM, DeepSeek, Qwen...): the body passes through with only
 * the model renamed (and `stream_options.include_usage` added when usage is needed); stream events
 * go to the client byte for byte, only split at event boundaries so the proxy can drop the usage
 * chunk the client did not ask for. Base URLs include the version path (`https://api.openai.com/v1`).
 */
export class OpenAIAdapter implements ProviderAdapter {
  readonly type: ProviderType = 'openai';

  supports(_endpoint?: Endpoint): boolean {
    return true;
  }

  buildRequest(endpoint: Endpoint, body: Record<string, unknown>, target: UpstreamTarget, options: BuildOptions): UpstreamRequest {
    if (endpoint === 'transcriptions') {
      // undici sets the multipart content-type (with its boundary) for a FormData body.
      return { url: joinUrl(target.baseUrl, PATHS[endpoint]), headers: { authorization: `Bearer ${target.apiKey}`, accept: 'application/json' }, body: transcriptionForm(body, target.upstreamModel) };
    }
    if (endpoint === 'speech') {
      return {
        url: joinUrl(target.baseUrl, PATHS[endpoint]),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${target.apiKey}`, accept: '*/*' },
        body: JSON.stringify({ ...body, model: target.upstreamModel }),
      };
    }
    return {
      url: joinUrl(target.baseUrl, PATHS[endpoint]),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${target.apiKey}`, accept: options.stream ? 'text/event-stream' : 'application/json' },
      body: JSON.stringify(this.upstreamBody(endpoint, body, target, options)),
    };
  }

  /** The client's body for the upstream: the model renamed, usage asked for, the preset's quirks applied. */
  protected upstreamBody(endpoint: Endpoint, body: Record<string, unknown>, target: UpstreamTarget, options: BuildOptions): Record<string, unknown> {
    const quirks = quirksOf(target.settings?.preset);
    const upstreamBody: Record<string, unknown> = { ...body, model: target.upstreamModel };
    if (UNSTREAMED_ENDPOINTS.has(endpoint)) {
      delete upstreamBody.stream;
      return upstreamBody;
    }
    if (options.stream) {
      upstreamBody.stream = true;
      if (options.includeUsage && quirks.streamUsage === 'stream_options') {
        const given = body.stream_options && typeof body.stream_options === 'object' ? (body.stream_options as Record<string, unknown>) : {};
        upstreamBody.stream_options = { ...given, include_usage: true };
      } else if (quirks.streamUsage !== 'stream_options') {
        delete upstreamBody.stream_options;
      }
      if (options.includeUsage && quirks.streamUsage === 'openrouter') upstreamBody.usage = { include: true };
    } else {
      delete upstreamBody.stream;
      delete upstreamBody.stream_options;
    }
    if (quirks.maxTemperature !== undefined && typeof body.temperature === 'number' && body.temperature > quirks.maxTemperature) upstreamBody.temperature = quirks.maxTemperature;
    if (quirks.maxTokensOnly && body.max_completion_tokens !== undefined) {
      upstreamBody.max_tokens ??= body.max_completion_tokens;
      delete upstreamBody.max_completion_tokens;
    }
    return upstreamBody;
  }

  parseResponse(endpoint: Endpoint, text: string, publicModel: string, request?: Record<string, unknown>): ParsedResponse {
    const body = parseJson(text, 'the response');
    if (endpoint === 'moderations') {
      if (!Array.isArray(body.results)) throw protocolError('no results');
      // Priced per request: no tokens.
      return { body: { ...body, model: publicModel }, usage: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, requests: 1 } };
    }
    if (endpoint === 'rerank') {
      if (!Array.isArray(body.results)) throw protocolError('no results');
      // Cohere reports search units (meta.billed_units), Jina and vLLM tokens (usage.total_tokens).
      const meta = body.meta as { billed_units?: { search_units?: unknown } } | undefined;
      const units = num(meta?.billed_units?.search_units) || searchUnitsOf(request);
      const tokens = num((body.usage as { total_tokens?: unknown } | undefined)?.total_tokens);
      const out: Record<string, unknown> = { ...body, model: publicModel };
      return { body: out, usage: { input: tokens, output: 0, cacheRead: 0, cacheWrite: 0, requests: units } };
    }
    if (endpoint === 'images') {
      if (!Array.isArray(body.data)) throw protocolError('no data');
      // Priced per image; gpt-image models also report their tokens (billed on top where priced).
      const u = (body.usage ?? {}) as { input_tokens?: unknown; output_tokens?: unknown };
      return { body, usage: { input: num(u.input_tokens), output: num(u.output_tokens), cacheRead: 0, cacheWrite: 0, requests: body.data.length } };
    }
    if (endpoint === 'transcriptions') return transcriptionAnswer(body, request);
    if (endpoint === 'embeddings') {
      if (!Array.isArray(body.data)) throw protocolError('no data');
    } else if (!Array.isArray(body.choices)) {
      throw protocolError('no choices');
    }
    return { body: { ...body, model: publicModel }, usage: usageFromOpenAI(body.usage) };
  }

  streamTranslator(_endpoint: Endpoint, publicModel: string, upstreamModel?: string): StreamTranslator {
    return new OpenAIStream(publicModel, upstreamModel);
  }

  probe(target: UpstreamTarget): UpstreamRequest {
    return this.buildRequest('chat', { messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 }, target, { stream: false, includeUsage: false });
  }
}

export class OpenAIStream implements StreamTranslator {
  private readonly parser = new SseParser();
  usage: Usage | null = null;
  finished = false;

  private readonly rename: Array<[string, string]> = [];

  /**
   * Chunks pass through unparsed; only the upstream's model name is put back to the public one,
   * as a plain text replacement of the `"model":"..."` member (no re-serialisation).
   */
  constructor(publicModel: string, upstreamModel?: string, anyModel = false) {
    // Azure names the model behind the deployment (gpt-4o-2024-08-06), not the deployment asked for.
    if (anyModel) this.anyModel = [/"model":\s*"(?:[^"\\]|\\.)*"/g, `"model":${JSON.stringify(publicModel)}`];
    if (upstreamModel && upstreamModel !== publicModel) {
      for (const space of ['', ' ']) this.rename.push([`"model":${space}${JSON.stringify(upstreamModel)}`, `"model":${space}${JSON.stringify(publicModel)}`]);
    }
  }

  push(chunk: Buffer | string): SseEvent[] {
    return this.parser.push(chunk).map((e) => this.event(this.renamed(e.raw), e.data));
  }

  end(): SseEvent[] {
    const rest = this.parser.end().map((e) => this.event(this.renamed(e.raw), e.data));
    if (!this.finished) throw protocolError('the stream ended before [DONE]');
    return rest;
  }

  private readonly anyModel: [RegExp, string] | null = null;

  private renamed(raw: string): string {
    if (this.anyModel) return raw.includes('"model"') ? raw.replace(this.anyModel[0], this.anyModel[1]) : raw;
    let out = raw;
    for (const [from, to] of this.rename) if (out.includes(from)) out = out.split(from).join(to);
    return out;
  }

  private event(raw: string, data: string): SseEvent {
    if (data === '[DONE]') {
      this.finished = true;
      return { raw, usageOnly: false, done: true };
    }
    // Parse only what may carry usage or an error; every other chunk passes unread.
    if (!data.includes('"usage"') && !data.includes('"error"')) return { raw, usageOnly: false, done: false };
    let parsed: { usage?: unknown; choices?: Array<{ usage?: unknown }>; error?: unknown };
    try {
      parsed = JSON.parse(data);
    } catch {
      throw protocolError('a stream event is not JSON');
    }
    if (parsed.error && !parsed.choices) throw protocolError('the upstream reported an error mid-stream');
    // Moonshot (Kimi) reports a stream's usage inside the last chunk's choice.
    const usage = usageFromOpenAI(parsed.usage) ?? (Array.isArray(parsed.choices) ? usageFromOpenAI(parsed.choices[0]?.usage) : null);
    if (usage) this.usage = usage;
    return { raw, usageOnly: Boolean(usage) && Array.isArray(parsed.choices) && parsed.choices.length === 0, done: false };
  }
}
