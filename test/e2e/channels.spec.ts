import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import OpenAI from 'openai';
import { Client } from 'pg';
import { ChannelsJob, QueueName } from '@app/queue';
import { ChannelHealthProcessor } from '../../src/modules/channels/channel-health.processor';
import { ChannelsRuntime } from '../../src/modules/channels/runtime/channels-runtime';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { inTransaction, isolatedDatabase } from '../support/db';
import { isolatedRedisUrl } from '../support/redis';
import { FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant, Tokens } from '../support/identity';
import { captureLogs, LogCapture } from '../support/log-capture';
import { expectProblem } from '../support/problem';
import { waitUntil } from '../support/timing';

/**
 * Channels end to end: management by the platform's owner and tech only, keys encrypted and never
 * shown, routing tables on two api instances following changes through Redis, the test route,
 * worker health checks (auto-disable and recovery) and keys refused by their upstream. Every
 * upstream key used here is searched for in every response, log line and audit entry.
 */
const KEYS = {
  good: 'sk-live-GOODKEY-aaaaaaaaaaaaaaaa-1111',
  bad: 'sk-live-BADKEY-bbbbbbbbbbbbbbbbbb-2222',
  second: 'sk-live-SECONDKEY-cccccccccccccc-3333',
  extra: 'sk-live-EXTRAKEY-dddddddddddddd-4444',
};
const ALL_SECRETS = Object.values(KEYS);
/**
 * Health checks and the routing table cover every channel in the database, and channel changes are
 * broadcast on Redis: this file runs on a database and a Redis database of its own, so other files'
 * channels (and their fakes' queued answers) are never probed, disabled or reloaded from here.
 */
const BASE_OVERRIDES = { CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_HEALTH_INTERVAL_SECONDS: '3600', CHANNEL_AUTO_DISABLE_AFTER: '2', LOG_LEVEL: 'debug', CHANNEL_REFRESH_SECONDS: '3600', CHANNEL_BREAKER_FAILURES: '2', CHANNEL_BREAKER_COOLDOWN_SECONDS: '1' };

