import { Endpoint, PriceUnit, UNSTREAMED_ENDPOINTS, UploadedFile } from '@app/providers';
import { InferenceError } from './openai-error';

/** The endpoints of the inference API; the same pipeline serves all of them. */
export type InferenceEndpoint = Endpoint;

/**
 * The fields of a request body that the gateway itself reads; everything else is passed through to
 * the upstream untouched (tools, response_format, temperature...).
 */
export interface RequestFields {
  model: string;
  stream: boolean;
  /** The client asked for the usage chunk in a stream (`stream_options.include_usage`). */
  includeUsage: boolean;
  /** `max_completion_tokens` or `max_tokens`, when given. */
  maxOutputTokens: number | null;
  n: number;
  /** Units of the per-request price the hold covers (rerank: its search units; images: n; transcriptions: estimated seconds); 1 otherwise. */
  requests: number;
  /** What the endpoint is billed in (README "Price units"). */
  unit: PriceUnit;
  /** Images: the size and quality asked for (the price table's key). */
  image?: { size: string | null; quality: string | null };
  /** Speech: the input's characters (Unicode code points), what it is billed by. */
  characters?: number;
}

/** OpenAI's response formats of a transcription. */
const TRANSCRIPTION_FORMATS = ['json', 'text', 'srt', 'verbose_json', 'vtt'];
/** OpenAI's limit on a speech input. */
const MAX_SPEECH_CHARACTERS = 4096;
/**
 * The bitrate a transcription's hold assumes (bytes per second of audio): 16 kbit/s, lower than
 * speech is usually encoded at (so the hold usually covers the real duration). The real charge is
 * the upstream's duration, whatever the hold was.
 */
export const TRANSCRIPTION_HOLD_BYTES_PER_SECOND = 2000;
const SIZE_OR_QUALITY = /^[A-Za-z0-9_-]{1,20}$/;

const UNIT_OF: Partial<Record<Endpoint, PriceUnit>> = { images: 'image', transcriptions: 'second', speech: 'character', rerank: 'search_unit', moderations: 'request' };

/** The unit an endpoint is billed in. */
export function unitOfEndpoint(endpoint: Endpoint): PriceUnit {
  return UNIT_OF[endpoint] ?? 'token';
}

function optionalWord(b: Record<string, unknown>, name: string): string | null {
  const v = b[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || !SIZE_OR_QUALITY.test(v)) throw InferenceError.invalidRequest(`\`${name}\` must be a string such as "1024x1024" or "hd".`, name, 'invalid_value');
  return v;
}

const MODEL_NAME = /^[\w.:/@+-]{1,200}$/;
const MAX_RERANK_DOCUMENTS = 10_000;

function positiveInt(body: Record<string, unknown>, name: string, max: number): number | null {
  const v = body[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw InferenceError.invalidRequest(`\`${name}\` must be an integer from 1 to ${max}.`, name, 'invalid_value');
  }
  return v;
}

