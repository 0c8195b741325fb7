import * as argon2 from 'argon2';
import Redis from 'ioredis';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { TokenPrice } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { MeteringProcessor } from '../../src/modules/metering/metering.processor';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { call } from '../support/http';
import { RoleName, signIn, TEST_PASSWORD, TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';
import { GatewayClient, gatewayClient } from '../support/openai-client';
import { isolatedRedisUrl } from '../support/redis';

/**
 * Support finds a disputed request by the `x-request-id` its answer carried (issue 19): the id
 * travels in the usage event to the usage record, and `GET /api/v1/usage/records?requestId=` finds
 * it under exactly the scope of the usage summaries (own usage for a customer, bound customers for
 * a salesperson, the tenant for its owner and finance, reach for platform staff).
 */
const PRICE: TokenPrice = { inputPerMillion: '3', outputPerMillion: '15' };

describe('usage records by x-request-id (e2e, api + worker)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let worker: RunningApp;
  let upstream: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let other: TestTenant;
  const clients: GatewayClient[] = [];
  const model = uniqueSlug('m-rid');
  const tokens = new Map<string, string>();

  /** A user with `roles` added to `tenant` and signed in. */
  async function addUser(tenant: TestTenant, name: string, roles: RoleName[]): Promise<void> {
    const id = uuidv7();
    const email = `${name}.${id.slice(-8)}@${tenant.domain}`;
    await system.query(`INSERT INTO users (id, tenant_id, email, password_hash, status) VALUES ($1, $2, $3, $4, 'active')`, [
      id,
      tenant.id,
      email,
      await argon2.hash(TEST_PASSWORD, { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 }),
    ]);
    for (const role of roles) await system.query(`INSERT INTO user_roles (tenant_id, user_id, role) VALUES ($1, $2, $3)`, [tenant.id, id, role]);
    tenant.users[name] = { id, email, roles };
    tokens.set(`${tenant.slug}:${name}`, (await signIn(api.baseUrl, tenant, name)).accessToken);
  }

  const lookup = (tenant: TestTenant, who: string, query: string) =>
    call(api.baseUrl, 'GET', `/api/v1/usage/records?${query}`, { host: tenant.domain, token: tokens.get(`${tenant.slug}:${who}`)! });

  /** One answered request of `customer`; returns the x-request-id its answer carried. */
  async function ask(tenant: TestTenant, customer: string, key: string, requestId?: string): Promise<string> {
    const c = gatewayClient(api.baseUrl, tenant.domain, key, { maxRetries: 0 });
    clients.push(c);
    const { response } = await c.client.chat.completions
      .create({ model, messages: [{ role: 'user', content: `hello from ${customer}` }] }, requestId ? { headers: { 'X-Request-Id': requestId } } : {})
      .withResponse();
    return response.headers.get('x-request-id')!;
  }

  const recorded = (tenantId: string, httpRequestId: string) => async () =>
    Number((await system.query(`SELECT count(*) FROM usage_records WHERE tenant_id = $1 AND http_request_id = $2`, [tenantId, httpRequestId])).rows[0].count) === 1;

  beforeAll(async () => {
    system = await connectAs('system');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    upstream = await startFakeOpenAI();
    const overrides = { REDIS_URL: redisUrl, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600', METERING_TENANT_REFRESH_MS: '200' };
    api = await startTestApi(overrides);
    worker = await startTestWorker(overrides);
    world = await new InferenceWorld(api, system, redis).init();
    await world.price(world.platform, model, PRICE);
    await world.channel(fakeChannel(upstream.url, model));
    shop = await world.reseller(['alice', 'bob']);
    other = await world.reseller(['carol']);
    for (const [tenant, who] of [
      [shop, 'owner'],
      [shop, 'finance'],
      [shop, 'alice'],
      [shop, 'bob'],
      [other, 'owner'],
      [other, 'carol'],
    ] as const) {
      tokens.set(`${tenant.slug}:${who}`, (await signIn(api.baseUrl, tenant, who)).accessToken);
    }
    await addUser(shop, 'salesOfAlice', ['sales']);
    await addUser(shop, 'salesOfBob', ['sales']);
    await system.query(`INSERT INTO customer_bindings (tenant_id, customer_id, sales_user_id) VALUES ($1, $2, $3), ($1, $4, $5)`, [
      shop.id,
      shop.users.alice.id,
      shop.users.salesOfAlice.id,
      shop.users.bob.id,
      shop.users.salesOfBob.id,
    ]);
    await addUser(world.platform, 'platformFinance', ['finance']);
    for (const [tenant, customer] of [
      [shop, 'alice'],
      [other, 'carol'],
    ] as const) {
      await world.credit(tenant, customer, '10');
      await api.app.get(BalanceService).ensureLoaded(tenant.id, tenant.users[customer].id);
    }
    await worker.app.get(MeteringProcessor, { strict: false }).refreshTenants();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await api?.close();
    await worker?.close();
    await upstream?.close();
    redis?.disconnect();
    await system?.end();
  });

  it("stores the gateway's own x-request-id on the usage record; the customer finds it", async () => {
    const key = await world.key(shop, 'alice');
    const requestId = await ask(shop, 'alice', key);
    expect(requestId).toBeTruthy();
    const event = (await world.events(shop)).at(-1)!;
    expect(event.httpRequestId).toBe(requestId);
    await eventually(recorded(shop.id, requestId), 'the usage record with its request id', 20_000);

    const res = await lookup(shop, 'alice', `requestId=${requestId}`);
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(1);
    expect(res.body.items[0]).toMatchObject({ id: event.requestId, requestId, tenantId: shop.id, customerId: shop.users.alice.id, model, status: 'ok', spend: expect.any(String) });
    expect(res.body.items[0]).not.toHaveProperty('wholesaleCost');
  });

  it('finds a request under exactly the usage scope: own, bound customers, the tenant, platform reach; nobody else', async () => {
    // The same client-chosen id at two resellers: each side sees only its own record.
    const shared = `support-case-${uniqueSlug()}`;
    await ask(shop, 'alice', await world.key(shop, 'alice'), shared);
    await ask(other, 'carol', await world.key(other, 'carol'), shared);
    await eventually(recorded(shop.id, shared), 'the record at the shop', 20_000);
    await eventually(recorded(other.id, shared), 'the record at the other reseller', 20_000);

    const seen = async (tenant: TestTenant, who: string, query = `requestId=${shared}`) => {
      const res = await lookup(tenant, who, query);
      expect({ who, status: res.status }).toEqual({ who, status: 200 });
      return (res.body.items as Array<{ tenantId: string; customerId: string; wholesaleCost?: string; upstreamCost?: string }>).map((i) => `${i.tenantId}:${i.customerId}`);
    };
    const aliceRecord = `${shop.id}:${shop.users.alice.id}`;
    const carolRecord = `${other.id}:${other.users.carol.id}`;
    expect(await seen(shop, 'alice')).toEqual([aliceRecord]);
    expect(await seen(shop, 'bob')).toEqual([]);
    expect(await seen(shop, 'salesOfAlice')).toEqual([aliceRecord]);
    expect(await seen(shop, 'salesOfBob')).toEqual([]);
    expect(await seen(shop, 'owner')).toEqual([aliceRecord]);
    expect(await seen(shop, 'finance')).toEqual([aliceRecord]);
    expect(await seen(other, 'owner')).toEqual([carolRecord]);
    expect(await seen(other, 'carol')).toEqual([carolRecord]);
    // Platform finance reaches every tenant; tenantId narrows to one.
    expect((await seen(world.platform, 'platformFinance')).sort()).toEqual([aliceRecord, carolRecord].sort());
    expect(await seen(world.platform, 'platformFinance', `requestId=${shared}&tenantId=${other.id}`)).toEqual([carolRecord]);

    // Costs by role, as in the summaries.
    const owner = await lookup(shop, 'owner', `requestId=${shared}`);
    expect(owner.body.items[0].wholesaleCost).toEqual(expect.any(String));
    expect(owner.body.items[0]).not.toHaveProperty('upstreamCost');
    const platformView = await lookup(world.platform, 'platformFinance', `requestId=${shared}&tenantId=${shop.id}`);
    expect(platformView.body.items[0]).toMatchObject({ wholesaleCost: expect.any(String), upstreamCost: expect.any(String) });
  });

  it('refuses a malformed request id with 400 (without one, the list of records answers)', async () => {
    expect((await lookup(shop, 'owner', '')).status).toBe(200);
    expect((await lookup(shop, 'owner', `requestId=${encodeURIComponent('bad id <x>')}`)).status).toBe(400);
  });
});