describe('channels (e2e)', () => {
  let system: Client;
  let apiA: RunningApp;
  let apiB: RunningApp;
  let worker: RunningApp;
  let platform: TestTenant;
  let reseller: TestTenant;
  let owner: Tokens;
  let tech: Tokens;
  let fake: FakeUpstream;
  let logs: LogCapture;
  const responses: HttpResult[] = [];

  let OVERRIDES: Record<string, string>;
  let database: Awaited<ReturnType<typeof isolatedDatabase>>;

  beforeAll(async () => {
    logs = captureLogs();
    database = await isolatedDatabase();
    OVERRIDES = { ...BASE_OVERRIDES, ...database, REDIS_URL: await isolatedRedisUrl() };
    system = new Client({ connectionString: database.DATABASE_SYSTEM_URL });
    await system.connect();
    fake = await startFakeOpenAI({ keys: [KEYS.good, KEYS.second, KEYS.extra] });
    [apiA, apiB, worker] = await Promise.all([startTestApi(OVERRIDES), startTestApi(OVERRIDES), startTestWorker(OVERRIDES)]);
    platform = await platformWithUsers(system, { owner: ['owner'], tech: ['tech'], operator: ['operator'], finance: ['finance'], sales: ['sales'], user: ['user'] });
    reseller = await resellerWithUsers(system, { owner: ['owner'], sales: ['sales'], finance: ['finance'], user: ['user'] });
    owner = await signIn(apiA.baseUrl, platform, 'owner');
    tech = await signIn(apiA.baseUrl, platform, 'tech');
  });

  afterAll(async () => {
    await Promise.all([apiA?.close(), apiB?.close(), worker?.close()]);
    await fake?.close();
    logs?.stop();
    await system?.end();
  });

  async function as(tokens: Tokens, method: string, path: string, json?: unknown, tenant = platform, base = apiA.baseUrl): Promise<HttpResult> {
    const res = await call(base, method, path, { host: tenant.domain, token: tokens.accessToken, json });
    responses.push(res);
    return res;
  }

  const runtimeOf = (api: RunningApp) => api.app.get(ChannelsRuntime);
  const health = () => worker.app.get(ChannelHealthProcessor);

  async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
    await waitUntil(check, { what, timeoutMs, onError: 'throw' });
  }

  const channelInput = (overrides: Record<string, unknown> = {}) => ({
    name: `ch-${Math.random().toString(36).slice(2, 8)}`,
    provider: 'openai',
    baseUrl: `${fake.url}/v1`,
    keys: [KEYS.good],
    models: [{ public: 'gpt-test', upstream: 'fake-model' }, { public: 'wild-*', upstream: 'fake-*' }],
    priority: 1,
    weight: 10,
    firstByteTimeoutMs: 1000,
    totalTimeoutMs: 3000,
    costs: [{ model: 'fake-model', inputPerMillion: '2.5', outputPerMillion: '10', cachedInputPerMillion: '1.25' }],
    ...overrides,
  });

  describe('management', () => {
    it('creates, reads, lists, changes, disables, enables and deletes a channel; keys show as last four only', async () => {
      const created = await as(owner, 'POST', '/api/v1/channels', channelInput({ keys: [KEYS.good, KEYS.second], name: 'Main OpenAI' }));
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        name: 'Main OpenAI',
        provider: 'openai',
        status: 'enabled',
        pool: 'standard',
        priority: 1,
        weight: 10,
        retryBudget: 2,
        models: [{ public: 'gpt-test', upstream: 'fake-model' }, { public: 'wild-*', upstream: 'fake-*' }],
        costs: [{ model: 'fake-model', inputPerMillion: '2.5', outputPerMillion: '10', cachedInputPerMillion: '1.25' }],
      });
      expect(created.body.keys.map((k: { last4: string }) => k.last4)).toEqual(['1111', '3333']);
      const id = created.body.id;

      // The database holds ciphertext only.
      const { rows } = await system.query(`SELECT ciphertext FROM channel_keys WHERE channel_id = $1`, [id]);
      expect(rows).toHaveLength(2);
      for (const row of rows) {
        expect(row.ciphertext).toMatch(/^v1\./);
        for (const secret of ALL_SECRETS) expect(row.ciphertext).not.toContain(secret.slice(0, 12));
      }

      expect((await as(tech, 'GET', `/api/v1/channels/${id}`)).body.name).toBe('Main OpenAI');
      const list = await as(tech, 'GET', '/api/v1/channels?provider=openai');
      expect(list.status).toBe(200);
      expect(list.body.items.map((c: { id: string }) => c.id)).toContain(id);

      expectProblem(await as(owner, 'POST', '/api/v1/channels', channelInput({ name: 'main openai' })), 409, 'channel_name_taken');

      const removeId = created.body.keys[1].id;
      const patched = await as(tech, 'PATCH', `/api/v1/channels/${id}`, { weight: 3, addKeys: [KEYS.extra], removeKeys: [removeId], models: [{ public: 'gpt-test' }] });
      expect(patched.status).toBe(200);
      expect(patched.body.weight).toBe(3);
      expect(patched.body.keys.map((k: { last4: string }) => k.last4)).toEqual(['1111', '4444']);
      expect(patched.body.models).toEqual([{ public: 'gpt-test', upstream: null }]);
      expectProblem(await as(tech, 'PATCH', `/api/v1/channels/${id}`, { removeKeys: patched.body.keys.map((k: { id: string }) => k.id) }), 400, 'channel_last_key');

      const disabled = await as(owner, 'POST', `/api/v1/channels/${id}/disable`);
      expect(disabled.body).toMatchObject({ status: 'disabled', statusReason: 'disabled by an administrator' });
      expect((await as(owner, 'POST', `/api/v1/channels/${id}/enable`)).body).toMatchObject({ status: 'enabled', statusReason: null });

      expect((await as(owner, 'DELETE', `/api/v1/channels/${id}`)).status).toBe(204);
      expectProblem(await as(owner, 'GET', `/api/v1/channels/${id}`), 404, 'not_found');

      const { rows: audit } = await system.query(`SELECT action, changes FROM audit_log WHERE subject_id = $1 ORDER BY created_at, id`, [id]);
      expect(audit.map((r) => r.action)).toEqual(['channel.created', 'channel.updated', 'channel.disabled', 'channel.enabled', 'channel.deleted']);
      expect(JSON.stringify(audit[0].changes)).toContain('"last4":"1111"');
    });

    it('validates input, naming the fields', async () => {
      const res = await as(owner, 'POST', '/api/v1/channels', { name: '', provider: 'cohere', baseUrl: 'ftp://x', keys: [] });
      expect(res.status).toBe(400);
      const fields = res.body.errors.map((e: { field: string }) => e.field).sort();
      expect(fields).toEqual(expect.arrayContaining(['baseUrl', 'keys', 'name', 'provider']));
      expect((await as(owner, 'POST', '/api/v1/channels', channelInput({ costs: [{ model: 'm', inputPerMillion: '1.0000000001', outputPerMillion: '1', cachedInputPerMillion: '1' }] }))).status).toBe(400);
      expect((await as(owner, 'POST', '/api/v1/channels', channelInput({ models: [{ public: 'a**b' }] }))).status).toBe(400);
    });

    it('refuses every channel route to every other role of the platform and to every reseller role (403)', async () => {
      const target = (await as(owner, 'POST', '/api/v1/channels', channelInput())).body.id;
      const routes: Array<[string, string, unknown?]> = [
        ['GET', '/api/v1/channels'],
        ['GET', '/api/v1/channels/presets'],
        ['POST', '/api/v1/channels', channelInput()],
        ['GET', `/api/v1/channels/${target}`],
        ['PATCH', `/api/v1/channels/${target}`, { weight: 1 }],
        ['DELETE', `/api/v1/channels/${target}`],
        ['POST', `/api/v1/channels/${target}/disable`],
        ['POST', `/api/v1/channels/${target}/enable`],
        ['POST', `/api/v1/channels/${target}/test`],
        ['POST', `/api/v1/channels/${target}/models/sync`],
      ];
      const callers: Array<[TestTenant, string]> = [
        [platform, 'operator'],
        [platform, 'finance'],
        [platform, 'sales'],
        [platform, 'user'],
        [reseller, 'owner'],
        [reseller, 'sales'],
        [reseller, 'finance'],
        [reseller, 'user'],
      ];
      for (const [tenant, name] of callers) {
        const tokens = await signIn(apiA.baseUrl, tenant, name);
        for (const [method, path, body] of routes) {
          const res = await as(tokens, method, path, body, tenant);
          // Routes with an id answer 403 too: the route's permission check comes first, so nobody
          // learns whether the id exists.
          expect({ who: `${tenant.type}:${name}`, method, path, status: res.status }).toEqual({ who: `${tenant.type}:${name}`, method, path, status: 403 });
          expect(res.text).not.toContain('fake-model');
        }
      }
      // Nothing changed.
      const after = await as(owner, 'GET', `/api/v1/channels/${target}`);
      expect(after.body).toMatchObject({ status: 'enabled', weight: 10 });
      await as(owner, 'DELETE', `/api/v1/channels/${target}`);
    });

    it('hides channels from the application role outside a platform-wide scope (RLS), whatever CASL says', async () => {
      const target = (await as(owner, 'POST', '/api/v1/channels', channelInput())).body.id;
      const app = new Client({ connectionString: database.DATABASE_URL });
      await app.connect();
      try {
        expect((await app.query('SELECT count(*)::int AS n FROM channels')).rows[0].n).toBe(0);
        await inTransaction(app, { tenantId: reseller.id }, async () => {
          expect((await app.query('SELECT count(*)::int AS n FROM channels')).rows[0].n).toBe(0);
          expect((await app.query('SELECT count(*)::int AS n FROM channel_keys')).rows[0].n).toBe(0);
          const updated = await app.query(`UPDATE channels SET weight = 0 WHERE id = $1`, [target]);
          expect(updated.rowCount).toBe(0);
        });
        // The router's definer function returns the table (ciphertext only) without a scope.
        const { rows } = await app.query('SELECT id, keys FROM tenancy.channel_routing_table()');
        const mine = rows.find((r) => r.id === target);
        expect(mine.keys[0].ciphertext).toMatch(/^v1\./);
        expect(JSON.stringify(rows)).not.toContain(KEYS.good);
      } finally {
        await app.end();
        await as(owner, 'DELETE', `/api/v1/channels/${target}`);
      }
    });
  });

  describe('routing across instances', () => {
    it('follows a change made on one api instance on the other at once (Redis pub/sub)', async () => {
      const created = await as(owner, 'POST', '/api/v1/channels', channelInput({ models: [{ public: 'xinst-model', upstream: 'fake-model' }] }));
      const id = created.body.id;
      await eventually(() => runtimeOf(apiB).router.pick('xinst-model').some((c) => c.channel.id === id), 'instance B to route to the new channel', 3000);
      expect(runtimeOf(apiB).router.pick('xinst-model')[0].upstreamModel).toBe('fake-model');

      await as(owner, 'POST', `/api/v1/channels/${id}/disable`);
      await eventually(() => runtimeOf(apiB).router.pick('xinst-model').length === 0, 'instance B to stop routing to the disabled channel', 3000);
      await as(owner, 'POST', `/api/v1/channels/${id}/enable`);
      await eventually(() => runtimeOf(apiB).router.pick('xinst-model').length === 1, 'instance B to route again', 3000);

      // The timer is the backstop: a change written behind the api's back arrives on refresh.
      await system.query(`UPDATE channels SET weight = 7, updated_at = now() WHERE id = $1`, [id]);
      await runtimeOf(apiB).refresh();
      expect(runtimeOf(apiB).router.channel(id)!.weight).toBe(7);
      await as(owner, 'DELETE', `/api/v1/channels/${id}`);
      await eventually(() => !runtimeOf(apiB).router.channel(id), 'instance B to forget the deleted channel', 3000);
    });

    it('sends a call through the runtime, fails over from a dead channel and returns the answer in OpenAI shape', async () => {
      const dead = (await as(owner, 'POST', '/api/v1/channels', channelInput({ name: 'dead', baseUrl: 'http://127.0.0.1:9/v1', priority: 9, models: [{ public: 'fo-model', upstream: 'fake-model' }] }))).body.id;
      const live = (await as(owner, 'POST', '/api/v1/channels', channelInput({ name: 'live', priority: 1, models: [{ public: 'fo-model', upstream: 'fake-model' }] }))).body.id;
      await eventually(() => runtimeOf(apiB).router.pick('fo-model').length === 2, 'both channels routed', 3000);
      const result = await runtimeOf(apiB).send({ endpoint: 'chat', body: { model: 'fo-model', messages: [{ role: 'user', content: 'hi' }] }, model: 'fo-model', stream: false });
      expect(result.channel.id).toBe(live);
      expect(result.attempts).toBe(2);
      expect(result.exchange.kind).toBe('json');
      if (result.exchange.kind === 'json') {
        expect(result.exchange.parsed.body).toMatchObject({ object: 'chat.completion', model: 'fo-model' });
        expect(result.exchange.parsed.usage).toEqual({ input: 7, output: 7, cacheRead: 2, cacheWrite: 0 });
      }
      const metrics = { text: await (await fetch(apiB.metricsUrl)).text() };
      expect(metrics.text).toMatch(new RegExp(`aigateway_channel_errors_total\\{channel_id="${dead}",channel="dead",kind="connect"\\} 1`));
      expect(metrics.text).toMatch(new RegExp(`aigateway_channel_requests_total\\{channel_id="${live}",channel="live",outcome="ok"\\} 1`));
      expect(metrics.text).not.toMatch(/aigateway_channel_[a-z_]+\{[^}]*tenant/);
      await as(owner, 'DELETE', `/api/v1/channels/${dead}`);
      await as(owner, 'DELETE', `/api/v1/channels/${live}`);
    });

    it('routes an endpoint only to channels whose provider supports it', async () => {
      const id = (await as(owner, 'POST', '/api/v1/channels', channelInput({ provider: 'anthropic', baseUrl: fake.url, models: [{ public: 'anth-model', upstream: 'claude-x' }] }))).body.id;
      await eventually(() => runtimeOf(apiB).router.pick('anth-model').length === 1, 'channel routed', 3000);
      const before = fake.requests.length;
      await expect(runtimeOf(apiB).send({ endpoint: 'embeddings', body: { model: 'anth-model', input: 'x' }, model: 'anth-model', stream: false })).rejects.toMatchObject({
        status: 400,
        body: { error: { code: 'unsupported_endpoint', type: 'invalid_request_error' } },
      });
      expect(fake.requests.length).toBe(before);
      await as(owner, 'DELETE', `/api/v1/channels/${id}`);
    });

    it('streams through the runtime: first events before returning, the rest after, usage from the final chunk', async () => {
      const id = (await as(owner, 'POST', '/api/v1/channels', channelInput({ models: [{ public: 'stream-model', upstream: 'fake-model' }] }))).body.id;
      await eventually(() => runtimeOf(apiB).router.pick('stream-model').length === 1, 'channel routed', 3000);
      const result = await runtimeOf(apiB).send({ endpoint: 'chat', body: { model: 'stream-model', messages: [{ role: 'user', content: 'hi' }], stream: true }, model: 'stream-model', stream: true });
      expect(result.exchange.kind).toBe('stream');
      if (result.exchange.kind !== 'stream') return;
      const events = [...result.exchange.first];
      expect(events.length).toBeGreaterThan(0);
      for await (const batch of result.exchange.rest) events.push(...batch);
      result.finish(null);
      expect(events[events.length - 1]).toMatchObject({ done: true, raw: 'data: [DONE]\n\n' });
      expect(events.filter((e) => e.usageOnly)).toHaveLength(1);
      expect(result.exchange.translator.usage).toEqual({ input: 7, output: 7, cacheRead: 2, cacheWrite: 0 });
      // The upstream was asked for usage although the client did not ask.
      expect(fake.requests[fake.requests.length - 1].body.stream_options).toEqual({ include_usage: true });
      await as(owner, 'DELETE', `/api/v1/channels/${id}`);
    });

    it('opens the breaker of a failing channel, skips it, then lets one probe through after the cool-down', async () => {
      const id = (await as(owner, 'POST', '/api/v1/channels', channelInput({ models: [{ public: 'breaker-model', upstream: 'fake-model' }], retryBudget: 0 }))).body.id;
      await eventually(() => runtimeOf(apiB).router.pick('breaker-model').length === 1, 'channel routed', 3000);
      const send = () => runtimeOf(apiB).send({ endpoint: 'chat', body: { model: 'breaker-model', messages: [{ role: 'user', content: 'hi' }] }, model: 'breaker-model', stream: false });
      fake.next({ kind: 'status', status: 500 }, { kind: 'status', status: 502 });
      await expect(send()).rejects.toMatchObject({ kind: 'http_5xx' });
      await expect(send()).rejects.toMatchObject({ kind: 'http_5xx' });
      expect(runtimeOf(apiB).router.breaker(id).state).toBe('open');
      expect(runtimeOf(apiB).router.pick('breaker-model')).toEqual([]);
      const before = fake.requests.length;
      await expect(send()).rejects.toMatchObject({ status: 503, body: { error: { code: 'no_available_channel' } } });
      expect(fake.requests.length).toBe(before);
      const metrics = { text: await (await fetch(apiB.metricsUrl)).text() };
      expect(metrics.text).toContain(`aigateway_channel_breaker_state{channel_id="${id}",channel="${runtimeOf(apiB).router.channel(id)!.name}"} 2`);
      await eventually(() => runtimeOf(apiB).router.breaker(id).state === 'half_open', 'the cool-down to end', 3000);
      const probe = await send();
      expect(probe.channel.id).toBe(id);
      expect(runtimeOf(apiB).router.breaker(id).state).toBe('closed');
      await as(owner, 'DELETE', `/api/v1/channels/${id}`);
    });

    it('disables a key the upstream refuses (401) with the reason, and goes on with the others', async () => {
      const created = await as(owner, 'POST', '/api/v1/channels', channelInput({ keys: [KEYS.bad, KEYS.good], models: [{ public: 'key-model', upstream: 'fake-model' }], retryBudget: 0 }));
      const id = created.body.id;
      const badId = created.body.keys[0].id;
      await eventually(() => runtimeOf(apiB).router.pick('key-model').length === 1, 'channel routed', 3000);
      const call1 = runtimeOf(apiB).send({ endpoint: 'chat', body: { model: 'key-model', messages: [{ role: 'user', content: 'hi' }] }, model: 'key-model', stream: false });
      const error = await call1.catch((e: unknown) => e);
      expect(error).toMatchObject({ kind: 'auth', status: 502 });
      // The next call uses the other key at once.
      const ok = await runtimeOf(apiB).send({ endpoint: 'chat', body: { model: 'key-model', messages: [{ role: 'user', content: 'hi' }] }, model: 'key-model', stream: false });
      expect(ok.channel.id).toBe(id);
      // The worker disables it in the database, with the reason, and both instances follow.
      await eventually(async () => (await as(owner, 'GET', `/api/v1/channels/${id}`)).body.keys[0].status === 'disabled', 'the key to be disabled', 8000);
      const view = (await as(owner, 'GET', `/api/v1/channels/${id}`)).body;
      expect(view.keys[0]).toMatchObject({ id: badId, last4: '2222', status: 'disabled', disabledReason: 'the upstream answered 401' });
      expect(view.keys[1]).toMatchObject({ last4: '1111', status: 'active' });
      await eventually(() => runtimeOf(apiA).router.channel(id)?.keys[0].status === 'disabled', 'instance A to know', 3000);
      const { rows } = await system.query(`SELECT action FROM audit_log WHERE subject_id = $1 AND action = 'channel.key_auto_disabled'`, [id]);
      expect(rows).toHaveLength(1);
      await as(owner, 'DELETE', `/api/v1/channels/${id}`);
    });
  });

  describe('health', () => {
    it('schedules the health check in the worker (BullMQ job scheduler)', async () => {
      const queue = worker.app.get<Queue>(getQueueToken(QueueName.Channels));
      const scheduler = await queue.getJobScheduler(ChannelsJob.HealthCheck);
      expect(Number(scheduler?.every)).toBe(3600 * 1000);
    });

    it('POST /:id/test runs one check now and returns latency and the error, without the key', async () => {
      const id = (await as(owner, 'POST', '/api/v1/channels', channelInput())).body.id;
      const ok = await as(tech, 'POST', `/api/v1/channels/${id}/test`);
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ ok: true, upstreamStatus: 200, errorKind: null, error: null });
      expect(ok.body.latencyMs).toBeGreaterThanOrEqual(0);
      fake.next({ kind: 'status', status: 500 });
      const failed = await as(tech, 'POST', `/api/v1/channels/${id}/test`);
      expect(failed.body).toMatchObject({ ok: false, upstreamStatus: 500, errorKind: 'http_5xx' });
      expect(failed.text).not.toContain('127.0.0.1');
      const named = await as(tech, 'POST', `/api/v1/channels/${id}/test`, { model: 'another-upstream-model' });
      expect(named.body.ok).toBe(true);
      expect(fake.requests[fake.requests.length - 1].body.model).toBe('another-upstream-model');
      expectProblem(await as(tech, 'POST', `/api/v1/channels/${id}/test`, { model: 'bad model!' }), 400, 'validation_failed');
      fake.next({ kind: 'stall-before', ms: 3000 });
      const slow = await as(tech, 'POST', `/api/v1/channels/${id}/test`);
      expect(slow.body).toMatchObject({ ok: false, errorKind: 'timeout_first_byte' });
      await as(owner, 'DELETE', `/api/v1/channels/${id}`);
    });

    it('auto-disables a channel that keeps failing and re-enables it when it recovers', async () => {
      const id = (await as(owner, 'POST', '/api/v1/channels', channelInput({ models: [{ public: 'health-model', upstream: 'fake-model' }] }))).body.id;
      await eventually(() => runtimeOf(apiA).router.pick('health-model').length === 1, 'channel routed', 3000);
      fake.fallback = { kind: 'status', status: 503 };
      try {
        const first = await health().checkAll();
        expect(first.autoDisabled).not.toContain(id);
        expect((await as(owner, 'GET', `/api/v1/channels/${id}`)).body).toMatchObject({ status: 'enabled', health: { checkFailures: 1 } });
        const second = await health().checkAll();
        expect(second.autoDisabled).toContain(id);
      } finally {
        fake.fallback = { kind: 'ok' };
      }
      const down = (await as(owner, 'GET', `/api/v1/channels/${id}`)).body;
      expect(down.status).toBe('auto_disabled');
      expect(down.statusReason).toMatch(/health check failed 2 times in a row/);
      await eventually(() => runtimeOf(apiA).router.pick('health-model').length === 0, 'instance A to stop routing to it', 3000);

      const recovered = await health().checkAll();
      expect(recovered.reEnabled).toContain(id);
      expect((await as(owner, 'GET', `/api/v1/channels/${id}`)).body).toMatchObject({ status: 'enabled', statusReason: null, health: { checkFailures: 0 } });
      await eventually(() => runtimeOf(apiA).router.pick('health-model').length === 1, 'instance A to route to it again', 3000);
      const { rows } = await system.query(`SELECT action, actor_user_id FROM audit_log WHERE subject_id = $1 AND action LIKE 'channel.auto_%' ORDER BY created_at`, [id]);
      expect(rows).toEqual([
        { action: 'channel.auto_disabled', actor_user_id: null },
        { action: 'channel.auto_enabled', actor_user_id: null },
      ]);
      await as(owner, 'DELETE', `/api/v1/channels/${id}`);
    });

    it('leaves a channel disabled by hand alone', async () => {
      const id = (await as(owner, 'POST', '/api/v1/channels', channelInput())).body.id;
      await as(owner, 'POST', `/api/v1/channels/${id}/disable`);
      const before = fake.requests.length;
      await health().checkAll();
      expect(fake.requests.length).toBe(before);
      expect((await as(owner, 'GET', `/api/v1/channels/${id}`)).body.status).toBe('disabled');
      await as(owner, 'DELETE', `/api/v1/channels/${id}`);
    });
  });

  describe('secrecy', () => {
    it('never wrote an upstream key into a response, a log line or an audit entry during these tests', async () => {
      // Make the processes log at least the usual request lines and one refused key.
      expect(logs.text.length).toBeGreaterThan(0);
      expect(logs.text).toContain('upstream refused a channel key');
      for (const secret of ALL_SECRETS) {
        for (const res of responses) expect(res.text).not.toContain(secret);
        expect(logs.text).not.toContain(secret);
      }
      const { rows } = await system.query(`SELECT changes::text AS changes FROM audit_log WHERE subject_type = 'Channel'`);
      expect(rows.length).toBeGreaterThan(10);
      for (const row of rows) for (const secret of ALL_SECRETS) expect(row.changes).not.toContain(secret);
      // Nor into the metrics.
      const metrics = { text: await (await fetch(apiA.metricsUrl)).text() };
      for (const secret of ALL_SECRETS) expect(metrics.text).not.toContain(secret);
    });
  });
});
