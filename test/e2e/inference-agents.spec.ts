import Anthropic from '@anthropic-ai/sdk';
import Redis from 'ioredis';
import OpenAI from 'openai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { costUnits, TokenPrice } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { countTextTokens } from '../../src/modules/inference/token-estimate';
import { AnthropicGatewayClient, anthropicClient } from '../support/anthropic-client';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { call } from '../support/http';
import { ANTHROPIC_COUNTED, ANTHROPIC_TEXT, ANTHROPIC_USAGE, startFakeAnthropic } from '../support/fakes/anthropic';
import { GEMINI_TEXT, startFakeGemini } from '../support/fakes/gemini';
import { FAKE_RESPONSES_USAGE, FAKE_TEXT, FAKE_USAGE, FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';
import { GatewayClient, gatewayClient } from '../support/openai-client';
import { isolatedRedisUrl } from '../support/redis';

/**
 * The protocols coding agents speak (issue 23), with the official SDKs unchanged: Anthropic's
 * Messages (`@anthropic-ai/sdk`) and OpenAI's Responses (`openai`), each against an
 * Anthropic-shaped and an OpenAI-shaped fake upstream, so both passthrough and translation run.
 */
const PRICE: TokenPrice = { inputPerMillion: '3', outputPerMillion: '15', cacheReadPerMillion: '0.3', cacheWritePerMillion: '3.75', cacheWrite1hPerMillion: '6' };
/** Reasoning priced apart (the Responses-native channel reports reasoning tokens). */
const REASONING_PRICE: TokenPrice = { ...PRICE, reasoningPerMillion: '20' };
const TOOLS: [Anthropic.Tool] = [{ name: 'get_weather', description: 'Weather of a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];

describe('coding agents: /v1/messages and /v1/responses (e2e, official SDKs)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let gemini: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let key: string;
  let brokeKey: string;
  const clients: Array<GatewayClient | AnthropicGatewayClient> = [];
  const models = { claude: uniqueSlug('m-claude'), gpt: uniqueSlug('m-gpt'), native: uniqueSlug('m-native'), gemini: uniqueSlug('m-gemini') };

  const claude = (options: Parameters<typeof anthropicClient>[3] = {}, secret = key) => {
    const c = anthropicClient(api.baseUrl, shop.domain, secret, options);
    clients.push(c);
    return c;
  };
  const oai = (secret = key, maxRetries = 0) => {
    const c = gatewayClient(api.baseUrl, shop.domain, secret, { maxRetries });
    clients.push(c);
    return c;
  };
  const balance = async () => (await world.balance(shop, 'alice'))!;
  const lastEvent = async (count: number) => {
    await eventually(async () => (await world.events(shop)).length >= count, `${count} usage events`, 10_000);
    return (await world.events(shop))[count - 1];
  };
  const eventCount = async () => (await world.events(shop)).length;

  beforeAll(async () => {
    system = await connectAs('system');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    openai = await startFakeOpenAI();
    anthropic = await startFakeAnthropic();
    gemini = await startFakeGemini();
    api = await startTestApi({ REDIS_URL: redisUrl, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600' });
    world = await new InferenceWorld(api, system, redis).init();
    shop = await world.reseller(['alice', 'bob']);
    for (const m of [models.claude, models.gpt]) await world.price(world.platform, m, PRICE);
    await world.price(world.platform, models.native, REASONING_PRICE);
    await world.price(world.platform, models.gemini, PRICE);
    await world.channel(
      fakeChannel(gemini.url, models.gemini, { provider: 'gemini', baseUrl: gemini.url, models: [{ public: models.gemini, upstream: 'gemini-fake' }], retryBudget: 0, costs: [] }),
    );
    await world.channel(fakeChannel(openai.url, models.gpt, { retryBudget: 0 }));
    await world.channel(fakeChannel(openai.url, models.native, { provider: 'openai-responses', retryBudget: 0 }));
    await world.channel(
      fakeChannel(anthropic.url, models.claude, {
        provider: 'anthropic',
        baseUrl: anthropic.url,
        models: [{ public: models.claude, upstream: 'claude-fake' }],
        retryBudget: 0,
        costs: [],
      }),
    );
    await world.credit(shop, 'alice', '100');
    key = await world.key(shop, 'alice');
    brokeKey = await world.key(shop, 'bob');
    await api.app.get(BalanceService).ensureLoaded(shop.id, shop.users.alice.id);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await api?.close();
    await openai?.close();
    await anthropic?.close();
    await gemini?.close();
    redis?.disconnect();
    await system?.end();
  });

  describe('/v1/messages to an Anthropic channel: passed through', () => {
    it('the body reaches the upstream unchanged (cache_control with ttl, thinking, tools, images, beta header); the answer comes back as sent; each bucket at its price', async () => {
      const before = await balance();
      const events = await eventCount();
      const body: Anthropic.MessageCreateParamsNonStreaming = {
        model: models.claude,
        max_tokens: 1024,
        system: [{ type: 'text', text: 'You are a coding agent.', cache_control: { type: 'ephemeral', ttl: '1h' } }],
        thinking: { type: 'enabled', budget_tokens: 512 },
        tools: TOOLS,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
              { type: 'text', text: 'What is here?', cache_control: { type: 'ephemeral' } },
            ],
          },
        ],
      };
      const { client, sent } = claude({ defaultHeaders: { 'anthropic-beta': 'extended-cache-ttl-2025-04-11' } });
      const message = await client.messages.create(body);
      expect(message).toMatchObject({ type: 'message', role: 'assistant', model: models.claude, content: [{ type: 'text', text: ANTHROPIC_TEXT }], stop_reason: 'end_turn' });
      expect(message.usage).toMatchObject({ ...ANTHROPIC_USAGE, cache_creation: { ephemeral_5m_input_tokens: 2, ephemeral_1h_input_tokens: 3 } });
      const upstream = anthropic.requests[anthropic.requests.length - 1];
      expect(upstream.body).toEqual({ ...body, model: 'claude-fake' });
      expect(upstream.headers['anthropic-beta']).toBe('extended-cache-ttl-2025-04-11');
      // The channel's key goes upstream, never the customer's.
      expect(upstream.headers['x-api-key']).toBe('sk-upstream-test-key-0000000000000000');
      expect(JSON.stringify(upstream.headers)).not.toContain(key);
      // The version the SDK speaks, not the gateway's default for translated chat.
      expect(upstream.headers['anthropic-version']).toBe(sent[0].headers['anthropic-version']);
      expect(upstream.headers['anthropic-version']).toBeTruthy();

      const event = await lastEvent(events + 1);
      expect(event).toMatchObject({ status: 'ok', inputTokens: 11, outputTokens: 6, cacheReadTokens: 20, cacheWriteTokens: 5, httpRequestId: expect.any(String) });
      // 11 x 3 + 6 x 15 + 20 x 0.3 + 2 (5-minute writes) x 3.75 + 3 (1-hour writes) x 6 = 154.5 per million
      expect(event.retailUnits).toBe('154500');
      expect(costUnits({ input: 11, output: 6, cacheRead: 20, cacheWrite: 5, cacheWrite1h: 3 }, PRICE)).toBe(154_500n);
      expect(before - (await balance())).toBe(154_500n);
    });

    it('a stream passes the upstream events through as they arrive, and is billed by its usage', async () => {
      const events = await eventCount();
      const { client } = claude({ bearer: true });
      const stream = client.messages.stream({ model: models.claude, max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
      const types: string[] = [];
      stream.on('streamEvent', (e) => types.push(e.type));
      const final = await stream.finalMessage();
      expect(final.content).toEqual([{ type: 'text', text: ANTHROPIC_TEXT, citations: null }].map((b) => expect.objectContaining({ type: b.type, text: b.text })));
      expect(final.model).toBe(models.claude);
      expect(final.usage.output_tokens).toBe(ANTHROPIC_USAGE.output_tokens);
      expect(types[0]).toBe('message_start');
      expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);
      const event = await lastEvent(events + 1);
      expect(event).toMatchObject({ status: 'ok', stream: true, inputTokens: 11, outputTokens: 6, cacheReadTokens: 20, cacheWriteTokens: 5 });
      expect(event.ttftMs).not.toBeNull();
      expect(event.retailUnits).toBe(costUnits({ input: 11, output: 6, cacheRead: 20, cacheWrite: 5 }, PRICE).toString());
    });

    it('the beta path Claude Code calls (/v1/messages?beta=true, betas as anthropic-beta) is the same route', async () => {
      const message = await claude().client.beta.messages.create({ model: models.claude, max_tokens: 10, betas: ['interleaved-thinking-2025-05-14'], messages: [{ role: 'user', content: 'Hi' }] });
      expect(message.content[0]).toMatchObject({ type: 'text', text: ANTHROPIC_TEXT });
      expect(anthropic.requests[anthropic.requests.length - 1].headers['anthropic-beta']).toBe('interleaved-thinking-2025-05-14');
      // Claude Code's own client adds ?beta=true to the path.
      const res = await call(api.baseUrl, 'POST', '/v1/messages?beta=true', {
        host: shop.domain,
        headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'claude-code-20250219' },
        json: { model: models.claude, max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ type: 'message', content: [{ type: 'text', text: ANTHROPIC_TEXT }] });
      expect(anthropic.requests[anthropic.requests.length - 1].path).toBe('/v1/messages');
    });

    it('tool use round trip', async () => {
      const { client } = claude();
      anthropic.next({ kind: 'tool-call' });
      const first = await client.messages.create({ model: models.claude, max_tokens: 100, tools: TOOLS, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
      expect(first.stop_reason).toBe('tool_use');
      const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
      expect(use).toMatchObject({ name: 'get_weather', input: { city: 'Paris' } });
      const second = await client.messages.create({
        model: models.claude,
        max_tokens: 100,
        tools: TOOLS,
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: first.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'Sunny, 21°C' }] },
        ],
      });
      expect(second.content[0]).toMatchObject({ type: 'text', text: ANTHROPIC_TEXT });
      expect(anthropic.requests[anthropic.requests.length - 1].body.messages[2].content[0]).toEqual({ type: 'tool_result', tool_use_id: use.id, content: 'Sunny, 21°C' });
    });

    it('count_tokens answers in Anthropic shape, for a model the key may call: Anthropic’s count where an Anthropic channel serves it, the gateway’s elsewhere', async () => {
      const { client } = claude({ defaultHeaders: { 'anthropic-beta': 'token-counting-2024-11-01' } });
      const before = anthropic.requests.length;
      const counted = await client.messages.countTokens({ model: models.claude, system: 'Be brief.', messages: [{ role: 'user', content: 'Hello there, how are you?' }] });
      expect(counted.input_tokens).toBe(ANTHROPIC_COUNTED);
      expect(anthropic.requests.length).toBe(before + 1);
      const sent = anthropic.requests[before];
      expect(sent.path).toBe('/v1/messages/count_tokens');
      expect(sent.body).toEqual({ model: 'claude-fake', system: 'Be brief.', messages: [{ role: 'user', content: 'Hello there, how are you?' }] });
      expect(sent.headers['anthropic-beta']).toBe('token-counting-2024-11-01');
      const local = await client.messages.countTokens({ model: models.gpt, messages: [{ role: 'user', content: 'Hello there, how are you?' }] });
      expect(local.input_tokens).toBe(countTextTokens('Hello there, how are you?'));
      const missing = await client.messages.countTokens({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    });

    it('errors are Anthropic-shaped and typed: 401, 404, 400; 402 is not retried', async () => {
      const wrong = await claude({}, 'sk-wrong').client.messages.create({ model: models.claude, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(Anthropic.AuthenticationError);
      expect((wrong as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'authentication_error', message: expect.any(String) } });

      const unknown = await claude().client.messages.create({ model: 'no-such-model', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
      expect((unknown as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });

      const noMax = await claude().client.messages.create({ model: models.claude, messages: [{ role: 'user', content: 'x' }] } as never).catch((e: unknown) => e);
      expect(noMax).toBeInstanceOf(Anthropic.BadRequestError);
      expect((noMax as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') } });

      // The upstream's own refusal keeps its message (Claude Code compacts on "prompt is too long").
      anthropic.next({ kind: 'status', status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' } } });
      const tooLong = await claude().client.messages.create({ model: models.claude, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(tooLong).toBeInstanceOf(Anthropic.BadRequestError);
      expect((tooLong as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('prompt is too long') } });

      const broke = claude({ maxRetries: 3 }, brokeKey);
      const quota = await broke.client.messages.create({ model: models.claude, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(quota).toBeInstanceOf(Anthropic.APIError);
      expect((quota as InstanceType<typeof Anthropic.APIError>).status).toBe(402);
      expect((quota as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'billing_error' } });
      expect((quota as InstanceType<typeof Anthropic.APIError>).headers?.get('x-should-retry')).toBe('false');
      expect(broke.sent).toHaveLength(1);
    });

    it('a stream the client leaves is charged for the prompt the upstream reported and the text delivered', async () => {
      const before = await balance();
      const events = await eventCount();
      anthropic.next({ kind: 'ok', chunkDelayMs: 200 });
      const { client } = claude();
      const stream = client.messages.stream({ model: models.claude, max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
      for await (const e of stream) {
        if (e.type === 'content_block_delta') break; // leaves the stream: the SDK aborts the request
      }
      const event = await lastEvent(events + 1);
      expect(event).toMatchObject({ status: 'client_cancelled', inputTokens: 11, cacheReadTokens: 20, cacheWriteTokens: 5 });
      expect(event.outputTokens).toBeGreaterThan(0);
      expect(event.outputTokens).toBeLessThan(countTextTokens(ANTHROPIC_TEXT));
      const retail = costUnits({ input: 11, output: event.outputTokens, cacheRead: 20, cacheWrite: 5 }, PRICE);
      expect(event.retailUnits).toBe(retail.toString());
      expect(before - (await balance())).toBe(retail);
    });

    it('an upstream failure before the first token is charged nothing, and answered in Anthropic shape', async () => {
      const before = await balance();
      const events = await eventCount();
      anthropic.next({ kind: 'status', status: 500 });
      const error = await claude().client.messages.create({ model: models.claude, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Anthropic.InternalServerError);
      expect((error as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
      const event = await lastEvent(events + 1);
      expect(event).toMatchObject({ retailUnits: '0', inputTokens: 0, outputTokens: 0 });
      expect(await balance()).toBe(before);
    });
  });

  describe('/v1/messages to an OpenAI-compatible channel: translated', () => {
    it('a message, its usage in Anthropic terms, billed as the upstream reported', async () => {
      const events = await eventCount();
      const message = await claude().client.messages.create({ model: models.gpt, max_tokens: 64, system: 'Be brief.', messages: [{ role: 'user', content: 'Hi' }] });
      expect(message).toMatchObject({ type: 'message', role: 'assistant', model: models.gpt, content: [{ type: 'text', text: FAKE_TEXT }], stop_reason: 'end_turn' });
      expect(message.usage).toMatchObject({ input_tokens: 7, output_tokens: 7, cache_read_input_tokens: 2 });
      const sent = openai.requests[openai.requests.length - 1];
      expect(sent.path).toBe('/v1/chat/completions');
      expect(sent.body).toMatchObject({ model: 'fake-model', max_tokens: 64, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] });
      const event = await lastEvent(events + 1);
      expect(event.retailUnits).toBe(costUnits({ input: 7, output: 7, cacheRead: 2 }, PRICE).toString());
      expect(FAKE_USAGE.prompt_tokens).toBe(9);
    });

    it('a stream in Anthropic events', async () => {
      const stream = claude().client.messages.stream({ model: models.gpt, max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
      const types: string[] = [];
      stream.on('streamEvent', (e) => types.push(e.type));
      const final = await stream.finalMessage();
      expect(final.content).toEqual([expect.objectContaining({ type: 'text', text: FAKE_TEXT })]);
      expect(final.stop_reason).toBe('end_turn');
      expect(final.usage).toMatchObject({ output_tokens: 7 });
      expect(types[0]).toBe('message_start');
      expect(types[1]).toBe('content_block_start');
      expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    });

    it('tool use round trip, non-stream and stream', async () => {
      const { client } = claude();
      openai.next({ kind: 'tool-call' });
      const first = await client.messages.create({ model: models.gpt, max_tokens: 100, tools: TOOLS, tool_choice: { type: 'auto' }, messages: [{ role: 'user', content: 'Weather?' }] });
      expect(first.stop_reason).toBe('tool_use');
      expect(first.content).toEqual([{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }]);
      expect(openai.requests[openai.requests.length - 1].body).toMatchObject({
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: TOOLS[0].input_schema } }],
        tool_choice: 'auto',
      });

      openai.next({ kind: 'tool-call' });
      const streamed = await client.messages.stream({ model: models.gpt, max_tokens: 100, tools: TOOLS, messages: [{ role: 'user', content: 'Weather?' }] }).finalMessage();
      expect(streamed.stop_reason).toBe('tool_use');
      expect(streamed.content).toEqual([expect.objectContaining({ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } })]);

      const second = await client.messages.create({
        model: models.gpt,
        max_tokens: 100,
        tools: TOOLS,
        messages: [
          { role: 'user', content: 'Weather?' },
          { role: 'assistant', content: first.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: [{ type: 'text', text: 'Sunny' }] }, { type: 'text', text: 'And tomorrow?' }] },
        ],
      });
      expect(second.content[0]).toMatchObject({ type: 'text', text: FAKE_TEXT });
      expect(openai.requests[openai.requests.length - 1].body.messages).toEqual([
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'Sunny' },
        { role: 'user', content: 'And tomorrow?' },
      ]);
    });

    it('a stream cut by the upstream after its first words ends with an error event and is charged for what was delivered', async () => {
      const before = await balance();
      const events = await eventCount();
      openai.next({ kind: 'truncated' });
      const stream = claude().client.messages.stream({ model: models.gpt, max_tokens: 64, messages: [{ role: 'user', content: 'Tell me' }] });
      const text: string[] = [];
      stream.on('text', (t) => text.push(t));
      const error = await stream.finalMessage().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(text.join('')).toBe('Hello ');
      const event = await lastEvent(events + 1);
      const usage = { input: countTextTokens('Tell me'), output: countTextTokens('Hello ') };
      expect(event).toMatchObject({ status: 'upstream_error', inputTokens: usage.input, outputTokens: usage.output });
      expect(event.retailUnits).toBe(costUnits(usage, PRICE).toString());
      expect(before - (await balance())).toBe(costUnits(usage, PRICE));
    });
  });

  it('/v1/models tells which protocols each model can be called with', async () => {
    const list = await oai().client.models.list();
    const byId = new Map(list.data.map((m) => [m.id, (m as unknown as { protocols: string[] }).protocols]));
    // OpenAI-compatible channels also serve moderations, rerank and images (issue 24).
    expect(byId.get(models.gpt)).toEqual(['chat.completions', 'completions', 'embeddings', 'messages', 'responses', 'moderations', 'rerank', 'images.generations', 'audio.transcriptions', 'audio.speech']);
    expect(byId.get(models.claude)).toEqual(['chat.completions', 'messages', 'responses']);
    expect(byId.get(models.native)).toEqual(['chat.completions', 'completions', 'embeddings', 'messages', 'responses', 'moderations', 'rerank', 'images.generations', 'audio.transcriptions', 'audio.speech']);
  });

  it('/v1/messages and /v1/responses to a Gemini channel: translated through chat, non-stream and stream', async () => {
    const { client } = claude();
    const message = await client.messages.create({ model: models.gemini, max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    // Gemini reports 12 prompt tokens of which 4 cached, 5 output tokens.
    expect(message).toMatchObject({ model: models.gemini, content: [{ type: 'text', text: GEMINI_TEXT }], stop_reason: 'end_turn', usage: { input_tokens: 8, cache_read_input_tokens: 4, output_tokens: 5 } });
    const streamed = await client.messages.stream({ model: models.gemini, max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage();
    expect(streamed.content).toEqual([expect.objectContaining({ type: 'text', text: GEMINI_TEXT })]);
    expect(streamed.usage).toMatchObject({ output_tokens: 5 });
    const response = await oai().client.responses.create({ model: models.gemini, input: 'Hi' });
    expect(response.output_text).toBe(GEMINI_TEXT);
    let text = '';
    for await (const e of await oai().client.responses.create({ model: models.gemini, input: 'Hi', stream: true })) if (e.type === 'response.output_text.delta') text += e.delta;
    expect(text).toBe(GEMINI_TEXT);
    expect(gemini.requests.length).toBe(4);
  });

  describe('/v1/responses (stateless), translated to chat', () => {
    for (const target of ['gpt', 'claude'] as const) {
      it(`responses.create and its stream, to the ${target === 'gpt' ? 'OpenAI-compatible' : 'Anthropic'} channel`, async () => {
        const { client } = oai();
        const model = models[target];
        const text = target === 'gpt' ? FAKE_TEXT : ANTHROPIC_TEXT;
        const events = await eventCount();
        const response = await client.responses.create({ model, instructions: 'Be brief.', input: 'Hi', store: false });
        expect(response).toMatchObject({ object: 'response', status: 'completed', model });
        expect(response.output_text).toBe(text);
        expect(response.usage!.output_tokens).toBe(target === 'gpt' ? 7 : 6);
        const event = await lastEvent(events + 1);
        expect(event).toMatchObject({ status: 'ok', stream: false });

        const stream = await client.responses.create({ model, input: [{ role: 'user', content: 'Hi' }], stream: true });
        const types: string[] = [];
        let deltas = '';
        let completed: OpenAI.Responses.Response | null = null;
        for await (const e of stream) {
          types.push(e.type);
          if (e.type === 'response.output_text.delta') deltas += e.delta;
          if (e.type === 'response.completed') completed = e.response;
        }
        expect(types.slice(0, 2)).toEqual(['response.created', 'response.in_progress']);
        expect(types[types.length - 1]).toBe('response.completed');
        expect(types).toEqual(expect.arrayContaining(['response.output_item.added', 'response.content_part.added', 'response.output_text.done', 'response.output_item.done']));
        expect(deltas).toBe(text);
        expect(completed!.output).toEqual([expect.objectContaining({ type: 'message', content: [expect.objectContaining({ type: 'output_text', text })] })]);
        const streamed = await lastEvent(events + 2);
        expect(streamed).toMatchObject({ status: 'ok', stream: true });
        expect(streamed.ttftMs).not.toBeNull();
      });
    }

    it('function calling: the call comes back as a function_call item; its output goes back as a tool message', async () => {
      const { client } = oai();
      const tools: OpenAI.Responses.FunctionTool[] = [{ type: 'function', name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false }];
      openai.next({ kind: 'tool-call' });
      const first = await client.responses.create({ model: models.gpt, input: 'Weather?', tools });
      const call = first.output.find((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === 'function_call')!;
      expect(call).toMatchObject({ call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' });

      openai.next({ kind: 'tool-call' });
      const stream = await client.responses.create({ model: models.gpt, input: 'Weather?', tools, stream: true });
      let args = '';
      for await (const e of stream) if (e.type === 'response.function_call_arguments.delta') args += e.delta;
      expect(JSON.parse(args)).toEqual({ city: 'Paris' });

      const second = await client.responses.create({
        model: models.gpt,
        tools,
        input: [{ role: 'user', content: 'Weather?' }, { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }, { type: 'function_call_output', call_id: 'call_1', output: 'Sunny' }],
      });
      expect(second.output_text).toBe(FAKE_TEXT);
      expect(openai.requests[openai.requests.length - 1].body.messages).toEqual([
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'Sunny' },
      ]);
    });

    it('previous_response_id is refused with a clear 400; a 402 is OpenAI-shaped and not retried', async () => {
      const refused = await oai().client.responses.create({ model: models.gpt, input: 'Hi', previous_response_id: 'resp_123' }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect((refused as InstanceType<typeof OpenAI.APIError>).param).toBe('previous_response_id');
      const broke = oai(brokeKey, 3);
      const quota = await broke.client.responses.create({ model: models.gpt, input: 'Hi' }).catch((e: unknown) => e);
      expect((quota as InstanceType<typeof OpenAI.APIError>).status).toBe(402);
      expect((quota as InstanceType<typeof OpenAI.APIError>).code).toBe('insufficient_quota');
      expect(broke.sent).toHaveLength(1);
    });
  });

  describe('/v1/responses to a channel that serves Responses natively: passed through', () => {
    it('the request (reasoning items of earlier turns included) reaches /v1/responses as sent, stateless; the answer comes back as sent; reasoning billed at its price', async () => {
      const { client } = oai();
      const before = await balance();
      const events = await eventCount();
      const input: OpenAI.Responses.ResponseInput = [
        { role: 'user', content: 'First question' },
        { type: 'reasoning', id: 'rs_earlier', summary: [], encrypted_content: 'gAAAAearlier' },
        { role: 'assistant', content: 'First answer' },
        { role: 'user', content: 'Second question' },
      ];
      const response = await client.responses.create({ model: models.native, input, include: ['reasoning.encrypted_content'], store: false, reasoning: { effort: 'high' } });
      expect(response.output_text).toBe(FAKE_TEXT);
      expect(response.model).toBe(models.native);
      expect(response.output[0]).toEqual({ type: 'reasoning', id: 'rs_fake', summary: [], encrypted_content: 'gAAAAfakeEncrypted' });
      expect(response.usage).toEqual(FAKE_RESPONSES_USAGE);
      const sent = openai.requests[openai.requests.length - 1];
      expect(sent.path).toBe('/v1/responses');
      expect(sent.body).toEqual({ model: 'fake-model', input, include: ['reasoning.encrypted_content'], store: false, reasoning: { effort: 'high' } });
      const event = await lastEvent(events + 1);
      expect(event).toMatchObject({ status: 'ok', inputTokens: 7, cacheReadTokens: 2, outputTokens: 7 });
      // 7 x 3 + 2 x 0.3 + (7 - 3) x 15 + 3 reasoning x 20 = 141.6 per million
      expect(event.retailUnits).toBe('141600');
      expect(costUnits({ input: 7, cacheRead: 2, output: 7, reasoning: 3 }, REASONING_PRICE)).toBe(141_600n);
      expect(before - (await balance())).toBe(141_600n);
    });

    it('its stream passes through event by event, response.created to response.completed', async () => {
      const events = await eventCount();
      const stream = await oai().client.responses.create({ model: models.native, input: 'Hi', stream: true });
      const types: string[] = [];
      let text = '';
      for await (const e of stream) {
        types.push(e.type);
        if (e.type === 'response.output_text.delta') text += e.delta;
        if (e.type === 'response.completed') expect(e.response.model).toBe(models.native);
      }
      expect(text).toBe(FAKE_TEXT);
      expect(types.slice(0, 3)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added']);
      expect(types[types.length - 1]).toBe('response.completed');
      expect(openai.requests[openai.requests.length - 1].body).toMatchObject({ stream: true, store: false });
      const event = await lastEvent(events + 1);
      expect(event).toMatchObject({ status: 'ok', stream: true, inputTokens: 7, cacheReadTokens: 2, outputTokens: 7 });
      expect(event.retailUnits).toBe('141600');
    });
  });

  describe('recorded agent sessions replayed through the gateway', () => {
    interface Session {
      headers: Record<string, string>;
      steps: Array<{ name: string; upstream: 'ok' | 'tool-call'; body: Record<string, unknown> }>;
    }
    const session = (name: string): Session => JSON.parse(readFileSync(join(__dirname, '../fixtures/agents', name), 'utf8')) as Session;
    const withModel = (body: Record<string, unknown>, model: string) => JSON.parse(JSON.stringify(body).split('{{model}}').join(model)) as Record<string, unknown>;
    /** An answer as comparable data: SSE as its events (name and parsed data), JSON parsed; the model and clock normalised. */
    const answerOf = (text: string, from: string, to: string) => {
      const renamed = text.split(JSON.stringify(from)).join(JSON.stringify(to)).replace(/"created_at":\d+/g, '"created_at":0');
      if (!renamed.startsWith('event:') && !renamed.startsWith('data:')) return JSON.parse(renamed) as unknown;
      return renamed
        .split('\n\n')
        .filter((block) => block.trim())
        .map((block) => {
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          return { event, data: data ? (JSON.parse(data) as unknown) : null };
        });
    };

    it('Claude Code to an Anthropic channel: each request reaches the upstream as sent, and each answer is the one the upstream gave', async () => {
      const recorded = session('claude-code-session.json');
      for (const step of recorded.steps) {
        const body = withModel(step.body, models.claude);
        const upstreamBody = { ...body, model: 'claude-fake' };
        anthropic.next({ kind: step.upstream });
        const viaGateway = await call(api.baseUrl, 'POST', '/v1/messages', { host: shop.domain, headers: { ...recorded.headers, 'x-api-key': key }, json: body });
        expect({ step: step.name, status: viaGateway.status }).toEqual({ step: step.name, status: 200 });
        const sent = anthropic.requests[anthropic.requests.length - 1];
        expect(sent.body).toEqual(upstreamBody);
        expect(sent.headers['anthropic-beta']).toBe(recorded.headers['anthropic-beta']);
        expect(sent.headers['anthropic-version']).toBe(recorded.headers['anthropic-version']);

        anthropic.next({ kind: step.upstream });
        const direct = await call(anthropic.url, 'POST', '/v1/messages', { headers: { ...recorded.headers, 'x-api-key': 'upstream-key' }, json: upstreamBody });
        expect(answerOf(viaGateway.text, models.claude, models.claude)).toEqual(answerOf(direct.text, 'claude-fake', models.claude));
      }
    });

    it('Codex to a channel that serves Responses: each request reaches the upstream as sent, and each answer is the one the upstream gave', async () => {
      const recorded = session('codex-session.json');
      for (const step of recorded.steps) {
        const body = withModel(step.body, models.native);
        const upstreamBody = { ...body, model: 'fake-model' };
        openai.next({ kind: step.upstream });
        const viaGateway = await call(api.baseUrl, 'POST', '/v1/responses', { host: shop.domain, headers: recorded.headers, token: key, json: body });
        expect({ step: step.name, status: viaGateway.status }).toEqual({ step: step.name, status: 200 });
        expect(openai.requests[openai.requests.length - 1].body).toEqual(upstreamBody);

        openai.next({ kind: step.upstream });
        const direct = await call(openai.url, 'POST', '/v1/responses', { headers: recorded.headers, token: 'upstream-key', json: upstreamBody });
        expect(answerOf(viaGateway.text, models.native, models.native)).toEqual(answerOf(direct.text, 'fake-model', models.native));
      }
    });

    it('both sessions against an OpenAI-compatible chat channel: translated, every turn answered in its protocol', async () => {
      const claudeCode = session('claude-code-session.json');
      for (const step of claudeCode.steps) {
        openai.next({ kind: step.upstream });
        const res = await call(api.baseUrl, 'POST', '/v1/messages', { host: shop.domain, headers: { ...claudeCode.headers, 'x-api-key': key }, json: withModel(step.body, models.gpt) });
        expect({ step: step.name, status: res.status }).toEqual({ step: step.name, status: 200 });
        const answer = answerOf(res.text, models.gpt, models.gpt);
        if (!Array.isArray(answer)) {
          expect(answer).toMatchObject({ type: 'message', content: [{ type: 'text', text: FAKE_TEXT }] });
          continue;
        }
        expect(answer.map((e) => e.event).slice(-2)).toEqual(['message_delta', 'message_stop']);
        const blocks = answer.filter((e) => e.event === 'content_block_start').map((e) => (e.data as { content_block: { type: string } }).content_block.type);
        expect(blocks).toEqual([step.upstream === 'tool-call' ? 'tool_use' : 'text']);
      }
      const codex = session('codex-session.json');
      for (const step of codex.steps) {
        openai.next({ kind: step.upstream });
        const res = await call(api.baseUrl, 'POST', '/v1/responses', { host: shop.domain, headers: codex.headers, token: key, json: withModel(step.body, models.gpt) });
        expect({ step: step.name, status: res.status }).toEqual({ step: step.name, status: 200 });
        const events = answerOf(res.text, models.gpt, models.gpt) as Array<{ event: string; data: { delta?: string } }>;
        expect(events[0].event).toBe('response.created');
        expect(events[events.length - 1].event).toBe('response.completed');
        expect(events.filter((e) => e.event === 'response.output_text.delta').map((e) => e.data.delta).join('')).toBe(FAKE_TEXT);
      }
      // The second Codex turn reached chat as the call, its output and the question (the reasoning item has no chat form).
      expect(openai.requests[openai.requests.length - 1].body.messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user', 'assistant', 'tool']);
    });
  });
});
