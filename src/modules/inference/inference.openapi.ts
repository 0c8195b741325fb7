import type { OpenAPIObject } from '@nestjs/swagger';

const error = {
  description: "OpenAI's error object",
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            properties: { message: { type: 'string' }, type: { type: 'string' }, param: { type: 'string', nullable: true }, code: { type: 'string', nullable: true } },
          },
        },
      },
    },
  },
};

const errors = {
  '400': error,
  '401': { ...error, description: 'Missing or invalid API key (also a key of another reseller).' },
  '402': { ...error, description: '`insufficient_quota`: the balance or the key’s spend limit does not cover the request (`x-should-retry: false`).' },
  '403': { ...error, description: '`ip_not_allowed`: the address is not on the key’s allow-list; `account_disabled`: the customer or reseller is disabled; `account_not_active`: an invited customer who has not accepted.' },
  '404': { ...error, description: '`model_not_found`: unknown, hidden or not allowed on this key; `unknown_tenant`: the Host is no tenant’s domain.' },
  '413': error,
  '415': error,
  '429': { ...error, description: 'A requests- or tokens-per-minute limit; `Retry-After` and `x-ratelimit-*` say when.' },
  '502': { ...error, description: 'The upstream provider failed.' },
  '503': { ...error, description: 'No healthy upstream, or the gateway cannot check the balance right now.' },
  '504': { ...error, description: 'The upstream provider timed out.' },
};

/** Anthropic's error object, on /v1/messages (its SDK raises the typed error of the status). */
const anthropicError = {
  description: "Anthropic's error object",
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['type', 'error'],
        properties: {
          type: { type: 'string', enum: ['error'] },
          error: { type: 'object', properties: { type: { type: 'string' }, message: { type: 'string' } } },
          request_id: { type: 'string' },
        },
      },
    },
  },
};

const anthropicErrors = Object.fromEntries(
  Object.entries(errors).map(([status, e]) => [status, { ...anthropicError, description: status === '402' ? '`billing_error`: the balance or the key’s spend limit does not cover the request (`x-should-retry: false`).' : e.description }]),
);

const passThroughBody = (required: string[], description: string) => ({
  required: true,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required,
        additionalProperties: true,
        description,
        properties: {
          model: { type: 'string', maxLength: 200 },
          stream: { type: 'boolean' },
          max_tokens: { type: 'integer', minimum: 1 },
          max_completion_tokens: { type: 'integer', minimum: 1 },
          n: { type: 'integer', minimum: 1, maximum: 128 },
          max_output_tokens: { type: 'integer', minimum: 1 },
          previous_response_id: { type: 'string', description: 'Refused (400): the gateway stores no responses.' },
        },
      },
    },
  },
});

/** POST /v1/audio/transcriptions: OpenAI's multipart form. */
const transcriptionBody = {
  required: true,
  content: {
    'multipart/form-data': {
      schema: {
        type: 'object',
        required: ['file', 'model'],
        properties: {
          file: { type: 'string', format: 'binary', description: 'The audio file; at most INFERENCE_AUDIO_UPLOAD_LIMIT_BYTES (25 MB by default), refused with 413 before it is read in full' },
          model: { type: 'string', maxLength: 200 },
          response_format: { type: 'string', enum: ['json', 'text', 'srt', 'verbose_json', 'vtt'], default: 'json' },
          language: { type: 'string' },
          prompt: { type: 'string' },
          temperature: { type: 'number', minimum: 0, maximum: 1 },
          'timestamp_granularities[]': { type: 'array', items: { type: 'string', enum: ['word', 'segment'] } },
        },
      },
    },
  },
};

const speechBody = {
  required: true,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['model', 'input', 'voice'],
        additionalProperties: true,
        description: 'OpenAI speech request',
        properties: {
          model: { type: 'string', maxLength: 200 },
          input: { type: 'string', maxLength: 4096, description: 'Billed per million characters (Unicode code points)' },
          voice: { type: 'string' },
          response_format: { type: 'string', description: 'mp3, opus, aac, flac, wav or pcm (passed to the upstream)' },
          speed: { type: 'number' },
        },
      },
    },
  },
};

const op = (summary: string, body: ReturnType<typeof passThroughBody> | typeof transcriptionBody | typeof speechBody | null, ok: string) => ({
  tags: ['inference'],
  summary,
  security: [{ 'api-key': [] }],
  ...(body ? { requestBody: body } : {}),
  responses: { '200': { description: ok }, ...errors },
});

