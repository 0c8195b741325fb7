import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import OpenAI from 'openai';
import { Agent } from 'undici';
import { adapterFor, createUpstreamAgent, EventStreamReader, eventHeader, exchange, signAws, UpstreamError, Usage } from '@app/providers';
import { AdapterServer, startAdapterServer } from '../support/adapter-server';
import { ANTHROPIC_TEXT, ANTHROPIC_USAGE } from '../support/fakes/anthropic';
import { AZURE_MODEL, startFakeAzure } from '../support/fakes/azure';
import { CONVERSE_TEXT, CONVERSE_USAGE, eventFrame, FakeBedrock, startFakeBedrock } from '../support/fakes/bedrock';
import { GEMINI_TEXT, GEMINI_USAGE } from '../support/fakes/gemini';
import { FAKE_TEXT, FAKE_USAGE, FakeUpstream, startFakeServer, streamEvents } from '../support/fakes/openai';
import { FakeVertex, generateServiceAccount, ServiceAccount, startFakeVertex } from '../support/fakes/vertex';

/**
 * The cloud upstreams (issue 24), each adapter against a fake of its provider's wire format and
 * read back through the official `openai` SDK: Bedrock (SigV4 against AWS's published test
 * vectors, event streams decoded from frames the AWS codec encoded), Vertex (tokens minted from a
 * generated service-account key at a fake token endpoint, cached until expiry), Azure (deployment
 * routing, api-version, api-key) and the OpenAI-compatible presets' quirks.
 */
const ANTHROPIC_PROMPT = ANTHROPIC_USAGE.input_tokens + ANTHROPIC_USAGE.cache_read_input_tokens + ANTHROPIC_USAGE.cache_creation_input_tokens;

