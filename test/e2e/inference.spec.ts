import Redis from 'ioredis';
import OpenAI from 'openai';
import { register } from 'prom-client';
import { Client } from 'pg';
import { costUnits, fromUnits, TokenPrice, TokenUsage } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FAKE_TEXT, FAKE_USAGE, FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';
import { call } from '../support/http';
import { GatewayClient, gatewayClient } from '../support/openai-client';
import { isolatedRedisUrl } from '../support/redis';
import { estimatePromptTokens } from '../../src/modules/inference/token-estimate';
import { quietPeriod } from '../support/timing';

/**
 * The inference API end to end with the official `openai` SDK against the gateway and a fake
 * OpenAI-compatible upstream: every endpoint, the money of each call exact to the nano-unit (Redis
 * balance and usage event), every refusal as the SDK's typed error, and 200 requests racing for a
 * balance that covers only some of them.
 */

// The upstream's usage of every chat/completions call, in the gateway's buckets.
const USAGE: TokenUsage = {
  input: FAKE_USAGE.prompt_tokens - FAKE_USAGE.prompt_tokens_details.cached_tokens,
  output: FAKE_USAGE.completion_tokens,
  cacheRead: FAKE_USAGE.prompt_tokens_details.cached_tokens,
  cacheWrite: 0,
};
// Nine decimals, so the one rounding (ceil to a nano-unit) matters.
const PLATFORM_PRICE: TokenPrice = { inputPerMillion: '0.123456789', outputPerMillion: '1.3', cacheReadPerMillion: '0.05' };
const RESELLER_PRICE: TokenPrice = { inputPerMillion: '0.5', outputPerMillion: '2.000000001', cacheReadPerMillion: '0.1' };
const MODEL = uniqueSlug('inf-main');
const SICK_MODEL = uniqueSlug('inf-sick');

