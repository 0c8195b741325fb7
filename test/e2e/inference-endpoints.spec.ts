import Redis from 'ioredis';
import { Client } from 'pg';
import { costUnits, TokenPrice } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FAKE_RERANK_TOKENS_PER_DOCUMENT, FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { startFakeAnthropic } from '../support/fakes/anthropic';
import { call } from '../support/http';
import { TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';
import { GatewayClient, gatewayClient } from '../support/openai-client';
import { isolatedRedisUrl } from '../support/redis';

/**
 * Endpoints beyond text (issue 24): /v1/moderations, priced per request; /v1/rerank (the
 * Cohere/Jina shape), priced per search unit (a query over up to 100 documents) plus its tokens
 * where the upstream counts them; /v1/images/generations, priced per image. Each holds its estimate before the upstream is called and
 * settles exactly, like chat.
 */
const PRICE: TokenPrice = { inputPerMillion: '1', outputPerMillion: '1', perRequest: '0.002' };

describe('moderations, rerank and images (e2e)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let key: string;
  let brokeKey: string;
  let client: GatewayClient;
  const models = { moderation: uniqueSlug('m-mod'), rerank: uniqueSlug('m-rerank'), image: uniqueSlug('m-image'), claude: uniqueSlug('m-claude'), dalle: uniqueSlug('m-dalle') };
  /** Per image by size and quality; sizes not listed cost perRequest. */
  const IMAGE_PRICE = { inputPerMillion: '0', outputPerMillion: '0', perRequest: '0.04', unit: 'image', imagePrices: { '1024x1024/hd': '0.08', '1792x1024': '0.12' } };

  const balance = async () => (await world.balance(shop, 'alice'))!;
  const rerank = (json: unknown, secret = key) => call(api.baseUrl, 'POST', '/v1/rerank', { host: shop.domain, token: secret, json });
  const nextEvent = async (count: number) => {
    await eventually(async () => (await world.events(shop)).length > count, 'usage event');
    return (await world.events(shop))[count];
  };

  beforeAll(async () => {
    system = await connectAs('system');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    openai = await startFakeOpenAI();
    anthropic = await startFakeAnthropic();
    api = await startTestApi({ REDIS_URL: redisUrl, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600' });
    world = await new InferenceWorld(api, system, redis).init();
    shop = await world.reseller(['alice', 'bob', 'carol']);
    for (const m of Object.values(models)) if (m !== models.dalle) await world.price(world.platform, m, PRICE);
    await world.price(world.platform, models.dalle, IMAGE_PRICE as never);
    await world.channel(fakeChannel(openai.url, models.dalle, { retryBudget: 0, costs: [] }));
    await world.channel(fakeChannel(openai.url, models.moderation, { retryBudget: 0, costs: [] }));
    await world.channel(fakeChannel(openai.url, models.rerank, { retryBudget: 0, costs: [] }));
    await world.channel(fakeChannel(openai.url, models.image, { retryBudget: 0, costs: [] }));
    await world.channel(fakeChannel(anthropic.url, models.claude, { provider: 'anthropic', baseUrl: anthropic.url, retryBudget: 0, costs: [] }));
    await world.credit(shop, 'alice', '10');
    await world.credit(shop, 'carol', '0.15');
    key = await world.key(shop, 'alice');
    brokeKey = await world.key(shop, 'bob');
    await api.app.get(BalanceService).ensureLoaded(shop.id, shop.users.alice.id);
    client = gatewayClient(api.baseUrl, shop.domain, key, { maxRetries: 0 });
  });

  afterAll(async () => {
    await client?.close();
    await api?.close();
    await openai?.close();
    await anthropic?.close();
    redis?.disconnect();
    await system?.end();
  });

  it('a moderation is answered through the openai SDK and billed one request at the per-request price', async () => {
    const events = (await world.events(shop)).length;
    const before = await balance();
    const result = await client.client.moderations.create({ model: models.moderation, input: ['a friendly note', 'I will kill the process'] });
    expect(result.results.map((r) => r.flagged)).toEqual([false, true]);
    expect(result.model).toBe(models.moderation);
    expect(openai.requests.at(-1)).toMatchObject({ path: '/v1/moderations', body: { model: 'fake-model', input: ['a friendly note', 'I will kill the process'] } });
    const event = await nextEvent(events);
    expect(event).toMatchObject({ status: 'ok', model: models.moderation, inputTokens: 0, outputTokens: 0, unit: 'request', quantity: 1 });
    expect(event.retailUnits).toBe('2000000'); // 0.002 in nano-units
    expect(before - (await balance())).toBe(2_000_000n);
  });

  it('a rerank is billed per search unit (150 documents: 2) plus the tokens the upstream counted', async () => {
    const events = (await world.events(shop)).length;
    const before = await balance();
    const documents = Array.from({ length: 150 }, (_, i) => `document ${i}`);
    const res = await rerank({ model: models.rerank, query: 'which document?', documents, top_n: 3 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model: models.rerank, results: [{ index: 0 }, { index: 1 }, { index: 2 }] });
    expect(openai.requests.at(-1)).toMatchObject({ path: '/v1/rerank', body: { model: 'fake-model', query: 'which document?', top_n: 3 } });
    const tokens = FAKE_RERANK_TOKENS_PER_DOCUMENT * 150;
    const expected = costUnits({ input: tokens, output: 0, requests: 2 }, PRICE);
    expect(expected).toBe(5_500_000n); // 2 x 0.002 + 1500 tokens x 1 per million = 0.0055
    const event = await nextEvent(events);
    expect(event).toMatchObject({ status: 'ok', model: models.rerank, inputTokens: tokens, outputTokens: 0, stream: false, unit: 'search_unit', quantity: 2 });
    expect(event.retailUnits).toBe(expected.toString());
    expect(before - (await balance())).toBe(expected);
  });

  it('images are generated through the openai SDK and billed per image (n = 3: three times the per-image price)', async () => {
    const events = (await world.events(shop)).length;
    const before = await balance();
    const images = await client.client.images.generate({ model: models.image, prompt: 'a lighthouse', n: 3, size: '1024x1024', response_format: 'b64_json' });
    expect(images.data).toHaveLength(3);
    expect(images.data?.[0].b64_json).toBeTruthy();
    expect(openai.requests.at(-1)).toMatchObject({ path: '/v1/images/generations', body: { model: 'fake-model', prompt: 'a lighthouse', n: 3, size: '1024x1024' } });
    const event = await nextEvent(events);
    expect(event).toMatchObject({ status: 'ok', model: models.image, inputTokens: 0, outputTokens: 0 });
    expect(event.retailUnits).toBe('6000000');
    expect(before - (await balance())).toBe(6_000_000n);
    const tooMany = await call(api.baseUrl, 'POST', '/v1/images/generations', { host: shop.domain, token: key, json: { model: models.image, prompt: 'x', n: 11 } });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.param).toBe('n');
  });

  it('images are priced per image by size and quality from the price table, and held at n times that price', async () => {
    const events = (await world.events(shop)).length;
    const before = await balance();
    await client.client.images.generate({ model: models.dalle, prompt: 'a lighthouse', n: 2, size: '1024x1024', quality: 'hd' });
    await client.client.images.generate({ model: models.dalle, prompt: 'a lighthouse', size: '1792x1024', quality: 'standard' });
    await client.client.images.generate({ model: models.dalle, prompt: 'a lighthouse', size: '512x512' });
    await eventually(async () => (await world.events(shop)).length >= events + 3, 'three events');
    const billed = (await world.events(shop)).slice(events);
    // 2 x 0.08 (1024x1024/hd); 0.12 (1792x1024, any quality); 0.04 (512x512: not listed, perRequest).
    expect(billed.map((e) => [e.unit, e.quantity, e.retailUnits])).toEqual([
      ['image', 2, '160000000'],
      ['image', 1, '120000000'],
      ['image', 1, '40000000'],
    ]);
    expect(before - (await balance())).toBe(320_000_000n);

    // carol has 0.15: two hd images (0.16) are refused before the upstream is called, one 1792x1024 (0.12) is not.
    const carol = await world.key(shop, 'carol');
    await api.app.get(BalanceService).ensureLoaded(shop.id, shop.users.carol.id);
    const calls = openai.requests.length;
    const image = (json: unknown) => call(api.baseUrl, 'POST', '/v1/images/generations', { host: shop.domain, token: carol, json });
    const refused = await image({ model: models.dalle, prompt: 'x', n: 2, size: '1024x1024', quality: 'hd' });
    expect(refused.status).toBe(402);
    expect(openai.requests.length).toBe(calls);
    expect((await image({ model: models.dalle, prompt: 'x', size: '1792x1024' })).status).toBe(200);
    expect(await world.balance(shop, 'carol')).toBe(30_000_000n);
  });

  it('prices say their unit: the price list shows it with the image table; a reseller keeps the platform unit and may not sell an image size below wholesale', async () => {
    const list = await call(api.baseUrl, 'GET', '/api/v1/pricing', world.as(shop, 'owner'));
    expect(list.status).toBe(200);
    const item = (model: string) => list.body.items.find((i: { model: string }) => i.model === model);
    expect(item(models.dalle).price).toMatchObject({ unit: 'image', perRequest: '0.04', imagePrices: { '1024x1024/hd': '0.08', '1792x1024': '0.12' } });
    expect(item(models.rerank).price.unit).toBe('token');
    const set = (json: unknown) => call(api.baseUrl, 'PUT', `/api/v1/pricing/${encodeURIComponent(models.dalle)}`, { ...world.as(shop, 'owner'), json });
    const otherUnit = await set({ ...IMAGE_PRICE, unit: 'token' });
    expect(otherUnit.status).toBe(400);
    expect(otherUnit.body.errors[0].field).toBe('unit');
    const below = await set({ ...IMAGE_PRICE, imagePrices: { '1024x1024/hd': '0.07' } });
    expect(below.status).toBe(422);
    expect(below.body.errors.map((e: { field: string }) => e.field)).toContain('imagePrices.1024x1024/hd');
    const badTable = await set({ ...IMAGE_PRICE, imagePrices: { '1024x1024/hd': 0.1 } });
    expect(badTable.status).toBe(400);
    const ok = await set({ ...IMAGE_PRICE, perRequest: '0.05', imagePrices: { '1024x1024/hd': '0.09', '1792x1024': '0.12' } });
    expect(ok.status).toBe(200);
    expect(ok.body.price).toMatchObject({ unit: 'image', perRequest: '0.05', imagePrices: { '1024x1024/hd': '0.09' } });
  });

  it('rerank and moderation requests missing their fields are refused (400, OpenAI error shape) and cost nothing', async () => {
    const before = await balance();
    for (const body of [
      { model: models.rerank, documents: ['a'] },
      { model: models.rerank, query: 'q', documents: [] },
      { model: models.rerank, query: 'q', documents: 'not a list' },
      { model: models.rerank, query: 'q', documents: ['a'], top_n: 0 },
    ]) {
      const res = await rerank(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error' });
    }
    const moderation = await call(api.baseUrl, 'POST', '/v1/moderations', { host: shop.domain, token: key, json: { model: models.moderation } });
    expect(moderation.status).toBe(400);
    expect(moderation.body.error.param).toBe('input');
    expect(await balance()).toBe(before);
  });

  it('a customer whose balance cannot cover the hold is refused with 402 before the upstream is called', async () => {
    const calls = openai.requests.length;
    const res = await rerank({ model: models.rerank, query: 'q', documents: ['a', 'b'] }, brokeKey);
    expect(res.status).toBe(402);
    expect(openai.requests.length).toBe(calls);
  });

  it('a model whose channels cannot rerank (Anthropic) is refused with 400 unsupported_endpoint', async () => {
    const res = await rerank({ model: models.claude, query: 'q', documents: ['a'] });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('unsupported_endpoint');
  });
});
