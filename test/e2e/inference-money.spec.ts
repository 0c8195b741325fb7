import Redis from 'ioredis';
import OpenAI from 'openai';
import { Client } from 'pg';
import { costUnits, TokenPrice } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { countTextTokens } from '../../src/modules/inference/token-estimate';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { ANTHROPIC_USAGE, startFakeAnthropic } from '../support/fakes/anthropic';
import { GEMINI_USAGE, startFakeGemini } from '../support/fakes/gemini';
import { FAKE_TEXT, FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';
import { GatewayClient, gatewayClient } from '../support/openai-client';
import { isolatedRedisUrl } from '../support/redis';

/**
 * Money under failures (issue 19): a request that fails before its first token costs nothing,
 * per-request price included; long answers are not cut by the failover deadline; a cut stream
 * keeps the prompt-cache buckets the upstream reported; an upstream that drops the connection
 * mid-answer is reported as an interruption.
 */
const PER_REQUEST: TokenPrice = { inputPerMillion: '3', outputPerMillion: '15', perRequest: '0.01' };
const PRICE: TokenPrice = { inputPerMillion: '3', outputPerMillion: '15', cacheReadPerMillion: '0.3', cacheWritePerMillion: '3.75' };
const PROMPT = 'Tell me a long story about a lighthouse keeper';
/** The failover deadline of this api: far shorter than the answers below take. */
const FAILOVER_DEADLINE_MS = 1000;

describe('inference money under failures (e2e, openai SDK)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let gemini: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let key: string;
  const clients: GatewayClient[] = [];
  const models = { perRequest: uniqueSlug('m-pr'), long: uniqueSlug('m-long'), claude: uniqueSlug('m-claude'), gemini: uniqueSlug('m-gemini'), cut: uniqueSlug('m-cut') };

  const sdk = () => {
    const c = gatewayClient(api.baseUrl, shop.domain, key, { maxRetries: 0 });
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
    openai = await startFakeOpenAI();
    anthropic = await startFakeAnthropic();
    gemini = await startFakeGemini();
    api = await startTestApi({
      REDIS_URL: redisUrl,
      CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true',
      CHANNEL_REFRESH_SECONDS: '3600',
      INFERENCE_FAILOVER_DEADLINE_MS: String(FAILOVER_DEADLINE_MS),
    });
    world = await new InferenceWorld(api, system, redis).init();
    shop = await world.reseller(['alice']);
    await world.price(world.platform, models.perRequest, PER_REQUEST);
    for (const m of [models.long, models.claude, models.gemini, models.cut]) await world.price(world.platform, m, PRICE);
    // Standard pool only: a spot request finds no channel (503 no_available_channel).
    await world.channel(fakeChannel(openai.url, models.perRequest, { retryBudget: 0 }));
    await world.channel(fakeChannel(openai.url, models.long, { retryBudget: 0, firstByteTimeoutMs: 10_000, totalTimeoutMs: 60_000 }));
    await world.channel(fakeChannel(openai.url, models.cut, { retryBudget: 0 }));
    await world.channel(
      fakeChannel(anthropic.url, models.claude, {
        provider: 'anthropic',
        baseUrl: anthropic.url,
        models: [{ public: models.claude, upstream: 'claude-fake' }],
        retryBudget: 0,
        costs: [{ model: 'claude-fake', inputPerMillion: '1', outputPerMillion: '5', cachedInputPerMillion: '0.1' }],
      }),
    );
    await world.channel(
      fakeChannel(gemini.url, models.gemini, { provider: 'gemini', baseUrl: gemini.url, models: [{ public: models.gemini, upstream: 'gemini-fake' }], retryBudget: 0, costs: [] }),
    );
    await world.credit(shop, 'alice', '100');
    key = await world.key(shop, 'alice');
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

  describe('a request that failed before its first token costs nothing, per-request price included', () => {
    it('a completed request does pay the per-request price (the price is in effect)', async () => {
      const before = await balance();
      const eventsBefore = (await world.events(shop)).length;
      await sdk().chat.completions.create({ model: models.perRequest, messages: [{ role: 'user', content: 'hi' }] });
      const event = await eventOf(eventsBefore + 1);
      const retail = costUnits({ input: event.inputTokens, output: event.outputTokens, cacheRead: event.cacheReadTokens }, PER_REQUEST);
      expect(retail).toBeGreaterThan(costUnits({ input: event.inputTokens, output: event.outputTokens, cacheRead: event.cacheReadTokens }, { ...PER_REQUEST, perRequest: '0' }));
      expect(event).toMatchObject({ status: 'ok', retailUnits: retail.toString(), wholesaleUnits: retail.toString() });
      expect(before - (await balance())).toBe(retail);
    });

    const failures: Array<{ name: string; stream: boolean; spot?: boolean; upstreamStatus?: number; status: number; errorCode: string }> = [
      { name: '502 upstream_error', stream: false, upstreamStatus: 500, status: 502, errorCode: 'upstream_error' },
      { name: '502 upstream_error, streamed', stream: true, upstreamStatus: 503, status: 502, errorCode: 'upstream_error' },
      { name: '503 no_available_channel', stream: false, spot: true, status: 503, errorCode: 'no_available_channel' },
      { name: '503 no_available_channel, streamed', stream: true, spot: true, status: 503, errorCode: 'no_available_channel' },
    ];
    it.each(failures)('$name: retail, wholesale and upstream 0, balance unchanged, the failure recorded', async (c) => {
      const before = await balance();
      const eventsBefore = (await world.events(shop)).length;
      if (c.upstreamStatus) openai.next({ kind: 'status', status: c.upstreamStatus });
      const error = await sdk()
        .chat.completions.create({ model: models.perRequest, messages: [{ role: 'user', content: PROMPT }], stream: c.stream }, c.spot ? { headers: { 'X-Priority': 'spot' } } : {})
        .then(async (r) => {
          if (c.stream) for await (const _ of r as AsyncIterable<unknown>) void _;
          return null;
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(c.status);
      expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe(c.errorCode);
      const event = await eventOf(eventsBefore + 1);
      expect(event).toMatchObject({ retailUnits: '0', wholesaleUnits: '0', upstreamUnits: '0', inputTokens: 0, outputTokens: 0, errorCode: c.errorCode, stream: c.stream });
      expect(event.status).not.toBe('ok');
      expect(await balance()).toBe(before);
      expect(await world.openHolds(shop)).toBe(0);
    });
  });

  describe('the failover deadline bounds when an attempt may start, not how long an answer may take', () => {
    it('a stream that lasts longer than the deadline is delivered whole and charged once', async () => {
      const text = Array.from({ length: 12 }, (_, i) => `word${i}`).join(' ');
      const eventsBefore = (await world.events(shop)).length;
      const started = Date.now();
      openai.next({ kind: 'ok', text, chunkDelayMs: 200 });
      const stream = await sdk().chat.completions.create({ model: models.long, messages: [{ role: 'user', content: PROMPT }], stream: true });
      let received = '';
      let finish: string | null = null;
      for await (const chunk of stream) {
        received += chunk.choices[0]?.delta?.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      expect(Date.now() - started).toBeGreaterThan(FAILOVER_DEADLINE_MS);
      expect(received).toBe(text);
      expect(finish).toBe('stop');
      expect(await eventOf(eventsBefore + 1)).toMatchObject({ status: 'ok', model: models.long });
    });

    it('a non-streamed answer that arrives after the deadline is delivered, not 504', async () => {
      const eventsBefore = (await world.events(shop)).length;
      const started = Date.now();
      openai.next({ kind: 'ok', delayMs: FAILOVER_DEADLINE_MS + 800 });
      const answer = await sdk().chat.completions.create({ model: models.long, messages: [{ role: 'user', content: PROMPT }] });
      expect(Date.now() - started).toBeGreaterThan(FAILOVER_DEADLINE_MS);
      expect(answer.choices[0].message.content).toBe(FAKE_TEXT);
      expect(await eventOf(eventsBefore + 1)).toMatchObject({ status: 'ok', model: models.long });
    });
  });

  it('a stream cut before usage keeps the prompt-cache buckets Anthropic reported in message_start', async () => {
    const before = await balance();
    const eventsBefore = (await world.events(shop)).length;
    anthropic.next({ kind: 'ok', chunkDelayMs: 200 });
    const abort = new AbortController();
    const stream = await sdk().chat.completions.create({ model: models.claude, messages: [{ role: 'user', content: PROMPT }], stream: true }, { signal: abort.signal });
    let received = '';
    for await (const chunk of stream) {
      received += chunk.choices[0]?.delta?.content ?? '';
      if (received) abort.abort();
    }
    const event = await eventOf(eventsBefore + 1);
    expect(event).toMatchObject({
      status: 'client_cancelled',
      inputTokens: ANTHROPIC_USAGE.input_tokens,
      cacheReadTokens: ANTHROPIC_USAGE.cache_read_input_tokens,
      cacheWriteTokens: ANTHROPIC_USAGE.cache_creation_input_tokens,
    });
    expect(event.outputTokens).toBeGreaterThanOrEqual(countTextTokens(received));
    expect(event.outputTokens).toBeLessThan(ANTHROPIC_USAGE.output_tokens);
    const retail = costUnits({ input: event.inputTokens, output: event.outputTokens, cacheRead: event.cacheReadTokens, cacheWrite: event.cacheWriteTokens }, PRICE);
    expect(event.retailUnits).toBe(retail.toString());
    expect(before - (await balance())).toBe(retail);
  });

  it("a cut Gemini stream takes the prompt from the usageMetadata of the chunks already received, not the gateway's count", async () => {
    expect(countTextTokens(PROMPT)).not.toBe(GEMINI_USAGE.promptTokenCount);
    const eventsBefore = (await world.events(shop)).length;
    gemini.next({ kind: 'ok', chunkDelayMs: 200 });
    const abort = new AbortController();
    const stream = await sdk().chat.completions.create({ model: models.gemini, messages: [{ role: 'user', content: PROMPT }], stream: true }, { signal: abort.signal });
    let received = '';
    for await (const chunk of stream) {
      received += chunk.choices[0]?.delta?.content ?? '';
      if (received) abort.abort();
    }
    const event = await eventOf(eventsBefore + 1);
    expect(event).toMatchObject({ status: 'client_cancelled', inputTokens: GEMINI_USAGE.promptTokenCount, cacheReadTokens: 0 });
    expect(event.outputTokens).toBeGreaterThanOrEqual(countTextTokens(received));
  });

  it('an upstream that drops the connection mid-stream is reported as an interruption, not as unreachable', async () => {
    const eventsBefore = (await world.events(shop)).length;
    openai.next({ kind: 'truncated' });
    const stream = await sdk().chat.completions.create({ model: models.cut, messages: [{ role: 'user', content: PROMPT }], stream: true });
    let received = '';
    const error = await (async () => {
      for await (const chunk of stream) received += chunk.choices[0]?.delta?.content ?? '';
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect(received.length).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    const body = (error as InstanceType<typeof OpenAI.APIError>).error as { code: string; message: string };
    expect(body).toMatchObject({ code: 'upstream_interrupted', type: 'api_error' });
    expect(body.message).toMatch(/interrupted/);
    expect(body.message).not.toMatch(/could not be reached/);
    expect(await eventOf(eventsBefore + 1)).toMatchObject({ status: 'upstream_error', errorCode: 'upstream_interrupted' });
  });
});