async function collect(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<{ text: string; usage: OpenAI.CompletionUsage | null | undefined; models: Set<string>; finish: string | null }> {
  let text = '';
  let usage: OpenAI.CompletionUsage | null | undefined;
  let finish: string | null = null;
  const models = new Set<string>();
  for await (const chunk of stream) {
    if (chunk.model) models.add(chunk.model);
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, usage, models, finish };
}

describe('AWS Signature Version 4 (aws-sig-v4-test-suite vectors)', () => {
  // The suite's common inputs: credentials, region, service and time of every case.
  const suite = {
    service: 'service',
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    at: new Date('2015-08-30T12:36:00Z'),
  };
  const scope = 'Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date';

  it.each([
    ['get-vanilla', 'GET', 'https://example.amazonaws.com/', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
    ['get-vanilla-query-order-key-case', 'GET', 'https://example.amazonaws.com/?Param2=value2&Param1=value1', 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500'],
    ['post-vanilla', 'POST', 'https://example.amazonaws.com/', '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'],
  ])('%s', async (_name, method, url, signature) => {
    const headers = await signAws({ ...suite, method, url, headers: {} });
    expect(headers['x-amz-date']).toBe('20150830T123600Z');
    expect(headers.authorization).toBe(`AWS4-HMAC-SHA256 ${scope}, Signature=${signature}`);
  });

  it('a session token is sent and signed (x-amz-security-token)', async () => {
    const headers = await signAws({ ...suite, credentials: { ...suite.credentials, sessionToken: 'FQoGZXIvYXdzEXAMPLE' }, method: 'GET', url: 'https://example.amazonaws.com/', headers: {} });
    expect(headers['x-amz-security-token']).toBe('FQoGZXIvYXdzEXAMPLE');
    expect(headers.authorization).toContain('SignedHeaders=host;x-amz-date;x-amz-security-token');
  });
});

describe('AWS event streams', () => {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const frames = [eventFrame('messageStart', { role: 'assistant' }), eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hé ' } }), eventFrame('metadata', { usage: CONVERSE_USAGE })];

  it('frames encoded by the AWS codec are decoded whole however the bytes are split', () => {
    const bytes = Buffer.concat(frames.map((f) => Buffer.from(f)));
    const reader = new EventStreamReader();
    const decoded = [];
    for (let i = 0; i < bytes.length; i += 1) decoded.push(...reader.push(bytes.subarray(i, i + 1)));
    expect(decoded.map((m) => eventHeader(m, ':event-type'))).toEqual(['messageStart', 'contentBlockDelta', 'metadata']);
    expect(JSON.parse(toUtf8(decoded[1].body))).toEqual({ contentBlockIndex: 0, delta: { text: 'Hé ' } });
    expect(reader.pending).toBe(false);
    expect(codec.decode(frames[2]).body).toEqual(decoded[2].body);
  });

  it('a corrupted frame (its CRC no longer matches) is a protocol error, not garbage passed on', () => {
    const bad = Buffer.from(frames[1]);
    bad[bad.length - 6] ^= 0xff; // a payload byte
    expect(() => new EventStreamReader().push(bad)).toThrow(UpstreamError);
    try {
      new EventStreamReader().push(bad);
    } catch (error) {
      expect((error as UpstreamError).kind).toBe('protocol');
    }
  });
});

describe('bedrock adapter', () => {
  const REGION = 'us-west-2';
  const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
  const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  let fake: FakeBedrock;
  const servers: AdapterServer[] = [];
  const client = async (upstreamModel: string, key = `${KEY_ID}:${SECRET}`, region = REGION) => {
    const server = await startAdapterServer({ provider: 'bedrock', upstreamBaseUrl: fake.url, apiKey: key, upstreamModel, settings: { region }, firstByteMs: 2000, totalMs: 5000 });
    servers.push(server);
    return new OpenAI({ apiKey: 'sk-gateway-client', baseURL: server.baseUrl, maxRetries: 0 });
  };

  beforeAll(async () => {
    fake = await startFakeBedrock({ region: REGION, credentials: { [KEY_ID]: SECRET } });
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await fake?.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.fallback = { kind: 'ok' };
  });

  const CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';

  it('an Anthropic model goes through InvokeModel, signed (the model id with its colon in the signed path), with Anthropic’s body', async () => {
    const oai = await client(CLAUDE);
    const answer = await oai.chat.completions.create({ model: 'claude-public', max_tokens: 50, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], user: 'u-1' });
    expect(answer.choices[0].message.content).toBe(ANTHROPIC_TEXT);
    expect(answer.model).toBe('claude-public');
    expect(answer.usage).toMatchObject({ prompt_tokens: ANTHROPIC_PROMPT, completion_tokens: ANTHROPIC_USAGE.output_tokens, prompt_tokens_details: { cached_tokens: ANTHROPIC_USAGE.cache_read_input_tokens } });
    const sent = fake.requests[0];
    expect(sent.path).toBe(`/model/${encodeURIComponent(CLAUDE)}/invoke`);
    expect(sent.body).toEqual({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 50, system: 'Be brief.', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }] });
    expect(sent.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${KEY_ID}/\\d{8}/${REGION}/bedrock/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date, Signature=[0-9a-f]{64}$`));
    expect(JSON.stringify(sent.headers)).not.toContain(SECRET);
    expect(fake.signed).toBeGreaterThan(0);
  });

  it('an Anthropic stream (InvokeModelWithResponseStream) is decoded frame by frame into chat chunks with usage', async () => {
    const oai = await client(CLAUDE);
    const result = await collect(await oai.chat.completions.create({ model: 'claude-public', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] }));
    expect(result.text).toBe(ANTHROPIC_TEXT);
    expect(result.finish).toBe('stop');
    expect(result.models).toEqual(new Set(['claude-public']));
    expect(result.usage).toMatchObject({ prompt_tokens: ANTHROPIC_PROMPT, completion_tokens: ANTHROPIC_USAGE.output_tokens });
    expect(fake.requests[0].path).toBe(`/model/${encodeURIComponent(CLAUDE)}/invoke-with-response-stream`);
  });

  it('another model goes through Converse (JSON and stream), its usage buckets intact', async () => {
    const oai = await client('amazon.nova-pro-v1:0');
    const answer = await oai.chat.completions.create({ model: 'nova', max_tokens: 20, temperature: 0.2, stop: ['END'], messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] });
    expect(answer.choices[0]).toMatchObject({ message: { content: CONVERSE_TEXT }, finish_reason: 'stop' });
    expect(answer.usage).toMatchObject({ prompt_tokens: CONVERSE_USAGE.inputTokens + CONVERSE_USAGE.cacheReadInputTokens, completion_tokens: CONVERSE_USAGE.outputTokens, prompt_tokens_details: { cached_tokens: 4 } });
    expect(fake.requests[0].body).toEqual({
      messages: [{ role: 'user', content: [{ text: 'Hi' }] }],
      system: [{ text: 'Be brief.' }],
      inferenceConfig: { maxTokens: 20, temperature: 0.2, stopSequences: ['END'] },
    });
    const streamed = await collect(await oai.chat.completions.create({ model: 'nova', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] }));
    expect(streamed.text).toBe(CONVERSE_TEXT);
    expect(streamed.usage).toMatchObject({ prompt_tokens: 17, completion_tokens: 8 });
    expect(fake.requests[1].path).toBe('/model/amazon.nova-pro-v1%3A0/converse-stream');
  });

  it('a wrong secret is refused by AWS (403) and reported as the upstream refusing the credentials', async () => {
    const oai = await client(CLAUDE, `${KEY_ID}:not-the-secret-key-0000000000000000000000`);
    await expect(oai.chat.completions.create({ model: 'c', messages: [{ role: 'user', content: 'Hi' }] })).rejects.toMatchObject({ status: 502, code: 'upstream_auth_failed' });
    // Signed for another region: the signature does not hold either.
    const elsewhere = await client(CLAUDE, `${KEY_ID}:${SECRET}`, 'eu-central-1');
    await expect(elsewhere.chat.completions.create({ model: 'c', messages: [{ role: 'user', content: 'Hi' }] })).rejects.toMatchObject({ status: 502 });
  });

  it('an exception frame mid-stream, or a stream cut inside a frame, ends the stream with an error', async () => {
    for (const upstreamModel of [CLAUDE, 'amazon.nova-pro-v1:0']) {
      const oai = await client(upstreamModel);
      for (const kind of ['malformed', 'truncated'] as const) {
        fake.next({ kind });
        const signed = fake.signed;
        // Before the first event reached the client it is a 502; after, an error event: never a clean end.
        const read = async () => collect(await oai.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'Hi' }] }));
        await expect(read()).rejects.toThrow();
        expect(fake.signed).toBe(signed + 1); // the upstream answered, then failed
        expect(fake.requests.at(-1)?.path).toMatch(/(invoke-with-response-stream|converse-stream)$/);
      }
    }
  });
});

describe('vertex adapter', () => {
  const PROJECT = 'test-project';
  const LOCATION = 'us-east5';
  let fake: FakeVertex;
  const accounts: ServiceAccount[] = [];
  const servers: AdapterServer[] = [];
  const client = async (upstreamModel: string, account: ServiceAccount) => {
    const server = await startAdapterServer({ provider: 'vertex', upstreamBaseUrl: fake.url, apiKey: account.json, upstreamModel, settings: { projectId: PROJECT, location: LOCATION }, firstByteMs: 3000, totalMs: 8000 });
    servers.push(server);
    return new OpenAI({ apiKey: 'sk-gateway-client', baseURL: server.baseUrl, maxRetries: 0 });
  };
  const account = () => {
    const created = generateServiceAccount(`${fake.url}/token`);
    accounts.push(created);
    return created;
  };

  beforeAll(async () => {
    fake = await startFakeVertex({ project: PROJECT, location: LOCATION, accounts: () => accounts });
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await fake?.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.tokenTtlSeconds = 3600;
  });

  it('Gemini on Vertex: a token is minted from the service-account key once and reused until it nears expiry', async () => {
    const oai = await client('gemini-2.5-pro', account());
    const minted = fake.minted;
    const answer = await oai.chat.completions.create({ model: 'gemini-public', messages: [{ role: 'user', content: 'Hi' }] });
    expect(answer.choices[0].message.content).toBe(GEMINI_TEXT);
    expect(answer.usage).toMatchObject({ prompt_tokens: GEMINI_USAGE.promptTokenCount, completion_tokens: GEMINI_USAGE.candidatesTokenCount });
    const streamed = await collect(await oai.chat.completions.create({ model: 'gemini-public', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] }));
    expect(streamed.text).toBe(GEMINI_TEXT);
    expect(streamed.usage?.completion_tokens).toBe(GEMINI_USAGE.candidatesTokenCount);
    await oai.chat.completions.create({ model: 'gemini-public', messages: [{ role: 'user', content: 'Again' }] });
    expect(fake.minted - minted).toBe(1);
    const paths = fake.requests.filter((r) => r.path !== '/token').map((r) => r.path);
    expect(paths).toEqual([
      `/v1/projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/gemini-2.5-pro:generateContent`,
      `/v1/projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse`,
      `/v1/projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/gemini-2.5-pro:generateContent`,
    ]);
    // The same token on every call; never the key.
    const bearers = new Set(fake.requests.filter((r) => r.path !== '/token').map((r) => r.headers.authorization));
    expect(bearers.size).toBe(1);
    expect(JSON.stringify(fake.requests.map((r) => r.headers))).not.toContain('PRIVATE KEY');
  });

  it('a token that expires within the refresh margin is replaced before the next call', async () => {
    fake.tokenTtlSeconds = 120; // inside google-auth-library's 5-minute eager-refresh margin
    const oai = await client('gemini-2.5-flash', account());
    const minted = fake.minted;
    await oai.chat.completions.create({ model: 'g', messages: [{ role: 'user', content: 'Hi' }] });
    await oai.chat.completions.create({ model: 'g', messages: [{ role: 'user', content: 'Hi' }] });
    expect(fake.minted - minted).toBe(2);
  });

  it('Anthropic on Vertex: rawPredict and streamRawPredict with Anthropic’s body and vertex-2023-10-16', async () => {
    const oai = await client('claude-sonnet-4-5@20250929', account());
    const answer = await oai.chat.completions.create({ model: 'claude-v', max_tokens: 30, messages: [{ role: 'user', content: 'Hi' }] });
    expect(answer.choices[0].message.content).toBe(ANTHROPIC_TEXT);
    expect(answer.usage?.prompt_tokens).toBe(ANTHROPIC_PROMPT);
    const api = fake.requests.filter((r) => r.path !== '/token');
    expect(api[0].path).toBe(`/v1/projects/${PROJECT}/locations/${LOCATION}/publishers/anthropic/models/claude-sonnet-4-5%4020250929:rawPredict`);
    expect(api[0].body).toEqual({ anthropic_version: 'vertex-2023-10-16', max_tokens: 30, messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }] });
    const streamed = await collect(await oai.chat.completions.create({ model: 'claude-v', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] }));
    expect(streamed.text).toBe(ANTHROPIC_TEXT);
    expect(streamed.usage?.completion_tokens).toBe(ANTHROPIC_USAGE.output_tokens);
  });

  it('a key the token endpoint does not accept is reported as refused credentials; the API is never called', async () => {
    const stranger = generateServiceAccount(`${fake.url}/token`); // not among the fake's accounts
    const oai = await client('gemini-2.5-pro', stranger);
    await expect(oai.chat.completions.create({ model: 'g', messages: [{ role: 'user', content: 'Hi' }] })).rejects.toMatchObject({ status: 502, code: 'upstream_auth_failed' });
    expect(fake.requests.filter((r) => r.path !== '/token')).toEqual([]);
  });
});

describe('azure adapter', () => {
  const KEY = 'azure-key-0123456789abcdef';
  let fake: FakeUpstream;
  const servers: AdapterServer[] = [];
  const client = async (deployment: string, apiVersion?: string) => {
    const server = await startAdapterServer({ provider: 'azure', upstreamBaseUrl: fake.url, apiKey: KEY, upstreamModel: deployment, settings: apiVersion ? { apiVersion } : {}, firstByteMs: 2000, totalMs: 5000 });
    servers.push(server);
    return new OpenAI({ apiKey: 'sk-gateway-client', baseURL: server.baseUrl, maxRetries: 0 });
  };

  beforeAll(async () => {
    fake = await startFakeAzure({ keys: [KEY], deployments: ['prod-gpt4o', 'embed-small'], apiVersions: ['2024-10-21', '2025-04-01-preview'] });
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await fake?.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
  });

  it('routes the model to its deployment with the api-version and the key in api-key; answers carry the public name', async () => {
    const oai = await client('prod-gpt4o');
    const answer = await oai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
    expect(answer).toMatchObject({ model: 'gpt-4o', choices: [{ message: { content: FAKE_TEXT } }], usage: { prompt_tokens: FAKE_USAGE.prompt_tokens } });
    const sent = fake.requests[0];
    expect(sent.path).toBe('/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21');
    expect(sent.headers['api-key']).toBe(KEY);
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body.model).toBeUndefined();
  });

  it('streams pass through (the prompt-filter chunk included) with the model behind the deployment renamed', async () => {
    const oai = await client('prod-gpt4o', '2025-04-01-preview');
    const result = await collect(await oai.chat.completions.create({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] }));
    expect(result.text).toBe(FAKE_TEXT);
    expect(result.usage?.completion_tokens).toBe(FAKE_USAGE.completion_tokens);
    expect([...result.models].filter(Boolean)).toEqual(['gpt-4o']);
    expect(fake.requests[0].path).toBe('/openai/deployments/prod-gpt4o/chat/completions?api-version=2025-04-01-preview');
    expect(JSON.stringify(result)).not.toContain(AZURE_MODEL);
  });

  it('embeddings go to their own deployment; an unknown deployment is a 404', async () => {
    const embed = await client('embed-small');
    const vectors = await embed.embeddings.create({ model: 'text-embedding-3-small', input: 'hi', encoding_format: 'float' });
    expect(vectors.data[0].embedding).toEqual([0.1, 0.2]);
    expect(fake.requests[0].path).toBe('/openai/deployments/embed-small/embeddings?api-version=2024-10-21');
    const missing = await client('no-such-deployment');
    await expect(missing.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })).rejects.toMatchObject({ status: 404 });
  });
});

describe('OpenAI-compatible presets', () => {
  let fake: FakeUpstream;
  let agent: Agent;
  const servers: AdapterServer[] = [];
  /** The usage the gateway would bill, as the adapter read it (JSON or stream). */
  const billed = async (preset: string, stream: boolean): Promise<Usage | null> => {
    const result = await exchange({
      adapter: adapterFor('openai'),
      dispatcher: agent,
      endpoint: 'chat',
      body: { model: 'm', messages: [{ role: 'user', content: 'Hi' }] },
      target: { baseUrl: `${fake.url}/v1`, apiKey: 'sk-compat-0000000000', upstreamModel: `${preset}-model`, settings: { preset } },
      publicModel: 'm',
      stream,
      includeUsage: true,
      firstByteMs: 2000,
      totalMs: 5000,
      allowPrivateNetworks: true,
    });
    if (result.kind === 'json') return result.parsed.usage;
    if (result.kind === 'bytes') throw new Error('not an event stream');
    for await (const events of result.rest) void events;
    return result.translator.usage;
  };
  const client = async (preset: string) => {
    const server = await startAdapterServer({ provider: 'openai', upstreamBaseUrl: `${fake.url}/v1`, apiKey: 'sk-compat-0000000000', upstreamModel: `${preset}-model`, settings: { preset }, firstByteMs: 2000, totalMs: 5000 });
    servers.push(server);
    return new OpenAI({ apiKey: 'sk-gateway-client', baseURL: server.baseUrl, maxRetries: 0 });
  };

  beforeAll(async () => {
    agent = createUpstreamAgent({ connectTimeoutMs: 1000, allowPrivateNetworks: true });
    // One fake speaking each service's dialect, chosen by the upstream model name.
    fake = await startFakeServer({
      keyOf: () => undefined,
      errorBody: (status, message) => ({ error: { message, code: status } }),
      handle: async (ctx) => {
        const body = ctx.body ?? {};
        const model = String(body.model);
        if (model === 'glm-model' && body.stream_options !== undefined) return ctx.json(400, { error: { code: '1210', message: 'Unknown parameter stream_options' } });
        const base = { id: 'c-1', object: 'chat.completion.chunk', created: 1, model };
        // DeepSeek's usage: cache hits under its own name.
        const deepseek = { prompt_tokens: 30, completion_tokens: 5, total_tokens: 35, prompt_cache_hit_tokens: 24, prompt_cache_miss_tokens: 6 };
        const usage = model === 'deepseek-model' ? deepseek : { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 };
        if (!body.stream) return ctx.json(200, { id: 'c-1', object: 'chat.completion', created: 1, model, choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage });
        const last = model === 'kimi-model' ? { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop', usage }] } : { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], ...(model === 'glm-model' ? { usage } : {}) };
        const tail = [{ data: last }];
        if (body.stream_options?.include_usage || body.usage?.include) tail.push({ data: { ...base, choices: [], usage } as never });
        return streamEvents(ctx, [{ data: { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'ok' }, finish_reason: null }] } }], [...tail, { data: '[DONE]' }]);
      },
    });
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await agent?.close();
    await fake?.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
  });

  const streamUsage = async (oai: OpenAI) => (await collect(await oai.chat.completions.create({ model: 'm', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] }))).usage;

  it('DeepSeek: prompt_cache_hit_tokens are billed as cached input (JSON and stream); max_completion_tokens sent as max_tokens', async () => {
    const oai = await client('deepseek');
    const answer = await oai.chat.completions.create({ model: 'm', max_completion_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    expect(answer.usage).toMatchObject({ prompt_tokens: 30, completion_tokens: 5 });
    expect(fake.requests[0].body).toMatchObject({ max_tokens: 64 });
    expect(fake.requests[0].body.max_completion_tokens).toBeUndefined();
    for (const stream of [false, true]) expect(await billed('deepseek', stream)).toEqual({ input: 6, cacheRead: 24, cacheWrite: 0, output: 5 });
  });

  it('Kimi: the usage inside the last choice of a stream is billed (no stream_options asked); temperature clamped to 1', async () => {
    const oai = await client('kimi');
    expect(await streamUsage(oai)).toBeFalsy(); // no usage-only chunk: Kimi has none
    expect(fake.requests[0].body.stream_options).toBeUndefined();
    expect(await billed('kimi', true)).toEqual({ input: 9, cacheRead: 0, cacheWrite: 0, output: 7 });
    fake.requests.length = 0;
    await oai.chat.completions.create({ model: 'm', temperature: 1.7, messages: [{ role: 'user', content: 'Hi' }] });
    expect(fake.requests[0].body.temperature).toBe(1);
  });

  it('GLM: stream_options (which it refuses) is never sent', async () => {
    const oai = await client('glm');
    await streamUsage(oai);
    expect(fake.requests[0].body.stream_options).toBeUndefined();
    expect(await billed('glm', true)).toEqual({ input: 9, cacheRead: 0, cacheWrite: 0, output: 7 });
  });

  it('OpenRouter: usage is asked for with usage.include', async () => {
    const oai = await client('openrouter');
    expect(await streamUsage(oai)).toMatchObject({ prompt_tokens: 9, completion_tokens: 7 });
    expect(fake.requests[0].body.usage).toEqual({ include: true });
  });
});