describe('inference (e2e, openai SDK)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let fake: FakeUpstream;
  let sickFake: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let other: TestTenant;
  let shopKey: string;
  let otherKey: string;
  const clients: GatewayClient[] = [];

  const sdk = (tenant: TestTenant, key: string, options: { maxRetries?: number } = {}) => {
    const c = gatewayClient(api.baseUrl, tenant.domain, key, options);
    clients.push(c);
    return c;
  };
  const load = (tenant: TestTenant, customer: string) => api.app.get(BalanceService).ensureLoaded(tenant.id, tenant.users[customer].id);

  /** Runs `fn` and returns how much the customer's Redis balance went down, and the new events. */
  async function charged(tenant: TestTenant, customer: string, fn: () => Promise<unknown>, expectEvent = true) {
    await load(tenant, customer);
    const before = (await world.balance(tenant, customer))!;
    const eventsBefore = (await world.events(tenant)).length;
    await fn();
    // The settle step runs right after the last byte is written; wait for its event.
    if (expectEvent) await eventually(async () => (await world.events(tenant)).length > eventsBefore, 'the usage event', 5000);
    else await quietPeriod(200); // a stray settlement would land by now
    const after = (await world.balance(tenant, customer))!;
    return { spent: before - after, events: (await world.events(tenant)).slice(eventsBefore) };
  }

  beforeAll(async () => {
    system = await connectAs('system');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    fake = await startFakeOpenAI();
    sickFake = await startFakeOpenAI();
    api = await startTestApi({ REDIS_URL: redisUrl, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600', CHANNEL_BREAKER_FAILURES: '2', CHANNEL_BREAKER_COOLDOWN_SECONDS: '3600', INFERENCE_BODY_LIMIT_BYTES: '65536' });
    world = await new InferenceWorld(api, system, redis).init();
    shop = await world.reseller(['alice', 'broke', 'racer', 'coldracer', 'streamracer', 'limited', 'spender', 'leaver']);
    other = await world.reseller(['olga']);
    await world.price(world.platform, MODEL, PLATFORM_PRICE);
    await world.price(world.platform, SICK_MODEL, PLATFORM_PRICE);
    await world.price(other, MODEL, RESELLER_PRICE);
    await world.channel(fakeChannel(fake.url, MODEL));
    await world.channel(fakeChannel(sickFake.url, SICK_MODEL, { retryBudget: 0 }));
    await world.credit(shop, 'alice', '10');
    await world.credit(other, 'olga', '10');
    shopKey = await world.key(shop, 'alice');
    otherKey = await world.key(other, 'olga');
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await api?.close();
    await fake?.close();
    await sickFake?.close();
    redis?.disconnect();
    await system?.end();
  });

  describe('endpoints', () => {
    it('chat (not streamed): the SDK sees the answer and usage; the wallet goes down by exactly the retail cost; one event', async () => {
      const { client } = sdk(shop, shopKey);
      let answer!: OpenAI.Chat.Completions.ChatCompletion;
      let requestId: string | null = null;
      const { spent, events } = await charged(shop, 'alice', async () => {
        const { data, response } = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 50 }).withResponse();
        answer = data;
        requestId = response.headers.get('x-request-id');
      });
      expect(answer.choices[0].message.content).toBe(FAKE_TEXT);
      expect(answer.model).toBe(MODEL); // the public name, never the upstream's
      expect(answer.usage).toEqual(FAKE_USAGE);
      expect(requestId).toBeTruthy();
      const retail = costUnits(USAGE, PLATFORM_PRICE);
      expect(retail).toBe(10_065n); // (7 x 0.123456789 + 7 x 1.3 + 2 x 0.05) per million tokens = 10064.197523 nano, ceil
      expect(spent).toBe(retail);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        tenantId: shop.id,
        customerId: shop.users.alice.id,
        model: MODEL,
        upstreamModel: 'fake-model',
        inputTokens: 7,
        outputTokens: 7,
        cacheReadTokens: 2,
        retailUnits: retail.toString(),
        // The reseller inherits the platform's list: it pays what its customer pays.
        wholesaleUnits: retail.toString(),
        upstreamUnits: costUnits(USAGE, { inputPerMillion: '0.05', outputPerMillion: '0.2', cacheReadPerMillion: '0.01' }).toString(),
        status: 'ok',
        errorCode: null,
        stream: false,
      });
      expect(events[0].channelId).toBeTruthy();
      // The hold is gone: nothing stays reserved.
      expect(await world.openHolds(shop)).toBe(0);
    });

    it('counts requests, tokens and money in the metrics as they are scraped', async () => {
      const { client } = sdk(shop, shopKey);
      const value = async (name: string, labels: Record<string, string>) => {
        const metric = (await register.getSingleMetric(name)!.get()) as { values: Array<{ labels: Record<string, string>; value: number }> };
        return metric.values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0);
      };
      const labels = { tenant: shop.id, model: MODEL };
      const before = {
        requests: await value('aigateway_inference_requests_total', { ...labels, status: 'ok' }),
        output: await value('aigateway_inference_tokens_total', { ...labels, bucket: 'output' }),
        charged: await value('aigateway_inference_charged_total', labels),
      };
      await charged(shop, 'alice', () => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'one' }], max_tokens: 5 }));
      await charged(shop, 'alice', () => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'two' }], max_tokens: 5 }));
      expect((await value('aigateway_inference_requests_total', { ...labels, status: 'ok' })) - before.requests).toBe(2);
      expect((await value('aigateway_inference_tokens_total', { ...labels, bucket: 'output' })) - before.output).toBe(2 * USAGE.output);
      expect((await value('aigateway_inference_charged_total', labels)) - before.charged).toBeCloseTo((2 * Number(costUnits(USAGE, PLATFORM_PRICE))) / 1e9, 12);
      // a second scrape with nothing new adds nothing
      expect((await value('aigateway_inference_requests_total', { ...labels, status: 'ok' })) - before.requests).toBe(2);
    });

    it('stream without include_usage: the content arrives in chunks, no usage chunk, the full usage is charged', async () => {
      const { client } = sdk(shop, shopKey);
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      const { spent, events } = await charged(shop, 'alice', async () => {
        const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Say hello' }], stream: true });
        for await (const chunk of stream) chunks.push(chunk);
      });
      expect(chunks.length).toBeGreaterThan(2);
      expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe(FAKE_TEXT);
      expect(chunks.every((c) => !c.usage)).toBe(true);
      expect(chunks.every((c) => c.model === MODEL)).toBe(true);
      // The gateway asked the upstream for usage all the same, and charged by it.
      expect(fake.requests[fake.requests.length - 1].body.stream_options).toEqual({ include_usage: true });
      expect(spent).toBe(costUnits(USAGE, PLATFORM_PRICE));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ stream: true, status: 'ok', inputTokens: 7, outputTokens: 7, cacheReadTokens: 2 });
      expect(events[0].ttftMs).not.toBeNull();
    });

    it('stream with include_usage: the last chunk carries the usage', async () => {
      const { client } = sdk(shop, shopKey);
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      const { spent } = await charged(shop, 'alice', async () => {
        const stream = await client.chat.completions.create({
          model: MODEL,
          messages: [{ role: 'user', content: 'Say hello' }],
          stream: true,
          stream_options: { include_usage: true },
        });
        for await (const chunk of stream) chunks.push(chunk);
      });
      const withUsage = chunks.filter((c) => c.usage);
      expect(withUsage).toHaveLength(1);
      expect(chunks[chunks.length - 1].usage).toEqual(FAKE_USAGE);
      expect(chunks[chunks.length - 1].choices).toEqual([]);
      expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe(FAKE_TEXT);
      expect(spent).toBe(costUnits(USAGE, PLATFORM_PRICE));
    });

    it('completions (legacy): text and usage; charged exactly', async () => {
      const { client } = sdk(shop, shopKey);
      let answer!: OpenAI.Completions.Completion;
      const { spent, events } = await charged(shop, 'alice', async () => {
        answer = await client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 20 });
      });
      expect(answer.choices[0].text).toBe(FAKE_TEXT);
      expect(answer.usage).toEqual(FAKE_USAGE);
      expect(spent).toBe(costUnits(USAGE, PLATFORM_PRICE));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ status: 'ok', retailUnits: spent.toString() });
    });

    it('embeddings: vectors and usage; charged for the input tokens only', async () => {
      const { client } = sdk(shop, shopKey);
      let answer!: OpenAI.Embeddings.CreateEmbeddingResponse;
      const { spent, events } = await charged(shop, 'alice', async () => {
        answer = await client.embeddings.create({ model: MODEL, input: ['first text', 'second text'], encoding_format: 'float' });
      });
      expect(answer.data).toHaveLength(2);
      expect(answer.data[1].embedding).toEqual([0.1, 0.2, 0.3, 1]);
      expect(answer.usage).toEqual({ prompt_tokens: 8, total_tokens: 8 });
      const retail = costUnits({ input: 8, output: 0 }, PLATFORM_PRICE);
      expect(spent).toBe(retail);
      expect(events[0]).toMatchObject({ inputTokens: 8, outputTokens: 0, retailUnits: retail.toString(), status: 'ok' });
    });

    it('models: list and retrieve show the tenant\'s routed models; an unknown one is a NotFoundError', async () => {
      const { client } = sdk(shop, shopKey);
      const ids: string[] = [];
      for await (const m of client.models.list()) ids.push(m.id);
      expect(ids).toContain(MODEL);
      expect(ids).toContain(SICK_MODEL);
      const one = await client.models.retrieve(MODEL);
      expect(one).toMatchObject({ id: MODEL, object: 'model' });
      const missing = await client.models.retrieve('no-such-model-xyz').catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
      expect(missing).toMatchObject({ status: 404, code: 'model_not_found' });
    });

    it('a reseller\'s own retail price above wholesale: the customer pays retail, the event shows both', async () => {
      const { client } = sdk(other, otherKey);
      const { spent, events } = await charged(other, 'olga', () => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }));
      const retail = costUnits(USAGE, RESELLER_PRICE);
      const wholesale = costUnits(USAGE, PLATFORM_PRICE);
      expect(retail).toBeGreaterThan(wholesale);
      expect(spent).toBe(retail);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ tenantId: other.id, customerId: other.users.olga.id, retailUnits: retail.toString(), wholesaleUnits: wholesale.toString() });
    });
  });

  describe('pass-through and headers', () => {
    it('tools and JSON mode reach the upstream unchanged; the SDK sees the tool call', async () => {
      const { client } = sdk(shop, shopKey);
      fake.next({ kind: 'tool-call' });
      const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
        { type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
      ];
      const answer = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, tool_choice: 'auto', response_format: { type: 'json_object' }, temperature: 0.3 });
      expect(answer.choices[0].finish_reason).toBe('tool_calls');
      expect(answer.choices[0].message.tool_calls).toEqual([{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
      const sent = fake.requests[fake.requests.length - 1].body;
      expect(sent).toMatchObject({ model: 'fake-model', tools, tool_choice: 'auto', response_format: { type: 'json_object' }, temperature: 0.3 });
    });

    it('X-Request-Id: a well-formed one is kept, sent upstream and returned; a malformed one is replaced', async () => {
      const { client } = sdk(shop, shopKey);
      const mine = `req-${Date.now()}`;
      const { response } = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'X-Request-Id': mine } }).withResponse();
      expect(response.headers.get('x-request-id')).toBe(mine);
      expect(fake.requests[fake.requests.length - 1].headers['x-request-id']).toBe(mine);
      const bad = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'X-Request-Id': 'bad id <script>' } }).withResponse();
      const replaced = bad.response.headers.get('x-request-id');
      expect(replaced).toMatch(/^[0-9a-f-]{36}$/);
      expect(fake.requests[fake.requests.length - 1].headers['x-request-id']).toBe(replaced);
      // Errors carry it too.
      const error = await client.chat.completions.create({ model: 'gpt-nonexistent-42', messages: [] }, { headers: { 'X-Request-Id': mine + '-e' } }).catch((e: unknown) => e);
      expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get('x-request-id')).toBe(mine + '-e');
    });

    it('accepts the key in x-api-key as some clients send it', async () => {
      const res = await call(api.baseUrl, 'POST', '/v1/chat/completions', {
        host: shop.domain,
        headers: { 'x-api-key': shopKey },
        json: { model: MODEL, messages: [{ role: 'user', content: 'hi' }] },
      });
      expect(res.status).toBe(200);
      expect(res.body.choices[0].message.content).toBe(FAKE_TEXT);
      const wrong = await call(api.baseUrl, 'POST', '/v1/chat/completions', { host: shop.domain, headers: { 'x-api-key': 'sk-wrong' }, json: { model: MODEL, messages: [] } });
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    });
  });

  describe('a client that leaves a non-streamed request', () => {
    it('aborts the upstream request, is not charged, and the event says client_cancelled', async () => {
      await world.credit(shop, 'leaver', '1');
      const key = await world.key(shop, 'leaver');
      const { client } = sdk(shop, key, { maxRetries: 0 });
      const before = (await load(shop, 'leaver'), (await world.balance(shop, 'leaver'))!);
      const eventsBefore = (await world.events(shop)).length;
      fake.next({ kind: 'ok', delayMs: 1500 });
      const upstreamIndex = fake.requests.length;
      const abort = new AbortController();
      void eventually(() => fake.requests.length > upstreamIndex, 'the upstream to be asked').then(() => abort.abort(), () => abort.abort());
      const error = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'slow' }] }, { signal: abort.signal }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIUserAbortError);
      await eventually(() => fake.requests[upstreamIndex]?.aborted === true, 'the upstream request to be aborted', 3000);
      await eventually(async () => (await world.events(shop)).length === eventsBefore + 1, 'the usage event');
      const [event] = (await world.events(shop)).slice(eventsBefore);
      expect(event).toMatchObject({ customerId: shop.users.leaver.id, status: 'client_cancelled', retailUnits: '0' });
      expect(await world.balance(shop, 'leaver')).toBe(before);
      expect(await world.openHolds(shop)).toBe(0);
    });
  });

  describe('errors as the SDK\'s typed errors', () => {
    async function failure(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
      const error = await p.then(
        () => {
          throw new Error('expected a failure');
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(OpenAI.APIError);
      return error as InstanceType<typeof OpenAI.APIError>;
    }

    it('an invalid key is a 401 AuthenticationError', async () => {
      const { client } = sdk(shop, 'sk-thisisnotakey0000000000000000000000000000000');
      const error = await failure(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }));
      expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(error).toMatchObject({ status: 401, code: 'invalid_api_key', type: 'invalid_request_error' });
      const models = await failure(sdk(shop, 'sk-nope').client.models.list());
      expect(models).toBeInstanceOf(OpenAI.AuthenticationError);
    });

    it('a key of reseller A used at reseller B\'s domain is a 401, like any wrong key, and costs nothing', async () => {
      const { client } = sdk(other, shopKey);
      const { spent } = await charged(shop, 'alice', async () => {
        const error = await failure(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }));
        expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
        expect(error.message).toBe((await failure(sdk(other, 'sk-wrong').client.chat.completions.create({ model: MODEL, messages: [] }))).message);
        expect(error).toMatchObject({ status: 401, code: 'invalid_api_key' });
        expect(await failure(client.models.list())).toBeInstanceOf(OpenAI.AuthenticationError);
      }, false);
      expect(spent).toBe(0n);
    });

    it('an unknown model is a 404 NotFoundError with code model_not_found; nothing is charged or sent upstream', async () => {
      const { client } = sdk(shop, shopKey);
      const upstreamBefore = fake.requests.length;
      const { spent, events } = await charged(shop, 'alice', async () => {
        const error = await failure(client.chat.completions.create({ model: 'gpt-nonexistent-42', messages: [{ role: 'user', content: 'hi' }] }));
        expect(error).toBeInstanceOf(OpenAI.NotFoundError);
        expect(error).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
      }, false);
      expect(spent).toBe(0n);
      expect(events).toHaveLength(0);
      expect(fake.requests.length).toBe(upstreamBefore);
    });

    it('an empty wallet is a 402 insufficient_quota with x-should-retry: false, and the SDK (default retries) sends it once', async () => {
      const key = await world.key(shop, 'broke');
      const c = sdk(shop, key); // default maxRetries
      const upstreamBefore = fake.requests.length;
      const error = await failure(c.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }));
      expect(error.status).toBe(402);
      expect(error).toMatchObject({ code: 'insufficient_quota', type: 'insufficient_quota' });
      expect(error.headers?.get('x-should-retry')).toBe('false');
      expect(c.sent).toHaveLength(1);
      expect(fake.requests.length).toBe(upstreamBefore);
      expect(await world.balance(shop, 'broke')).toBe(0n);
      // Streamed requests are refused the same way, before any byte of a stream.
      const streamed = await failure(c.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true }));
      expect(streamed).toMatchObject({ status: 402, code: 'insufficient_quota' });
      expect(c.sent).toHaveLength(2);
    });

    it('a key at its spend limit is a 402 insufficient_quota although the wallet has money; the limit is never passed', async () => {
      await world.credit(shop, 'spender', '1');
      await load(shop, 'spender');
      const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 20 };
      const hold = costUnits({ input: estimatePromptTokens(JSON.stringify(body).length), output: 20 }, PLATFORM_PRICE);
      const cost = costUnits(USAGE, PLATFORM_PRICE);
      // Admits a request while spent + worst case fits: two requests, not three.
      const key = await world.key(shop, 'spender', { spendLimit: fromUnits(hold + cost) });
      const c = sdk(shop, key); // default retries
      await c.client.chat.completions.create(body);
      await c.client.chat.completions.create(body);
      const error = await failure(c.client.chat.completions.create(body));
      expect(error.status).toBe(402);
      expect(error).toMatchObject({ code: 'insufficient_quota' });
      expect(error.message).toMatch(/spend limit/);
      expect(error.headers?.get('x-should-retry')).toBe('false');
      expect(c.sent).toHaveLength(3);
      expect(await world.balance(shop, 'spender')).toBe(1_000_000_000n - 2n * cost);
    });

    it('invalid fields the gateway reads are a 400 BadRequestError naming the field; nothing is charged or sent upstream', async () => {
      const { client } = sdk(shop, shopKey, { maxRetries: 0 });
      const upstreamBefore = fake.requests.length;
      const { spent } = await charged(shop, 'alice', async () => {
        const cases: Array<[Record<string, unknown>, string]> = [
          [{ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: -1 }, 'max_tokens'],
          [{ model: MODEL, messages: [{ role: 'user', content: 'hi' }], n: 0 }, 'n'],
          [{ model: MODEL, messages: 'hi' }, 'messages'],
          [{ model: MODEL, messages: [], stream: 'yes' }, 'stream'],
        ];
        for (const [body, param] of cases) {
          const error = await failure(client.chat.completions.create(body as never));
          expect(error).toBeInstanceOf(OpenAI.BadRequestError);
          expect(error).toMatchObject({ status: 400, param, type: 'invalid_request_error' });
        }
      }, false);
      expect(spent).toBe(0n);
      expect(fake.requests.length).toBe(upstreamBefore);
    });

    it('a body over the size limit is a 413 in OpenAI\'s shape', async () => {
      const { client } = sdk(shop, shopKey, { maxRetries: 0 });
      const error = await failure(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(70_000) }] }));
      expect(error.status).toBe(413);
      expect(error.error).toMatchObject({ message: expect.any(String), type: 'invalid_request_error' });
    });

    it('a disabled key is a 401; a model the key may not use is a 404 and is not listed', async () => {
      const other2 = await world.key(shop, 'alice', { allowedModels: [SICK_MODEL] });
      const { client } = sdk(shop, other2, { maxRetries: 0 });
      const ids: string[] = [];
      for await (const m of client.models.list()) ids.push(m.id);
      expect(ids).toEqual([SICK_MODEL]);
      const notAllowed = await failure(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }));
      expect(notAllowed).toBeInstanceOf(OpenAI.NotFoundError);
      expect(notAllowed).toMatchObject({ code: 'model_not_found' });
      expect(await failure(client.models.retrieve(MODEL))).toBeInstanceOf(OpenAI.NotFoundError);

      const doomed = await world.key(shop, 'alice');
      const d = sdk(shop, doomed, { maxRetries: 0 });
      await d.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
      await world.disableKey(shop, 'alice', doomed);
      await eventually(
        async () => (await d.client.models.list().then(() => null, (e: unknown) => e)) instanceof OpenAI.AuthenticationError,
        'the disabled key to be refused',
        5000,
      );
      const error = await failure(d.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }));
      expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(error).toMatchObject({ status: 401, code: 'invalid_api_key' });
    });

    it('over the key\'s requests-per-minute limit is a 429 RateLimitError with Retry-After and x-ratelimit-* headers', async () => {
      await world.credit(shop, 'limited', '1');
      const key = await world.key(shop, 'limited', { rpmLimit: 1 });
      const { client } = sdk(shop, key, { maxRetries: 0 });
      // Both calls must fall in one minute window.
      const intoMinute = Date.now() % 60_000;
      if (intoMinute > 55_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 200));
      await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
      const error = await failure(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }));
      expect(error).toBeInstanceOf(OpenAI.RateLimitError);
      expect(error).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
      const retryAfter = Number(error.headers?.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(error.headers?.get('x-ratelimit-limit-requests')).toBe('1');
      expect(error.headers?.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(error.headers?.get('x-ratelimit-reset-requests')).toBe(`${retryAfter}s`);
      // Exactly one request was charged.
      const events = (await world.events(shop)).filter((e) => e.customerId === shop.users.limited.id);
      expect(events).toHaveLength(1);

      // Tokens per minute: the worst case of a request (prompt estimate + max_tokens) counts.
      const tpmKey = await world.key(shop, 'limited', { tpmLimit: 100 });
      const tpm = sdk(shop, tpmKey, { maxRetries: 0 }).client;
      const big = await failure(tpm.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 200 }));
      expect(big).toBeInstanceOf(OpenAI.RateLimitError);
      expect(big.headers?.get('x-ratelimit-limit-tokens')).toBe('100');
      expect(big.headers?.get('x-ratelimit-remaining-tokens')).toBe('0');
      expect(big.headers?.get('retry-after')).toMatch(/^\d+$/);
      expect((await world.events(shop)).filter((e) => e.customerId === shop.users.limited.id)).toHaveLength(1);
    });

    it('no healthy channel is a 503 (no_available_channel); the failed calls cost nothing', async () => {
      const { client } = sdk(shop, shopKey, { maxRetries: 0 });
      const { spent, events } = await charged(shop, 'alice', async () => {
        // Two upstream failures open the channel's breaker (CHANNEL_BREAKER_FAILURES=2).
        sickFake.next({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
        for (let i = 0; i < 2; i++) {
          const error = await failure(client.chat.completions.create({ model: SICK_MODEL, messages: [{ role: 'user', content: 'hi' }] }));
          expect(error).toBeInstanceOf(OpenAI.InternalServerError);
          expect(JSON.stringify(error.error)).not.toContain('127.0.0.1');
        }
        const upstreamBefore = sickFake.requests.length;
        const error = await failure(client.chat.completions.create({ model: SICK_MODEL, messages: [{ role: 'user', content: 'hi' }] }));
        expect(error).toBeInstanceOf(OpenAI.InternalServerError);
        expect(error).toMatchObject({ status: 503, code: 'no_available_channel' });
        expect(sickFake.requests.length).toBe(upstreamBefore);
      });
      expect(spent).toBe(0n);
      // Each admitted request left an event of zero retail and an error status.
      expect(events.length).toBe(3);
      for (const e of events) {
        expect(e.retailUnits).toBe('0');
        expect(e.status).not.toBe('ok');
        expect(e.errorCode).toBeTruthy();
      }
      expect(await world.openHolds(shop)).toBe(0);
    });
  });

  describe('200 concurrent requests racing for one balance', () => {
    it.each([
      ['warm', true, false],
      ['cold (not yet loaded from the ledger)', false, false],
      ['warm, streamed', true, true],
    ])('wallet %s: never charges more than the balance; every refused request is a 402; charged = successes x cost', async (_label, warm, streamed) => {
      const racer = warm ? (streamed ? 'streamracer' : 'racer') : 'coldracer';
      const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'race' }], max_tokens: 16 };
      // The hold of the body as sent (a stream's carries "stream":true, a few bytes more).
      const sent = streamed ? { ...body, stream: true } : body;
      const hold = costUnits({ input: estimatePromptTokens(JSON.stringify(sent).length), output: 16 }, PLATFORM_PRICE);
      const cost = costUnits(USAGE, PLATFORM_PRICE);
      // Room for about 25 holds at once, far fewer than 200 full requests.
      const funds = hold * 25n;
      await world.credit(shop, racer, fromUnits(funds));
      if (warm) {
        await load(shop, racer);
        expect(await world.balance(shop, racer)).toBe(funds);
      } else {
        expect(await world.balance(shop, racer)).toBeNull();
      }
      const key = await world.key(shop, racer);
      const { client } = sdk(shop, key, { maxRetries: 0 });
      const eventsBefore = (await world.events(shop)).length;

      let lowest = funds;
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          const b = await world.balance(shop, racer);
          if (b !== null && b < lowest) lowest = b;
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      const results = await Promise.all(
        Array.from({ length: 200 }, () =>
          (streamed
            ? client.chat.completions.create({ ...body, stream: true }).then(async (stream) => {
                let text = '';
                for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
                if (text !== FAKE_TEXT) throw new Error(`incomplete stream: ${text}`);
              })
            : client.chat.completions.create(body)
          ).then(
            () => 200,
            (e: unknown) => (e instanceof OpenAI.APIError ? `${e.status}:${e.code}` : String(e)),
          ),
        ),
      );
      watching = false;
      await watcher;

      const ok = results.filter((r) => r === 200).length;
      const refused = results.filter((r) => r !== 200);
      expect(ok).toBeGreaterThanOrEqual(25);
      expect(refused.length).toBeGreaterThan(0);
      expect(new Set(refused)).toEqual(new Set(['402:insufficient_quota']));
      await eventually(async () => (await world.events(shop)).length === eventsBefore + ok, 'every success settled', 5000);
      const after = (await world.balance(shop, racer))!;
      expect(funds - after).toBe(BigInt(ok) * cost);
      expect(BigInt(ok) * cost).toBeLessThanOrEqual(funds);
      expect(after).toBeGreaterThanOrEqual(0n);
      expect(lowest).toBeGreaterThanOrEqual(0n);
      const mine = (await world.events(shop)).slice(eventsBefore);
      expect(mine.every((e) => e.customerId === shop.users[racer].id && e.status === 'ok' && e.retailUnits === cost.toString())).toBe(true);
      expect(new Set(mine.map((e) => e.requestId)).size).toBe(ok);
      expect(await world.openHolds(shop)).toBe(0);
    });
  });
});
