import Redis from 'ioredis';
import OpenAI from 'openai';
import { Client } from 'pg';
import { costUnits, TokenPrice } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { countTextTokens } from '../../src/modules/inference/token-estimate';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FAKE_TEXT, FakeUpstream, startFakeOpenAI, startFakeServer } from '../support/fakes/openai';
import { TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';
import { GatewayClient, gatewayClient } from '../support/openai-client';
import { isolatedRedisUrl } from '../support/redis';

/**
 * Streams that do not end well, with the `openai` SDK: cut by the client (charged for what was
 * delivered, upstream aborted), an upstream failing before its first byte (failover to the next
 * channel; or, with nowhere to go, no charge at all), and an upstream dying mid-stream (an error
 * event ends the stream; charged only for what was delivered).
 */
const PRICE: TokenPrice = { inputPerMillion: '3', outputPerMillion: '15', cacheReadPerMillion: '0.3' };
const FULL_USAGE = { input: 7, output: 7, cacheRead: 2 }; // what the fake reports for a complete answer
const PROMPT = 'Tell me a long story about a lighthouse keeper';
const LONG_TEXT = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');

describe('inference streams: cuts, failover, failures (e2e, openai SDK)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let primary: FakeUpstream;
  let secondary: FakeUpstream;
  let noUsage: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let key: string;
  const clients: GatewayClient[] = [];
  const models = { cut: uniqueSlug('str-cut'), failover: uniqueSlug('str-fo'), truncated: uniqueSlug('str-trunc'), dead: uniqueSlug('str-dead'), slow: uniqueSlug('str-slow'), total: uniqueSlug('str-total'), tools: uniqueSlug('str-tools') };
  const channelIds: Record<string, string> = {};

  const sdk = (options: { maxRetries?: number } = {}) => {
    const c = gatewayClient(api.baseUrl, shop.domain, key, options);
    clients.push(c);
    return c.client;
  };
  const balance = async () => (await world.balance(shop, 'alice'))!;
  const eventOf = async (count: number) => {
    await eventually(async () => (await world.events(shop)).length >= count, `${count} usage events`, 10_000);
    return (await world.events(shop))[count - 1];
  };

  beforeAll(async () => {
    system = await connectAs('system');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    primary = await startFakeOpenAI();
    secondary = await startFakeOpenAI();
    // An OpenAI-compatible upstream that reports no usage (as vLLM without stream_options) and
    // answers with a tool call; its streams die after the first argument fragments.
    noUsage = await startFakeServer({
      keyOf: () => undefined,
      errorBody: (_status, message) => ({ error: { message, type: 'server_error', param: null, code: null } }),
      handle: async (ctx) => {
        const base = { id: 'chatcmpl-tools', created: 1, model: 'fake-model' };
        if (!ctx.body?.stream) {
          return ctx.json(200, { ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] }, finish_reason: 'tool_calls' }] });
        }
        const chunk = (delta: unknown) => ({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: null }] });
        ctx.startSse();
        ctx.sse(chunk({ role: 'assistant', content: null }));
        ctx.sse(chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }));
        ctx.sse(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }));
        ctx.sse(chunk({ tool_calls: [{ index: 0, function: { arguments: ' "Paris"' } }] }));
        await ctx.sleep(50);
        ctx.res.destroy();
      },
    });
    api = await startTestApi({ REDIS_URL: redisUrl, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600' });
    world = await new InferenceWorld(api, system, redis).init();
    shop = await world.reseller(['alice']);
    for (const m of Object.values(models)) await world.price(world.platform, m, PRICE);
    await world.channel(fakeChannel(primary.url, models.cut));
    // Failover and truncation: the primary first (higher priority), the secondary behind it.
    for (const m of [models.failover, models.truncated]) {
      channelIds[`${m}:primary`] = await world.channel(fakeChannel(primary.url, m, { priority: 9 }));
      channelIds[`${m}:secondary`] = await world.channel(fakeChannel(secondary.url, m, { priority: 1 }));
    }
    await world.channel(fakeChannel(primary.url, models.dead, { retryBudget: 0 }));
    await world.channel(fakeChannel(primary.url, models.slow, { retryBudget: 0, firstByteTimeoutMs: 300 }));
    // A stream that outlives its channel's total timeout.
    channelIds[models.total] = await world.channel(fakeChannel(primary.url, models.total, { retryBudget: 0, firstByteTimeoutMs: 500, totalTimeoutMs: 1000 }));
    await world.channel(fakeChannel(noUsage.url, models.tools, { retryBudget: 0 }));
    await world.credit(shop, 'alice', '100');
    key = await world.key(shop, 'alice');
    await api.app.get(BalanceService).ensureLoaded(shop.id, shop.users.alice.id);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await api?.close();
    await primary?.close();
    await secondary?.close();
    await noUsage?.close();
    redis?.disconnect();
    await system?.end();
  });

  it('a stream cut by the client is charged for what was delivered, less than the full answer, and the upstream request is aborted', async () => {
    const before = await balance();
    const eventsBefore = (await world.events(shop)).length;
    primary.next({ kind: 'ok', text: LONG_TEXT, chunkDelayMs: 100 });
    const upstreamIndex = primary.requests.length;
    const abort = new AbortController();
    const stream = await sdk().chat.completions.create({ model: models.cut, messages: [{ role: 'user', content: PROMPT }], stream: true }, { signal: abort.signal });
    let received = '';
    let contentChunks = 0;
    const iterated = (async () => {
      for await (const chunk of stream) {
        const piece = chunk.choices[0]?.delta?.content ?? '';
        received += piece;
        if (piece && ++contentChunks === 3) abort.abort();
      }
    })();
    // The SDK ends the iteration quietly when its own signal aborts it.
    await iterated;
    expect(contentChunks).toBe(3);

    const event = await eventOf(eventsBefore + 1);
    expect(event).toMatchObject({ status: 'client_cancelled', stream: true, model: models.cut });
    // The upstream saw its request closed before the answer was complete.
    await eventually(() => primary.requests[upstreamIndex].aborted === true, 'the upstream request to be aborted', 3000);
    // Counted by the gateway: the prompt, and the text that reached the client (a chunk or two
    // may have been on the wire when the client left), never the whole answer.
    expect(event.inputTokens).toBe(countTextTokens(PROMPT));
    expect(event.outputTokens).toBeGreaterThanOrEqual(countTextTokens(received));
    expect(event.outputTokens).toBeLessThan(countTextTokens(LONG_TEXT) / 2);
    const retail = costUnits({ input: event.inputTokens, output: event.outputTokens }, PRICE);
    expect(event.retailUnits).toBe(retail.toString());
    expect(before - (await balance())).toBe(retail);
    expect(retail).toBeLessThan(costUnits({ input: countTextTokens(PROMPT), output: countTextTokens(LONG_TEXT) }, PRICE));
    expect(await world.openHolds(shop)).toBe(0);
  });

  it('a failure before the first byte fails over to the next channel; the customer sees one clean answer', async () => {
    for (const stream of [true, false]) {
      const before = await balance();
      const eventsBefore = (await world.events(shop)).length;
      const [p, s] = [primary.requests.length, secondary.requests.length];
      primary.next({ kind: 'status', status: 500 });
      let text = '';
      if (stream) {
        const out = await sdk({ maxRetries: 0 }).chat.completions.create({ model: models.failover, messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
        for await (const chunk of out) text += chunk.choices[0]?.delta?.content ?? '';
      } else {
        text = (await sdk({ maxRetries: 0 }).chat.completions.create({ model: models.failover, messages: [{ role: 'user', content: 'hi' }] })).choices[0].message.content!;
      }
      expect(text).toBe(FAKE_TEXT);
      expect(primary.requests.length - p).toBe(1);
      expect(secondary.requests.length - s).toBe(1);
      const event = await eventOf(eventsBefore + 1);
      expect(event).toMatchObject({ status: 'ok', channelId: channelIds[`${models.failover}:secondary`], stream });
      expect(before - (await balance())).toBe(costUnits(FULL_USAGE, PRICE));
      expect((await world.events(shop)).length).toBe(eventsBefore + 1);
    }
  });

  it('a failure after the first byte ends the stream with an error event, does not fail over, and charges only what was delivered', async () => {
    const before = await balance();
    const eventsBefore = (await world.events(shop)).length;
    const [p, s] = [primary.requests.length, secondary.requests.length];
    primary.next({ kind: 'truncated' });
    const stream = await sdk({ maxRetries: 0 }).chat.completions.create({ model: models.truncated, messages: [{ role: 'user', content: PROMPT }], stream: true });
    let received = '';
    const error = await (async () => {
      for await (const chunk of stream) received += chunk.choices[0]?.delta?.content ?? '';
    })().then(
      () => null,
      (e: unknown) => e,
    );
    // The SDK raises the gateway's error event as an APIError (no status: the stream had begun).
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBeUndefined();
    expect((error as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ type: expect.any(String), message: expect.any(String) });
    expect(JSON.stringify((error as InstanceType<typeof OpenAI.APIError>).error)).not.toContain('127.0.0.1');
    expect(received).toBe(FAKE_TEXT.split(' ')[0] + ' ');
    expect(primary.requests.length - p).toBe(1);
    expect(secondary.requests.length - s).toBe(0);

    const event = await eventOf(eventsBefore + 1);
    expect(event).toMatchObject({ status: 'upstream_error', stream: true, channelId: channelIds[`${models.truncated}:primary`] });
    expect(event.errorCode).toBeTruthy();
    expect(event.inputTokens).toBe(countTextTokens(PROMPT));
    expect(event.outputTokens).toBe(countTextTokens(received));
    const retail = costUnits({ input: event.inputTokens, output: event.outputTokens }, PRICE);
    expect(event.retailUnits).toBe(retail.toString());
    expect(before - (await balance())).toBe(retail);
    expect(retail).toBeLessThan(costUnits({ input: countTextTokens(PROMPT), output: countTextTokens(FAKE_TEXT) }, PRICE));
  });

  it('a request that failed before the first token is not charged: balance unchanged, event of retail 0 with an error status', async () => {
    // An upstream error (no other channel), then a first-byte timeout, streamed and not.
    const cases: Array<{ model: string; behaviour: Parameters<FakeUpstream['next']>[0]; stream: boolean; status: string }> = [
      { model: models.dead, behaviour: { kind: 'status', status: 500 }, stream: false, status: 'upstream_error' },
      { model: models.dead, behaviour: { kind: 'status', status: 502 }, stream: true, status: 'upstream_error' },
      { model: models.slow, behaviour: { kind: 'stall-before', ms: 1500 }, stream: true, status: 'timeout' },
    ];
    for (const c of cases) {
      const before = await balance();
      const eventsBefore = (await world.events(shop)).length;
      primary.next(c.behaviour);
      const error = await sdk({ maxRetries: 0 })
        .chat.completions.create({ model: c.model, messages: [{ role: 'user', content: PROMPT }], stream: c.stream })
        .then(async (r) => {
          if (c.stream) for await (const _ of r as AsyncIterable<unknown>) void _;
          return null;
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBeGreaterThanOrEqual(500);
      const event = await eventOf(eventsBefore + 1);
      expect(event).toMatchObject({ retailUnits: '0', wholesaleUnits: '0', status: c.status, inputTokens: 0, outputTokens: 0, ttftMs: null });
      expect(event.errorCode).toBeTruthy();
      expect(await balance()).toBe(before);
      expect(await world.openHolds(shop)).toBe(0);
    }
  });

  describe('a stream cut by the upstream\'s timeout', () => {
    async function timedOut(behaviour: Parameters<FakeUpstream['next']>[0]) {
      const before = await balance();
      const eventsBefore = (await world.events(shop)).length;
      primary.next(behaviour);
      const stream = await sdk({ maxRetries: 0 }).chat.completions.create({ model: models.total, messages: [{ role: 'user', content: PROMPT }], stream: true });
      let received = '';
      const error = await (async () => {
        for await (const chunk of stream) received += chunk.choices[0]?.delta?.content ?? '';
      })().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(OpenAI.APIError);
      const event = await eventOf(eventsBefore + 1);
      expect(event).toMatchObject({ status: 'timeout', stream: true, channelId: channelIds[models.total] });
      return { received, event, spent: before - (await balance()) };
    }

    it('after some text: ends with an error event and charges the prompt and the text delivered', async () => {
      const { received, event, spent } = await timedOut({ kind: 'ok', text: LONG_TEXT, chunkDelayMs: 150 });
      expect(received.length).toBeGreaterThan(0);
      expect(received.length).toBeLessThan(LONG_TEXT.length);
      expect(event.inputTokens).toBe(countTextTokens(PROMPT));
      expect(event.outputTokens).toBe(countTextTokens(received));
      expect(spent).toBe(costUnits({ input: event.inputTokens, output: event.outputTokens }, PRICE));
      expect(event.retailUnits).toBe(spent.toString());
    });

    it('before the first token (only the empty role chunk came): nothing is charged', async () => {
      const { received, event, spent } = await timedOut({ kind: 'stall-after', ms: 3000 });
      expect(received).toBe('');
      expect(event).toMatchObject({ retailUnits: '0', outputTokens: 0 });
      expect(spent).toBe(0n);
    });
  });

  describe('an upstream without usage: the gateway counts the tokens, tool calls included', () => {
    const messages = [{ role: 'user' as const, content: PROMPT }];
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

    it('a tool-call answer is charged for its prompt and its tool call', async () => {
      const before = await balance();
      const eventsBefore = (await world.events(shop)).length;
      const answer = await sdk().chat.completions.create({ model: models.tools, messages, tools });
      expect(answer.choices[0].message.tool_calls?.[0]).toMatchObject({ function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
      const event = await eventOf(eventsBefore + 1);
      expect(event).toMatchObject({ status: 'ok', inputTokens: countTextTokens(PROMPT), outputTokens: countTextTokens('get_weather{"city":"Paris"}') });
      expect(event.outputTokens).toBeGreaterThan(0);
      expect(before - (await balance())).toBe(costUnits({ input: event.inputTokens, output: event.outputTokens }, PRICE));
    });

    it('a tool-call stream cut by the upstream is charged for the tool-call fragments delivered', async () => {
      const before = await balance();
      const eventsBefore = (await world.events(shop)).length;
      const stream = await sdk({ maxRetries: 0 }).chat.completions.create({ model: models.tools, messages, tools, stream: true });
      let args = '';
      const error = await (async () => {
        for await (const chunk of stream) args += chunk.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '';
      })().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect(args).toBe('{"city": "Paris"');
      const event = await eventOf(eventsBefore + 1);
      expect(event).toMatchObject({ status: 'upstream_error', inputTokens: countTextTokens(PROMPT), outputTokens: countTextTokens(`get_weather${args}`) });
      expect(event.outputTokens).toBeGreaterThan(0);
      expect(before - (await balance())).toBe(costUnits({ input: event.inputTokens, output: event.outputTokens }, PRICE));
    });
  });
});
