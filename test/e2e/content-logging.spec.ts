import Redis from 'ioredis';
import { Client } from 'pg';
import { TokenPrice } from '@app/money';
import { ContentLogRuntime } from '../../src/modules/content-logs/content-log-runtime';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { MaintenanceProcessor } from '../../src/modules/maintenance/maintenance.processor';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FAKE_TEXT, FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { call } from '../support/http';
import { signIn, TestTenant } from '../support/identity';
import { fakeChannel, InferenceWorld } from '../support/inference';
import { captureLogs, LogCapture } from '../support/log-capture';
import { GatewayClient, gatewayClient } from '../support/openai-client';
import { expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';
import { waitUntil } from '../support/timing';

/**
 * Optional content logging (issue 27): off by default, and then no prompt or completion is kept
 * anywhere (database, Redis, logs); the owner turns it on with a retention; the content is read by
 * the owner and the customer themself only; the worker purges it after the retention, or once
 * logging is off; and it never reaches a log line.
 */
const PRICE: TokenPrice = { inputPerMillion: '3', outputPerMillion: '15' };

describe('content logging (e2e, api + worker)', () => {
  let system: Client;
  /** The tables' owner (migrations), who reads every table, bookkeeping included. */
  let admin: Client;
  let redis: Redis;
  let api: RunningApp;
  let worker: RunningApp;
  let upstream: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let other: TestTenant;
  let logs: LogCapture | undefined;
  const clients: GatewayClient[] = [];
  const model = uniqueSlug('m-content');
  const tokens = new Map<string, string>();

  const as = (tenant: TestTenant, who: string) => ({ host: tenant.domain, token: tokens.get(`${tenant.slug}:${who}`)! });
  const get = (tenant: TestTenant, who: string, path: string) => call(api.baseUrl, 'GET', path, as(tenant, who));

  /** One request of alice at the shop whose prompt carries `marker`; returns the usage record's id. */
  async function ask(marker: string, stream = false): Promise<string> {
    const c = gatewayClient(api.baseUrl, shop.domain, await world.key(shop, 'alice'), { maxRetries: 0 });
    clients.push(c);
    const messages = [{ role: 'user' as const, content: `please remember ${marker}` }];
    if (stream) {
      const s = await c.client.chat.completions.create({ model, messages, stream: true });
      for await (const _chunk of s) void _chunk;
    } else {
      await c.client.chat.completions.create({ model, messages });
    }
    const events = await world.events(shop);
    return events.at(-1)!.requestId;
  }

  /** Every place the gateway keeps data: each table of the database and each Redis key. */
  async function foundAnywhere(marker: string): Promise<string[]> {
    const found: string[] = [];
    const { rows: tables } = await system.query(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
    );
    for (const { relname } of tables) {
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${relname} t WHERE t::text LIKE $1`, [`%${marker}%`]);
      if (rows[0].n !== 0) found.push(`table ${relname} (${rows[0].n})`);
    }
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        const dump =
          type === 'string'
            ? await redis.get(key)
            : type === 'hash'
              ? JSON.stringify(await redis.hgetall(key))
              : type === 'list'
                ? JSON.stringify(await redis.lrange(key, 0, -1))
                : type === 'set'
                  ? JSON.stringify(await redis.smembers(key))
                  : type === 'zset'
                    ? JSON.stringify(await redis.zrange(key, 0, -1))
                    : type === 'stream'
                      ? JSON.stringify(await redis.xrange(key, '-', '+'))
                      : '';
        if (dump?.includes(marker)) found.push(`redis ${key}`);
      }
    } while (cursor !== '0');
    return found;
  }

  beforeAll(async () => {
    system = await connectAs('system');
    admin = await connectAs('admin');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    upstream = await startFakeOpenAI();
    const overrides = { REDIS_URL: redisUrl, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600', LOG_LEVEL: 'debug' };
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
    ] as const) {
      tokens.set(`${tenant.slug}:${who}`, (await signIn(api.baseUrl, tenant, who)).accessToken);
    }
    await world.credit(shop, 'alice', '10');
    await api.app.get(BalanceService).ensureLoaded(shop.id, shop.users.alice.id);
  });

  afterEach(() => logs?.stop());

  afterAll(async () => {
    logs?.stop();
    await admin?.end();
    await Promise.all(clients.map((c) => c.close()));
    await api?.close();
    await worker?.close();
    await upstream?.close();
    redis?.disconnect();
    await system?.end();
  });

  it('is off by default: a request leaves its prompt and completion nowhere', async () => {
    expect((await get(shop, 'owner', '/api/v1/content-logging')).body).toMatchObject({ enabled: false });
    const marker = `secret-${uniqueSlug()}`;
    logs = captureLogs();
    const id = await ask(marker);
    await ask(`${marker}-stream`, true);
    // The request was metered (the usage record exists), so every process has done its part.
    await waitUntil(async () => (await system.query(`SELECT 1 FROM usage_records WHERE request_id = $1`, [id])).rowCount === 1, { what: 'the usage record', timeoutMs: 20_000 });
    logs.stop();
    expect(logs.text).not.toContain(marker);
    expect(await foundAnywhere(marker)).toEqual([]);
    expectProblem(await get(shop, 'owner', `/api/v1/usage/records/${id}/content`), 404, 'not_found');
  });

  it('lets only the owner turn it on; then the owner and the customer read it, nobody else; never in a log', async () => {
    expectProblem(await call(api.baseUrl, 'PUT', '/api/v1/content-logging', { ...as(shop, 'finance'), json: { enabled: true, retentionDays: 3 } }), 403, 'forbidden');
    expectProblem(await get(shop, 'alice', '/api/v1/content-logging'), 403, 'forbidden');
    expectProblem(await call(api.baseUrl, 'PUT', '/api/v1/content-logging', { ...as(shop, 'owner'), json: { enabled: true, retentionDays: 0 } }), 400, 'validation_failed');
    const on = await call(api.baseUrl, 'PUT', '/api/v1/content-logging', { ...as(shop, 'owner'), json: { enabled: true, retentionDays: 3 } });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ enabled: true, retentionDays: 3 });
    const runtime = api.app.get(ContentLogRuntime, { strict: false });
    await waitUntil(() => runtime.retentionFor(shop.id) === 3, { what: 'the api sees the switch' });
    expect(runtime.retentionFor(other.id)).toBeNull();

    const marker = `kept-${uniqueSlug()}`;
    logs = captureLogs();
    const id = await ask(marker);
    const streamed = await ask(`${marker}-stream`, true);
    const stored = async (requestId: string) => (await system.query(`SELECT 1 FROM request_contents WHERE request_id = $1`, [requestId])).rowCount === 1;
    await waitUntil(async () => (await stored(id)) && (await stored(streamed)), { what: 'the contents stored', timeoutMs: 20_000 });
    logs.stop();
    expect(logs.text).not.toContain(marker);
    // Kept apart from usage records, in the tenant's own rows.
    expect((await system.query(`SELECT tenant_id, customer_id FROM request_contents WHERE request_id = $1`, [id])).rows[0]).toEqual({ tenant_id: shop.id, customer_id: shop.users.alice.id });
    expect(await foundAnywhere(marker)).toEqual(['table request_contents (2)']);

    for (const who of ['owner', 'alice']) {
      const res = await get(shop, who, `/api/v1/usage/records/${id}/content`);
      expect({ who, status: res.status }).toEqual({ who, status: 200 });
      expect(res.body.prompt).toContain(marker);
      expect(res.body.completion).toBe(FAKE_TEXT);
    }
    expect((await get(shop, 'alice', `/api/v1/usage/records/${streamed}/content`)).body.completion).toContain('Hello');
    expectProblem(await get(shop, 'bob', `/api/v1/usage/records/${id}/content`), 404, 'not_found');
    expectProblem(await get(shop, 'finance', `/api/v1/usage/records/${id}/content`), 403, 'forbidden');
    expectProblem(await get(other, 'owner', `/api/v1/usage/records/${id}/content`), 404, 'not_found');
    const audit = await system.query(`SELECT 1 FROM audit_log WHERE tenant_id = $1 AND action = 'content_logging.updated'`, [shop.id]);
    expect(audit.rowCount).toBe(1);
  });

  it('purges content after its retention, and all of it once logging is off', async () => {
    const maintenance = worker.app.get(MaintenanceProcessor, { strict: false });
    const old = await ask(`old-${uniqueSlug()}`);
    const recent = await ask(`recent-${uniqueSlug()}`);
    const present = async (requestId: string) => (await system.query(`SELECT 1 FROM request_contents WHERE request_id = $1`, [requestId])).rowCount === 1;
    await waitUntil(async () => (await present(old)) && (await present(recent)), { what: 'the contents stored', timeoutMs: 20_000 });
    // Four days ago: past the 3 days of retention.
    await system.query(`UPDATE request_contents SET created_at = now() - interval '4 days', expires_at = now() - interval '1 day' WHERE request_id = $1`, [old]);
    expect((await maintenance.purgeRequestContents()).contents).toBeGreaterThanOrEqual(1);
    expect(await present(old)).toBe(false);
    expect(await present(recent)).toBe(true);
    expectProblem(await get(shop, 'owner', `/api/v1/usage/records/${old}/content`), 404, 'not_found');

    const off = await call(api.baseUrl, 'PUT', '/api/v1/content-logging', { ...as(shop, 'owner'), json: { enabled: false, retentionDays: 3 } });
    expect(off.status).toBe(200);
    await maintenance.purgeRequestContents();
    expect(await present(recent)).toBe(false);
    expect((await system.query(`SELECT count(*)::int AS n FROM request_contents WHERE tenant_id = $1`, [shop.id])).rows[0].n).toBe(0);
  });
});
