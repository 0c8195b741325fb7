import OpenAI from 'openai';
import { AdapterServer, startAdapterServer } from '../support/adapter-server';
import { ANTHROPIC_TEXT, ANTHROPIC_USAGE, startFakeAnthropic } from '../support/fakes/anthropic';
import { GEMINI_TEXT, GEMINI_USAGE, startFakeGemini } from '../support/fakes/gemini';
import { FAKE_TEXT, FAKE_USAGE, FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { ProviderType } from '@app/providers';

/**
 * Each adapter against a fake that speaks its provider's wire format, read with the official
 * `openai` SDK: non-stream, stream (with usage), tool calls, upstream 4xx/5xx, malformed and
 * truncated bodies, and upstreams that stall before and after the first byte.
 */
const UPSTREAM_KEY: Partial<Record<ProviderType, string>> = {
  openai: 'sk-test-openai-UPSTREAMSECRET-0001',
  anthropic: 'sk-ant-test-UPSTREAMSECRET-0002',
  gemini: 'AIzaTest-UPSTREAMSECRET-0003',
  'openai-responses': 'sk-test-openai-UPSTREAMSECRET-0004',
};

interface Case {
  provider: ProviderType;
  start(keys: string[]): Promise<FakeUpstream>;
  base(fake: FakeUpstream): string;
  text: string;
  /** What the SDK should see as usage (prompt includes cached tokens). */
  usage: { prompt_tokens: number; completion_tokens: number; cached: number };
}

const CASES: Case[] = [
  {
    provider: 'openai',
    start: (keys) => startFakeOpenAI({ keys }),
    base: (f) => `${f.url}/v1`,
    text: FAKE_TEXT,
    usage: { prompt_tokens: FAKE_USAGE.prompt_tokens, completion_tokens: FAKE_USAGE.completion_tokens, cached: 2 },
  },
  {
    provider: 'anthropic',
    start: (keys) => startFakeAnthropic({ keys }),
    base: (f) => f.url,
    text: ANTHROPIC_TEXT,
    usage: {
      prompt_tokens: ANTHROPIC_USAGE.input_tokens + ANTHROPIC_USAGE.cache_read_input_tokens + ANTHROPIC_USAGE.cache_creation_input_tokens,
      completion_tokens: ANTHROPIC_USAGE.output_tokens,
      cached: ANTHROPIC_USAGE.cache_read_input_tokens,
    },
  },
  {
    provider: 'gemini',
    start: (keys) => startFakeGemini({ keys }),
    base: (f) => f.url,
    text: GEMINI_TEXT,
    usage: { prompt_tokens: GEMINI_USAGE.promptTokenCount, completion_tokens: GEMINI_USAGE.candidatesTokenCount, cached: GEMINI_USAGE.cachedContentTokenCount },
  },
];

const TOOLS = [{ type: 'function' as const, function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

describe.each(CASES)('$provider adapter', (c) => {
  let fake: FakeUpstream;
  let server: AdapterServer;
  let client: OpenAI;
  const key = UPSTREAM_KEY[c.provider]!;

  beforeAll(async () => {
    fake = await c.start([key]);
    server = await startAdapterServer({ provider: c.provider, upstreamBaseUrl: c.base(fake), apiKey: key, upstreamModel: 'upstream-model-x', firstByteMs: 400, totalMs: 1200 });
    client = new OpenAI({ apiKey: 'sk-gateway-client', baseURL: server.baseUrl, maxRetries: 0 });
  });

  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  beforeEach(() => {
    fake.requests.length = 0;
    fake.fallback = { kind: 'ok' };
  });

  const ask = (extra: Record<string, unknown> = {}) =>
    client.chat.completions.create({ model: 'public-model', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello' }], max_tokens: 50, ...extra } as never) as unknown as Promise<OpenAI.Chat.ChatCompletion>;

  it('translates a non-streamed answer, with usage in all buckets and the public model name', async () => {
    const completion = await ask();
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('public-model');
    expect(completion.choices[0].message.content).toBe(c.text);
    expect(completion.choices[0].finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({
      prompt_tokens: c.usage.prompt_tokens,
      completion_tokens: c.usage.completion_tokens,
      total_tokens: c.usage.prompt_tokens + c.usage.completion_tokens,
      prompt_tokens_details: { cached_tokens: c.usage.cached },
    });
    // The upstream got its own model name and the key in its own header.
    const sent = fake.requests[0];
    expect(sent.path + JSON.stringify(sent.body)).toContain('upstream-model-x');
    expect(sent.path + JSON.stringify(sent.body)).not.toContain('public-model');
    if (c.provider === 'anthropic') {
      expect(sent.headers['x-api-key']).toBe(key);
      expect(sent.body.system).toBe('Be brief.');
      expect(sent.body.max_tokens).toBe(50);
    }
    if (c.provider === 'gemini') {
      expect(sent.headers['x-goog-api-key']).toBe(key);
      expect(sent.body.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }] });
      expect(sent.body.generationConfig.maxOutputTokens).toBe(50);
    }
    if (c.provider === 'openai') expect(sent.headers.authorization).toBe(`Bearer ${key}`);
  });

  it('translates a stream into chat.completion.chunk events, ending with usage when asked', async () => {
    const stream = await client.chat.completions.create({ model: 'public-model', messages: [{ role: 'user', content: 'Say hello' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      expect(chunk.object).toBe('chat.completion.chunk');
      expect(chunk.model).toBe('public-model');
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text).toBe(c.text);
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: c.usage.prompt_tokens, completion_tokens: c.usage.completion_tokens, prompt_tokens_details: { cached_tokens: c.usage.cached } });
    if (c.provider === 'openai') expect(fake.requests[0].body.stream_options).toEqual({ include_usage: true });
  });

  it('asks the upstream for usage but leaves the usage chunk out when the client did not ask', async () => {
    const stream = await client.chat.completions.create({ model: 'public-model', messages: [{ role: 'user', content: 'Say hello' }], stream: true });
    const seen: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of stream) seen.push(chunk);
    expect(seen.every((chunk) => chunk.choices.length === 1 && !chunk.usage)).toBe(true);
    if (c.provider === 'openai') expect(fake.requests[0].body.stream_options).toEqual({ include_usage: true });
  });

  if (c.provider !== 'openai') {
    it('translates tools and tool calls, non-stream and stream', async () => {
      fake.fallback = { kind: 'tool-call' };
      const completion = await ask({ tools: TOOLS, tool_choice: 'auto' });
      expect(completion.choices[0].finish_reason).toBe('tool_calls');
      const call = completion.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
      expect(call.type).toBe('function');
      expect(call.function.name).toBe('get_weather');
      expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });
      const sentTools = fake.requests[0].body.tools;
      if (c.provider === 'anthropic') expect(sentTools[0]).toMatchObject({ name: 'get_weather', input_schema: { type: 'object' } });
      else expect(sentTools[0].functionDeclarations[0]).toMatchObject({ name: 'get_weather', parameters: { type: 'object' } });

      const stream = await client.chat.completions.create({ model: 'public-model', messages: [{ role: 'user', content: 'Weather?' }], tools: TOOLS, stream: true });
      let args = '';
      let name = '';
      let finish: string | null = null;
      for await (const chunk of stream) {
        for (const t of chunk.choices[0]?.delta?.tool_calls ?? []) {
          name = t.function?.name ?? name;
          args += t.function?.arguments ?? '';
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(name).toBe('get_weather');
      expect(JSON.parse(args)).toEqual({ city: 'Paris' });
      expect(finish).toBe('tool_calls');

      // A tool result goes back in the provider's own shape.
      fake.fallback = { kind: 'ok' };
      await ask({
        messages: [
          { role: 'user', content: 'Weather?' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
          { role: 'tool', tool_call_id: 'call_9', content: 'sunny' },
        ],
      });
      const history = JSON.stringify(fake.requests[fake.requests.length - 1].body);
      if (c.provider === 'anthropic') expect(history).toContain('"tool_result"');
      else expect(history).toContain('"functionResponse"');
    });
  }

  it('passes an upstream 400 on as a BadRequestError with its message, and a 404 as model_not_found', async () => {
    fake.next({ kind: 'status', status: 400 });
    const error = await ask().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('fake failure 400');
    fake.next({ kind: 'status', status: 404 });
    const missing = await ask().catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((missing as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });

  it('turns an upstream 5xx into a 502 and a 429 into a RateLimitError', async () => {
    fake.next({ kind: 'status', status: 503 });
    const error = await ask().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('upstream_error');
    fake.next({ kind: 'status', status: 429 });
    expect(await ask().catch((e: unknown) => e)).toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('never shows the upstream key, host or address when the upstream refuses the key', async () => {
    fake.keys.clear();
    fake.keys.add('some-other-key-entirely');
    try {
      const error = (await ask().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect(error.status).toBe(502);
      expect(error.code).toBe('upstream_auth_failed');
      const text = JSON.stringify(error.error) + error.message;
      expect(text).not.toContain(key);
      expect(text).not.toContain('127.0.0.1');
      expect(text).not.toContain(String(fake.port));
    } finally {
      fake.keys.clear();
      fake.keys.add(key);
    }
  });

  it('reports a malformed or truncated body as upstream_invalid_response', async () => {
    fake.next({ kind: 'malformed' });
    const malformed = (await ask().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(malformed.status).toBe(502);
    expect(malformed.code).toBe('upstream_invalid_response');

    fake.next({ kind: 'truncated' });
    const truncated = (await ask().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(truncated.status).toBeGreaterThanOrEqual(502);

    // A stream cut mid-way: the events so far arrive, then the SDK sees the error event.
    fake.next({ kind: 'truncated' });
    const stream = await client.chat.completions.create({ model: 'public-model', messages: [{ role: 'user', content: 'Say hello' }], stream: true });
    let received = 0;
    const failure = await (async () => {
      for await (const chunk of stream) received += chunk.choices.length;
    })().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect(received).toBeGreaterThan(0);
  });

  it('times out an upstream that stalls before the first byte (504), in well under the stall', async () => {
    fake.next({ kind: 'stall-before', ms: 5000 });
    const started = Date.now();
    const error = (await ask().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(504);
    expect(error.code).toBe('upstream_timeout');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('ends a stream that stalls after the first byte at the total deadline, with an error event', async () => {
    fake.next({ kind: 'stall-after', ms: 5000 });
    const started = Date.now();
    const stream = await client.chat.completions.create({ model: 'public-model', messages: [{ role: 'user', content: 'Say hello' }], stream: true });
    let received = 0;
    const failure = await (async () => {
      for await (const chunk of stream) received += chunk.choices.length;
    })().catch((e: unknown) => e);
    expect(received).toBeGreaterThan(0);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect(Date.now() - started).toBeLessThan(3000);

    fake.next({ kind: 'stall-after', ms: 5000 });
    const nonStream = (await ask().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(nonStream.status).toBe(504);
  });

  if (c.provider !== 'anthropic') {
    it('translates embeddings', async () => {
      const result = await client.embeddings.create({ model: 'public-model', input: ['one', 'two'] });
      expect(result.data).toHaveLength(2);
      expect(result.data[1].index).toBe(1);
      expect(result.data[0].embedding.length).toBeGreaterThan(0);
    });
  }
});
