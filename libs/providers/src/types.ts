import type { FormData } from 'undici';

/**
 * Upstream protocols a channel may speak. `openai` covers any OpenAI-compatible server (vLLM,
 * DeepSeek, Qwen...; see presets.ts for their base URLs and quirks); `openai-responses` is one that
 * also serves OpenAI's Responses API natively (OpenAI itself): /v1/responses is passed through to
 * it rather than translated to chat. `azure` is Azure OpenAI (a deployment per model, api-version,
 * api-key header), `bedrock` AWS Bedrock (SigV4; Anthropic models through InvokeModel, others
 * through Converse), `vertex` Google Vertex AI (Gemini and Anthropic models, service-account tokens).
 */
export const PROVIDER_TYPES = ['openai', 'anthropic', 'gemini', 'openai-responses', 'azure', 'bedrock', 'vertex'] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

/**
 * The endpoints the gateway serves: OpenAI's chat completions, completions and embeddings, and the
 * two protocols of coding agents, Anthropic's Messages (`messages`) and OpenAI's Responses
 * (`responses`), passed through to upstreams that speak them and translated to chat for the others.
 */
export type Endpoint = 'chat' | 'completions' | 'embeddings' | 'messages' | 'responses' | 'moderations' | 'rerank' | 'images' | 'transcriptions' | 'speech';

/**
 * Endpoints answered with one body, never streamed as events (speech is streamed, but as the
 * upstream's audio bytes: see `BytesExchange`).
 */
export const UNSTREAMED_ENDPOINTS: ReadonlySet<Endpoint> = new Set(['embeddings', 'moderations', 'rerank', 'images', 'transcriptions', 'speech']);

/**
 * What a price and a usage record count (README "Price units"): tokens (chat and friends, per
 * million), images (per image, by size and quality), seconds of audio (transcriptions), characters
 * (speech input, per million), search units (rerank: a query over up to 100 documents) and requests
 * (moderations).
 */
export const PRICE_UNITS = ['token', 'image', 'second', 'character', 'search_unit', 'request'] as const;
export type PriceUnit = (typeof PRICE_UNITS)[number];

/** An uploaded file passed through to the upstream (a transcription's audio). */
export interface UploadedFile {
  data: Buffer;
  filename: string;
  contentType: string;
}

/**
 * Tokens of one request in disjoint billing buckets: `input` is prompt tokens that were neither
 * read from nor written to a prompt cache, so input + cacheRead + cacheWrite is the whole prompt.
 */
export interface Usage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  /** Of `cacheWrite`, the tokens written to the one-hour cache (Anthropic `ttl: "1h"`), when reported. */
  cacheWrite1h?: number;
  /** Of `output`, the reasoning tokens, when reported. */
  reasoning?: number;
  /** How many times the per-request price applies (rerank: search units; images: images); 1 when absent. */
  requests?: number;
}

/**
 * A channel's non-secret settings, by provider type: Azure's `apiVersion`, Bedrock's `region`,
 * Vertex's `projectId` and `location`, an OpenAI-compatible channel's `preset` (its quirks).
 */
export interface UpstreamSettings {
  preset?: string;
  apiVersion?: string;
  region?: string;
  projectId?: string;
  location?: string;
}

/** Where and as whom to call: one channel, one of its keys, the model name the upstream knows. */
export interface UpstreamTarget {
  baseUrl: string;
  /** The channel key: an API key; Bedrock `ACCESS_KEY_ID:SECRET_ACCESS_KEY`; Vertex a service-account key (JSON). */
  apiKey: string;
  upstreamModel: string;
  settings?: UpstreamSettings;
  /** Whether private addresses may be reached (token endpoints outside the pooled upstream client honour it too). */
  allowPrivateNetworks?: boolean;
}

export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  /** A FormData body is sent as multipart/form-data (its boundary in the content-type undici sets). */
  body: string | FormData;
  /** POST unless said (model lists are read with GET). */
  method?: 'GET' | 'POST';
}

export interface BuildOptions {
  stream: boolean;
  /** Ask the upstream for usage in the stream (OpenAI: `stream_options.include_usage`). */
  includeUsage: boolean;
  /** Client headers meant for an upstream that speaks the client's protocol (`anthropic-version`, `anthropic-beta`). */
  clientHeaders?: Record<string, string>;
}

/** A non-streamed answer in OpenAI's shape, with usage normalised (null when the upstream gave none). */
export interface ParsedResponse {
  body: Record<string, unknown>;
  usage: Usage | null;
  /** An answer that is not JSON (a transcription as text, srt or vtt): written as is. */
  raw?: { contentType: string; text: string };
}

/** One server-sent event for the client, in OpenAI's chat.completion.chunk format. */
export interface SseEvent {
  /** The complete event text, `data: ...\n\n` (for `openai` the upstream's bytes unchanged). */
  raw: string;
  /** A chunk that carries only usage (`choices: []`); the proxy drops it when the client did not ask for usage. */
  usageOnly: boolean;
  /** The terminal `data: [DONE]`. */
  done: boolean;
  /**
   * The answer's end in a protocol whose end the proxy cannot see in the raw text (Anthropic's
   * message_delta and message_stop, Responses' closing events): held back until settled.
   */
  final?: boolean;
}

/** Translates one upstream stream; feed it the body chunks in order, then call end(). */
export interface StreamTranslator {
  push(chunk: Buffer | string): SseEvent[];
  /** Flushes at the end of the body; throws UpstreamError(kind 'protocol') if the stream was cut short. */
  end(): SseEvent[];
  /** Usage seen so far (final once the stream finished). */
  readonly usage: Usage | null;
  /** Whether the upstream sent its terminal event. */
  readonly finished: boolean;
}

/** OpenAI's error object: what every inference error looks like to a client. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface ProviderAdapter {
  readonly type: ProviderType;
  supports(endpoint: Endpoint): boolean;
  /** The upstream request for an OpenAI-shaped body (`model` is replaced by target.upstreamModel). */
  buildRequest(endpoint: Endpoint, body: Record<string, unknown>, target: UpstreamTarget, options: BuildOptions): UpstreamRequest;
  /** The upstream's 2xx body in OpenAI's shape, `model` set to the public name; UpstreamError('protocol') if malformed. `request` is the client's body (some answers depend on it, e.g. encoding_format). */
  parseResponse(endpoint: Endpoint, text: string, publicModel: string, request?: Record<string, unknown>): ParsedResponse;
  /** `upstreamModel`, when given, is replaced by `publicModel` in pass-through chunks; `request` is the client's body. */
  streamTranslator(endpoint: Endpoint, publicModel: string, upstreamModel?: string, request?: Record<string, unknown>): StreamTranslator;
  /** A tiny real request for health checks. */
  probe(target: UpstreamTarget): UpstreamRequest;
  /**
   * Authenticates a built request where that needs async work (Bedrock's SigV4 signature over the
   * final URL, headers and body; Vertex's OAuth access token). Absent: the request is complete.
   */
  authorize?(request: UpstreamRequest, target: UpstreamTarget): Promise<UpstreamRequest>;
}

export const ZERO_USAGE: Usage = Object.freeze({ input: 0, output: 0, cacheRead: 0, cacheWrite: 0 });
