import Redis from 'ioredis';
import { Client } from 'pg';
import { costUnits, TokenPrice, TokenUsage } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { ANTHROPIC_USAGE } from '../support/fakes/anthropic';
import { startFakeAzure } from '../support/fakes/azure';
import { CONVERSE_USAGE, FakeBedrock, startFakeBedrock } from '../support/fakes/bedrock';
import { GEMINI_USAGE } from '../support/fakes/gemini';
import { FAKE_USAGE, FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { FakeVertex, generateServiceAccount, ServiceAccount, startFakeVertex } from '../support/fakes/vertex';
import { call } from '../support/http';
import { signIn, TestTenant, Tokens } from '../support/identity';
import { eventually, InferenceWorld } from '../support/inference';
import { GatewayClient, gatewayClient } from '../support/openai-client';
import { expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';

/**
 * Channels to Azure OpenAI, AWS Bedrock and Google Vertex AI through the real gateway (issue 24):
 * created with their provider settings through the admin API, called with the official `openai`
 * SDK, each answer billed exactly by the usage the upstream reported; settings and keys in the
 * wrong form are refused when the channel is created.
 */
const PRICE: TokenPrice = { inputPerMillion: '3', outputPerMillion: '15', cacheReadPerMillion: '0.3', cacheWritePerMillion: '3.75' };
const REGION = 'eu-west-1';
const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const PROJECT = 'gateway-test';
const LOCATION = 'europe-west4';

describe('cloud channels: Azure, Bedrock, Vertex (e2e, openai SDK)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let azure: FakeUpstream;
  let bedrock: FakeBedrock;
  let vertex: FakeVertex;
  let account: ServiceAccount;
  let world: InferenceWorld;
  let shop: TestTenant;
  let owner: Tokens;
  let client: GatewayClient;
  const models = { azure: uniqueSlug('m-azure'), claude: uniqueSlug('m-bclaude'), nova: uniqueSlug('m-nova'), gemini: uniqueSlug('m-vgemini'), vclaude: uniqueSlug('m-vclaude') };
  const accounts: ServiceAccount[] = [];

  const admin = (method: string, path: string, json?: unknown) => call(api.baseUrl, method, path, { host: world.platform.domain, token: owner.accessToken, json });
  const balance = async () => (await world.balance(shop, 'alice'))!;

  beforeAll(async () => {
    system = await connectAs('system');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    azure = await startFakeAzure({ keys: ['azure-key-0123456789abcdef'], deployments: ['prod-gpt4o'], apiVersions: ['2024-10-21'] });
    bedrock = await startFakeBedrock({ region: REGION, credentials: { [KEY_ID]: SECRET } });
    vertex = await startFakeVertex({ project: PROJECT, location: LOCATION, accounts: () => accounts });
    account = generateServiceAccount(`${vertex.url}/token`);
    accounts.push(account);
    api = await startTestApi({ REDIS_URL: redisUrl, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600' });
    world = await new InferenceWorld(api, system, redis).init();
    owner = await signIn(api.baseUrl, world.platform, 'owner');
    shop = await world.reseller(['alice']);
    for (const m of Object.values(models)) await world.price(world.platform, m, PRICE);
    const common = { priority: 1, weight: 10, retryBudget: 0, firstByteTimeoutMs: 5000, totalTimeoutMs: 20000 };
    await world.channel({
      ...common,
      name: uniqueSlug('azure'),
      provider: 'azure',
      baseUrl: azure.url,
      keys: ['azure-key-0123456789abcdef'],
      models: [{ public: models.azure, upstream: 'prod-gpt4o' }],
      settings: { apiVersion: '2024-10-21' },
    });
    await world.channel({
      ...common,
      name: uniqueSlug('bedrock'),
      provider: 'bedrock',
      baseUrl: bedrock.url,
      keys: [`${KEY_ID}:${SECRET}`],
      models: [
        { public: models.claude, upstream: 'anthropic.claude-3-5-haiku-20241022-v1:0' },
        { public: models.nova, upstream: 'amazon.nova-lite-v1:0' },
      ],
      settings: { region: REGION },
    });
    await world.channel({
      ...common,
      name: uniqueSlug('vertex'),
      provider: 'vertex',
      baseUrl: vertex.url,
      keys: [account.json],
      models: [
        { public: models.gemini, upstream: 'gemini-2.5-flash' },
        { public: models.vclaude, upstream: 'claude-opus-4-1@20250805' },
      ],
      settings: { projectId: PROJECT, location: LOCATION },
    });
    await world.credit(shop, 'alice', '100');
    const key = await world.key(shop, 'alice');
    await api.app.get(BalanceService).ensureLoaded(shop.id, shop.users.alice.id);
    client = gatewayClient(api.baseUrl, shop.domain, key, { maxRetries: 0 });
  });

  afterAll(async () => {
    await client?.close();
    await api?.close();
    await Promise.all([azure?.close(), bedrock?.close(), vertex?.close()]);
    redis?.disconnect();
    await system?.end();
  });

  const anthropicUsage: TokenUsage = { input: ANTHROPIC_USAGE.input_tokens, output: ANTHROPIC_USAGE.output_tokens, cacheRead: ANTHROPIC_USAGE.cache_read_input_tokens, cacheWrite: ANTHROPIC_USAGE.cache_creation_input_tokens };
  const cases: Array<[string, () => string, TokenUsage]> = [
    ['Azure (deployment prod-gpt4o)', () => models.azure, { input: FAKE_USAGE.prompt_tokens - 2, output: FAKE_USAGE.completion_tokens, cacheRead: 2, cacheWrite: 0 }],
    ['Bedrock, Anthropic model (InvokeModel)', () => models.claude, anthropicUsage],
    ['Bedrock, other model (Converse)', () => models.nova, { input: CONVERSE_USAGE.inputTokens, output: CONVERSE_USAGE.outputTokens, cacheRead: CONVERSE_USAGE.cacheReadInputTokens, cacheWrite: 0 }],
    ['Vertex, Gemini', () => models.gemini, { input: GEMINI_USAGE.promptTokenCount - GEMINI_USAGE.cachedContentTokenCount, output: GEMINI_USAGE.candidatesTokenCount, cacheRead: GEMINI_USAGE.cachedContentTokenCount, cacheWrite: 0 }],
    ['Vertex, Anthropic model (rawPredict)', () => models.vclaude, anthropicUsage],
  ];

  it.each(cases)('%s: answered, and billed exactly by its usage, JSON and stream', async (_name, model, usage) => {
    const expected = costUnits(usage, PRICE);
    expect(expected).toBeGreaterThan(0n);
    for (const stream of [false, true]) {
      const events = (await world.events(shop)).length;
      const before = await balance();
      if (stream) {
        let text = '';
        for await (const chunk of await client.client.chat.completions.create({ model: model(), stream: true, messages: [{ role: 'user', content: 'Hi' }] })) {
          expect(chunk.model).toBe(model());
          text += chunk.choices[0]?.delta?.content ?? '';
        }
        expect(text.length).toBeGreaterThan(0);
      } else {
        const answer = await client.client.chat.completions.create({ model: model(), messages: [{ role: 'user', content: 'Hi' }] });
        expect(answer.model).toBe(model());
        expect(answer.choices[0].message.content).toBeTruthy();
      }
      await eventually(async () => (await world.events(shop)).length > events, 'usage event');
      const event = (await world.events(shop))[events];
      expect(event).toMatchObject({ status: 'ok', model: model(), stream, inputTokens: usage.input, outputTokens: usage.output, cacheReadTokens: usage.cacheRead ?? 0, cacheWriteTokens: usage.cacheWrite ?? 0 });
      expect(event.retailUnits).toBe(expected.toString());
      expect(before - (await balance())).toBe(expected);
    }
  });

  it('channel views show the settings and only the last four characters of each credential', async () => {
    const list = await admin('GET', '/api/v1/channels?provider=bedrock&pageSize=100');
    expect(list.status).toBe(200);
    const channel = (list.body.items as Array<Record<string, any>>).find((c) => c.models.some((m: { public: string }) => m.public === models.claude))!;
    expect(channel.settings).toEqual({ region: REGION });
    expect(channel.keys).toEqual([expect.objectContaining({ last4: SECRET.slice(-4) })]);
    expect(list.text).not.toContain(SECRET);
    expect(list.text).not.toContain(KEY_ID);
    const vertexList = await admin('GET', '/api/v1/channels?provider=vertex&pageSize=100');
    expect(vertexList.text).not.toContain('PRIVATE KEY');
  });

  it('settings missing or not the provider’s, and keys not in the provider’s form, are refused (400) and nothing is created', async () => {
    const base = { name: uniqueSlug('bad'), baseUrl: bedrock.url, models: [{ public: uniqueSlug('m-bad') }] };
    expectProblem(await admin('POST', '/api/v1/channels', { ...base, provider: 'bedrock', keys: [`${KEY_ID}:${SECRET}`] }), 400, 'channel_settings_invalid');
    expectProblem(await admin('POST', '/api/v1/channels', { ...base, provider: 'vertex', keys: [account.json], settings: { projectId: PROJECT } }), 400, 'channel_settings_invalid');
    expectProblem(await admin('POST', '/api/v1/channels', { ...base, provider: 'bedrock', keys: [`${KEY_ID}:${SECRET}`], settings: { region: REGION, preset: 'deepseek' } }), 400, 'channel_settings_invalid');
    const badKey = await admin('POST', '/api/v1/channels', { ...base, provider: 'bedrock', keys: ['just-an-api-key-without-a-secret'], settings: { region: REGION } });
    expectProblem(badKey, 400, 'channel_key_invalid');
    expect(badKey.text).not.toContain('just-an-api-key');
    expectProblem(await admin('POST', '/api/v1/channels', { ...base, provider: 'vertex', keys: ['{"not":"a service account"}'], settings: { projectId: PROJECT, location: LOCATION } }), 400, 'channel_key_invalid');
    // Field validation: a region that is not one.
    expect((await admin('POST', '/api/v1/channels', { ...base, provider: 'bedrock', keys: [`${KEY_ID}:${SECRET}`], settings: { region: 'Mars/1' } })).status).toBe(400);
    const list = await admin('GET', `/api/v1/channels?pageSize=100`);
    expect(list.text).not.toContain(base.name);
    // An update cannot add a key in the wrong form either.
    const bedrockChannel = ((await admin('GET', '/api/v1/channels?provider=bedrock&pageSize=100')).body.items as Array<{ id: string }>)[0];
    expectProblem(await admin('PATCH', `/api/v1/channels/${bedrockChannel.id}`, { addKeys: ['sk-not-an-aws-key-000'] }), 400, 'channel_key_invalid');
  });

  it('model sync reads the upstream’s list and proposes what the channel does not route yet; changes nothing', async () => {
    const openai = await startFakeOpenAI({ keys: ['sk-upstream-test-key-0000000000000000'] });
    const created: string[] = [];
    try {
      const channel = async (models: unknown[], keys = ['sk-upstream-test-key-0000000000000000']) => {
        const res = await admin('POST', '/api/v1/channels', { name: uniqueSlug('sync'), provider: 'openai', baseUrl: `${openai.url}/v1`, keys, models });
        expect(res.status).toBe(201);
        created.push(res.body.id);
        return res.body.id as string;
      };
      const id = await channel([{ public: uniqueSlug('m-old'), upstream: 'gone-model' }]);
      const sync = await admin('POST', `/api/v1/channels/${id}/models/sync`);
      expect(sync.status).toBe(200);
      expect(sync.body).toEqual({ upstreamModels: ['fake-model'], proposed: [{ public: 'fake-model', upstream: null }], missing: ['gone-model'] });
      expect(openai.requests.at(-1)).toMatchObject({ method: 'GET', path: '/v1/models' });
      expect((await admin('GET', `/api/v1/channels/${id}`)).body.models).toEqual([expect.objectContaining({ upstream: 'gone-model' })]);
      // A wildcard that covers the listed model: nothing to propose.
      const wild = await channel([{ public: `${uniqueSlug('m-wild')}-*`, upstream: 'fake-*' }]);
      expect((await admin('POST', `/api/v1/channels/${wild}/models/sync`)).body).toMatchObject({ proposed: [], missing: [] });
      // The upstream refuses the key: 502, without the key.
      const refused = await admin('POST', `/api/v1/channels/${await channel([{ public: uniqueSlug('m-x') }], ['sk-wrong-key-00000000000'])}/models/sync`);
      expectProblem(refused, 502, 'channel_model_list_failed');
      expect(refused.text).not.toContain('sk-wrong-key');
      // Azure has no model list the gateway reads.
      const azureChannel = ((await admin('GET', '/api/v1/channels?provider=azure&pageSize=100')).body.items as Array<{ id: string }>)[0];
      expectProblem(await admin('POST', `/api/v1/channels/${azureChannel.id}/models/sync`), 400, 'channel_no_model_list');
    } finally {
      // Other spec files share the database: no channel of this test outlives it.
      for (const id of created) await admin('DELETE', `/api/v1/channels/${id}`);
      await openai.close();
    }
  });

  it('lists the OpenAI-compatible presets with their base URLs; an openai channel may name one', async () => {
    const presets = await admin('GET', '/api/v1/channels/presets');
    expect(presets.status).toBe(200);
    expect(presets.body).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'deepseek', baseUrl: 'https://api.deepseek.com/v1', provider: 'openai' }), expect.objectContaining({ id: 'glm', baseUrl: 'https://open.bigmodel.cn/api/paas/v4' })]));
    const created = await admin('POST', '/api/v1/channels', { name: uniqueSlug('kimi'), provider: 'openai', baseUrl: 'https://api.moonshot.cn/v1', keys: ['sk-moonshot-000000000'], models: [{ public: uniqueSlug('m-kimi') }], settings: { preset: 'kimi' } });
    expect(created.status).toBe(201);
    expect(created.body.settings).toEqual({ preset: 'kimi' });
    expectProblem(await admin('PATCH', `/api/v1/channels/${created.body.id}`, { settings: { region: REGION } }), 400, 'channel_settings_invalid');
    expect((await admin('PATCH', `/api/v1/channels/${created.body.id}`, { settings: { preset: 'nope' } })).status).toBe(400);
    expect((await admin('DELETE', `/api/v1/channels/${created.body.id}`)).status).toBe(204);
  });
});