/**
 * The OpenAI-compatible API in the OpenAPI document. Its routes are registered on Fastify directly
 * (see InferenceRoutes), so they are described here by hand, with OpenAI's shapes: fields the
 * gateway reads are listed, everything else passes through.
 */
export function addInferencePaths(document: OpenAPIObject): void {
  document.components = document.components ?? {};
  document.components.securitySchemes = {
    ...(document.components.securitySchemes ?? {}),
    'api-key': { type: 'http', scheme: 'bearer', description: 'An API key (`sk-...`), also accepted as `x-api-key`.' },
  };
  document.paths['/v1/chat/completions'] = {
    post: op('Chat completion (OpenAI-compatible; `stream: true` for server-sent events)', passThroughBody(['model', 'messages'], 'OpenAI chat completion request'), 'A chat.completion, or a text/event-stream of chat.completion.chunk'),
  };
  document.paths['/v1/completions'] = { post: op('Text completion (OpenAI-compatible)', passThroughBody(['model', 'prompt'], 'OpenAI completion request'), 'A text_completion') };
  document.paths['/v1/embeddings'] = { post: op('Embeddings (OpenAI-compatible)', passThroughBody(['model', 'input'], 'OpenAI embeddings request'), 'A list of embeddings') };
  document.paths['/v1/messages'] = {
    post: {
      ...op(
        'Anthropic Messages (Claude Code): passed through to Anthropic channels, translated for the others; `stream: true` for Anthropic’s events',
        passThroughBody(['model', 'messages', 'max_tokens'], 'Anthropic Messages request; `anthropic-version` and `anthropic-beta` headers are passed to Anthropic channels'),
        'A message, or a text/event-stream of message_start … message_stop',
      ),
      responses: { '200': { description: 'A message, or a text/event-stream of message_start … message_stop' }, ...anthropicErrors },
    },
  };
  document.paths['/v1/messages/count_tokens'] = {
    post: {
      ...op('Count the tokens of a Messages request (Anthropic’s count through an Anthropic channel, else the gateway’s; free)', passThroughBody(['model', 'messages'], 'Anthropic Messages request without max_tokens'), '`{"input_tokens": n}`'),
      responses: { '200': { description: '`{"input_tokens": n}`' }, ...anthropicErrors },
    },
  };
  document.paths['/v1/responses'] = {
    post: op(
      'OpenAI Responses (Codex), stateless: translated to chat completions; `stream: true` for response.created … response.completed',
      passThroughBody(['model', 'input'], 'OpenAI Responses request; `store` is ignored (nothing is stored), `previous_response_id` and `background` are refused'),
      'A response, or a text/event-stream of Responses events',
    ),
  };
  document.paths['/v1/moderations'] = {
    post: op('Moderation (OpenAI-compatible); priced per request', passThroughBody(['model', 'input'], 'OpenAI moderation request'), 'A moderation result list'),
  };
  document.paths['/v1/rerank'] = {
    post: op(
      'Rerank documents against a query (the Cohere/Jina shape: query, documents, top_n); priced per search unit (a query over up to 100 documents) and per token where the upstream counts them',
      passThroughBody(['model', 'query', 'documents'], 'Rerank request'),
      'Results with each document’s index and relevance_score',
    ),
  };
  document.paths['/v1/images/generations'] = {
    post: op(
      'Image generation (OpenAI-compatible); priced per image (`n`) at the price of its `size` and `quality` (the price’s image table), plus tokens where the upstream reports them',
      passThroughBody(['model', 'prompt'], 'OpenAI image generation request'),
      'A list of images (url or b64_json)',
    ),
  };
  document.paths['/v1/audio/transcriptions'] = {
    post: op(
      'Transcription (OpenAI-compatible, multipart/form-data); priced per second of audio: the upstream’s verbose_json `duration`, rounded up to a whole second',
      transcriptionBody,
      'The transcription in the response_format asked for (json: `{"text"}` with `usage.seconds`; text, srt and vtt as text)',
    ),
  };
  document.paths['/v1/audio/speech'] = {
    post: op('Speech (OpenAI-compatible): the upstream’s audio streamed back as it arrives; priced per million input characters', speechBody, 'The audio bytes (audio/mpeg, or the format asked for)'),
  };
  document.paths['/v1/models'] = { get: op('Models this key may call', null, 'A list of models') };
  document.paths['/v1/models/{id}'] = {
    get: { ...op('One model this key may call', null, 'A model'), parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', maxLength: 200 } }] },
  };
}