/** Validates the fields the gateway reads; throws an OpenAI-shaped 400 naming the field. */
export function readRequestFields(endpoint: InferenceEndpoint, body: unknown): RequestFields {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw InferenceError.invalidRequest('The request body must be a JSON object.');
  }
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || !MODEL_NAME.test(b.model)) {
    throw InferenceError.invalidRequest('`model` is required: the name of a model, as listed by GET /v1/models.', 'model', 'invalid_value');
  }
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean') {
    throw InferenceError.invalidRequest('`stream` must be a boolean.', 'stream', 'invalid_type');
  }
  const stream = !UNSTREAMED_ENDPOINTS.has(endpoint) && b.stream === true;
  const options = b.stream_options;
  if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
    throw InferenceError.invalidRequest('`stream_options` must be an object.', 'stream_options', 'invalid_type');
  }
  // Anthropic's and Responses' streams always end with their usage.
  const includeUsage = stream && (endpoint === 'messages' || endpoint === 'responses' || (options as { include_usage?: unknown } | null | undefined)?.include_usage === true);
  if (endpoint === 'messages') {
    if (!Array.isArray(b.messages)) throw InferenceError.invalidRequest('messages: Field required (an array).', 'messages', 'invalid_type');
    const maxTokens = positiveInt(b, 'max_tokens', 10_000_000);
    if (maxTokens === null) throw InferenceError.invalidRequest('max_tokens: Field required.', 'max_tokens', 'missing_required_parameter');
    return { model: b.model, stream, includeUsage, maxOutputTokens: maxTokens, n: 1, requests: 1, unit: 'token' };
  }
  if (endpoint === 'responses') {
    if (b.previous_response_id !== undefined && b.previous_response_id !== null) {
      throw InferenceError.invalidRequest(
        'previous_response_id is not supported: this gateway stores no responses. Send the whole conversation in `input` (as with `store: false`).',
        'previous_response_id',
        'unsupported_parameter',
      );
    }
    if (b.background === true) throw InferenceError.invalidRequest('background responses are not supported: this gateway stores no responses.', 'background', 'unsupported_parameter');
    if (typeof b.input !== 'string' && !Array.isArray(b.input)) throw InferenceError.invalidRequest('`input` is required: a string or an array of items.', 'input', 'missing_required_parameter');
    return { model: b.model, stream, includeUsage, maxOutputTokens: positiveInt(b, 'max_output_tokens', 10_000_000), n: 1, requests: 1, unit: 'token' };
  }
  if (endpoint === 'moderations') {
    if (typeof b.input !== 'string' && !Array.isArray(b.input)) throw InferenceError.invalidRequest('`input` is required: a string or an array.', 'input', 'missing_required_parameter');
    return { model: b.model, stream: false, includeUsage: false, maxOutputTokens: null, n: 1, requests: 1, unit: 'request' };
  }
  if (endpoint === 'images') {
    if (typeof b.prompt !== 'string' || !b.prompt) throw InferenceError.invalidRequest('`prompt` is required: a string.', 'prompt', 'missing_required_parameter');
    // Each image is one unit of the per-image price of its size and quality: the hold covers all of them.
    const image = { size: optionalWord(b, 'size'), quality: optionalWord(b, 'quality') };
    return { model: b.model, stream: false, includeUsage: false, maxOutputTokens: null, n: 1, requests: positiveInt(b, 'n', 10) ?? 1, unit: 'image', image };
  }
  if (endpoint === 'transcriptions') {
    const file = b.file as UploadedFile | undefined;
    if (!file || !Buffer.isBuffer(file.data) || file.data.length === 0) throw InferenceError.invalidRequest('`file` is required: the audio file to transcribe.', 'file', 'missing_required_parameter');
    if (b.response_format !== undefined && (typeof b.response_format !== 'string' || !TRANSCRIPTION_FORMATS.includes(b.response_format))) {
      throw InferenceError.invalidRequest(`\`response_format\` must be one of ${TRANSCRIPTION_FORMATS.join(', ')}.`, 'response_format', 'invalid_value');
    }
    const seconds = Math.max(1, Math.ceil(file.data.length / TRANSCRIPTION_HOLD_BYTES_PER_SECOND));
    return { model: b.model, stream: false, includeUsage: false, maxOutputTokens: null, n: 1, requests: seconds, unit: 'second' };
  }
  if (endpoint === 'speech') {
    if (typeof b.input !== 'string' || !b.input) throw InferenceError.invalidRequest('`input` is required: the text to speak.', 'input', 'missing_required_parameter');
    const characters = [...b.input].length;
    if (characters > MAX_SPEECH_CHARACTERS) throw InferenceError.invalidRequest(`\`input\` may have at most ${MAX_SPEECH_CHARACTERS} characters.`, 'input', 'string_above_max_length');
    if (typeof b.voice !== 'string' || !b.voice) throw InferenceError.invalidRequest('`voice` is required: a voice name such as "alloy".', 'voice', 'missing_required_parameter');
    return { model: b.model, stream: false, includeUsage: false, maxOutputTokens: null, n: 1, requests: 1, unit: 'character', characters };
  }
  if (endpoint === 'rerank') {
    if (typeof b.query !== 'string' || !b.query) throw InferenceError.invalidRequest('`query` is required: a string.', 'query', 'missing_required_parameter');
    if (!Array.isArray(b.documents) || !b.documents.length || b.documents.length > MAX_RERANK_DOCUMENTS) {
      throw InferenceError.invalidRequest(`\`documents\` must be an array of 1 to ${MAX_RERANK_DOCUMENTS} documents.`, 'documents', 'invalid_value');
    }
    positiveInt(b, 'top_n', MAX_RERANK_DOCUMENTS);
    // Cohere's search unit: a query over up to 100 documents.
    return { model: b.model, stream: false, includeUsage: false, maxOutputTokens: null, n: 1, requests: Math.ceil(b.documents.length / 100), unit: 'search_unit' };
  }
  if (endpoint === 'chat' && !Array.isArray(b.messages)) {
    throw InferenceError.invalidRequest('`messages` must be an array.', 'messages', 'invalid_type');
  }
  if (endpoint === 'completions' && b.prompt === undefined) {
    throw InferenceError.invalidRequest('`prompt` is required.', 'prompt', 'missing_required_parameter');
  }
  if (endpoint === 'embeddings' && b.input === undefined) {
    throw InferenceError.invalidRequest('`input` is required.', 'input', 'missing_required_parameter');
  }
  const maxOutputTokens = positiveInt(b, 'max_completion_tokens', 10_000_000) ?? positiveInt(b, 'max_tokens', 10_000_000);
  const n = positiveInt(b, 'n', 128) ?? 1;
  return { model: b.model, stream, includeUsage, maxOutputTokens, n, requests: 1, unit: 'token' };
}
