import Redis from 'ioredis';
import { Client } from 'pg';
import { TokenPrice } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { MeteringProcessor } from '../../src/modules/metering/metering.processor';
import { UsageWriter } from '../../src/modules/metering/usage-writer';
import { WebhookOutbox } from '../../src/modules/webhooks/webhook-outbox';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { call } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';
import { expectInvalidFields, expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';
import { usageEvent } from '../support/usage';
import { startWebhookReceiver, WebhookReceiver } from '../support/webhook-receiver';

/**
 * Risk rules (issue 26): a tenant's owner turns rules on; metering evaluates them on each usage
 * batch, in the batch's transaction, and a triggered rule leaves one flag per window, a
 * `risk.flagged` webhook event, an audit entry and, when its action says so, suspended keys that
 * /v1 refuses until the owner resolves the flag. Rules are driven through the worker's UsageWriter
 * with events at chosen times (exact windows); one journey goes through real /v1 traffic.
 */
const PRICE: TokenPrice = { inputPerMillion: '1', outputPerMillion: '2' };
const MINUTE = 60_000;

describe('risk rules and flags (e2e)', () => {
  let system: Client;
  let redis: Redis;
  let api: RunningApp;
  let worker: RunningApp;
  let fake: FakeUpstream;
  let receiver: WebhookReceiver;
  let world: InferenceWorld;
  let shop: TestTenant;
  let other: TestTenant;
  let platform: TestTenant;
  /** A reseller with sales, finance and operator people besides its owner. */
  let staffed: TestTenant;
  const tokens = new Map<string, string>();
  const model = uniqueSlug('m-risk');

  const as = (t: TestTenant, who: string, method: string, path: string, json?: unknown) =>
    call(api.baseUrl, method, path, { host: t.domain, token: tokens.get(`${t.slug}:${who}`)!, json });
  const setRules = (t: TestTenant, rules: unknown[]) => as(t, 'owner', 'PUT', `/api/v1/tenants/${t.id}/risk/rules`, { rules });
  const writer = () => worker.app.get(UsageWriter, { strict: false });
  const flagsOf = async (tenantId: string, rule: string) =>
    (await system.query(`SELECT id, subject_id, trim_scale(observed)::text AS observed, action, suspended_key_ids::text[] AS suspended_key_ids, window_start FROM risk_flags WHERE tenant_id = $1 AND rule = $2 ORDER BY created_at`, [tenantId, rule])).rows;
  const keyIdOf = async (t: TestTenant, secret: string) => (await system.query(`SELECT id FROM api_keys WHERE tenant_id = $1 AND $2 LIKE prefix || '%'`, [t.id, secret])).rows[0].id as string;
  const keyStatus = async (id: string) => (await system.query(`SELECT status FROM api_keys WHERE id = $1`, [id])).rows[0].status as string;
  /** The start of a fresh clock window of `ms` (its events all fall in one window). */
  const windowStart = (ms: number) => Math.floor(Date.now() / ms) * ms - ms;
  /** The worker's aigateway_risk_flags_total for one rule and action. */
  const flagsCounted = async (rule: string, action: string) => {
    const text = await (await fetch(worker.metricsUrl)).text();
    const line = text.split('\n').find((l) => l.startsWith(`aigateway_risk_flags_total{rule="${rule}",action="${action}"}`));
    return Number(line?.split(' ').pop() ?? NaN);
  };
  const complete = (t: TestTenant, secret: string) =>
    call(api.baseUrl, 'POST', '/v1/chat/completions', { host: t.domain, headers: { authorization: `Bearer ${secret}` }, json: { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 } });

  beforeAll(async () => {
    system = await connectAs('system');
    const redisUrl = await isolatedRedisUrl();
    redis = new Redis(redisUrl);
    fake = await startFakeOpenAI();
    receiver = await startWebhookReceiver();
    const overrides = {
      REDIS_URL: redisUrl,
      CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true',
      CHANNEL_REFRESH_SECONDS: '3600',
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      WEBHOOK_RELAY_INTERVAL_MS: '100',
      WEBHOOK_RETRY_BASE_MS: '100',
      METERING_TENANT_REFRESH_MS: '200',
    };
    [api, worker] = await Promise.all([startTestApi(overrides), startTestWorker(overrides)]);
    world = await new InferenceWorld(api, system, redis).init();
    await world.price(world.platform, model, PRICE);
    await world.channel(fakeChannel(fake.url, model, { retryBudget: 0 }));
    shop = await world.reseller(['alice', 'bob', 'carol', 'dave']);
    other = await world.reseller(['zed']);
    platform = await platformWithUsers(system, { owner: ['owner'] });
    staffed = await resellerWithUsers(system, { owner: ['owner'], sales: ['sales'], finance: ['finance'], operator: ['operator'] });
    for (const t of [shop, other, platform, staffed]) for (const who of Object.keys(t.users)) tokens.set(`${t.slug}:${who}`, (await signIn(api.baseUrl, t, who)).accessToken);
    await worker.app.get(MeteringProcessor, { strict: false }).refreshTenants();
  });

  afterAll(async () => {
    await Promise.all([api?.close(), worker?.close()]);
    await fake?.close();
    await receiver?.close();
    redis?.disconnect();
    await system?.end();
  });

  it('lets the owner read and set the rules (validated per rule), the platform read them, and nobody else', async () => {
    const initial = await as(shop, 'owner', 'GET', `/api/v1/tenants/${shop.id}/risk/rules`);
    expect(initial.status).toBe(200);
    expect(initial.body.rules.map((r: { rule: string; enabled: boolean }) => [r.rule, r.enabled])).toEqual([
      ['key_velocity', false],
      ['key_distinct_ips', false],
      ['new_customer_spend', false],
      ['balance_drop', false],
    ]);
    expectInvalidFields(await setRules(shop, [{ rule: 'key_velocity', enabled: true, threshold: '2.5', action: 'flag' }]), ['rules.0.threshold']);
    expectInvalidFields(await setRules(shop, [{ rule: 'balance_drop', enabled: true, threshold: '5', action: 'suspend_key' }]), ['rules.0.action']);
    expectInvalidFields(await setRules(shop, [{ rule: 'key_velocity', enabled: true, threshold: '0', action: 'flag' }]), ['rules.0.threshold']);
    const set = await setRules(shop, [{ rule: 'new_customer_spend', enabled: true, threshold: '1.5', action: 'flag' }]);
    expect(set.status).toBe(200);
    expect(set.body.rules.find((r: { rule: string }) => r.rule === 'new_customer_spend')).toMatchObject({ enabled: true, threshold: '1.5', action: 'flag', thresholdKind: 'amount', subject: 'customer' });
    // The platform's owner reads any tenant's rules, and may not change them.
    expect((await as(platform, 'owner', 'GET', `/api/v1/tenants/${shop.id}/risk/rules`)).body.rules[2]).toMatchObject({ enabled: true, threshold: '1.5' });
    expectProblem(await as(platform, 'owner', 'PUT', `/api/v1/tenants/${shop.id}/risk/rules`, { rules: [{ rule: 'key_velocity', enabled: true, threshold: '1', action: 'flag' }] }), 403, 'forbidden');
    // Another reseller's owner: not found; the shop's finance and a customer: forbidden.
    expectProblem(await as(other, 'owner', 'GET', `/api/v1/tenants/${shop.id}/risk/rules`), 404, 'not_found');
    expectProblem(await as(other, 'owner', 'PUT', `/api/v1/tenants/${shop.id}/risk/rules`, { rules: [{ rule: 'key_velocity', enabled: false, threshold: '1', action: 'flag' }] }), 404, 'not_found');
    expectProblem(await as(other, 'owner', 'GET', `/api/v1/tenants/${shop.id}/risk/flags`), 404, 'not_found');
    expectProblem(await as(shop, 'alice', 'GET', `/api/v1/tenants/${shop.id}/risk/flags`), 403, 'forbidden');
    for (const who of ['sales', 'finance', 'operator']) {
      expectProblem(await as(staffed, who, 'PUT', `/api/v1/tenants/${staffed.id}/risk/rules`, { rules: [{ rule: 'key_velocity', enabled: true, threshold: '1', action: 'flag' }] }), 403, 'forbidden');
      expectProblem(await as(staffed, who, 'POST', `/api/v1/tenants/${staffed.id}/risk/flags/${staffed.id}/resolve`, { reactivateKeys: true }), 403, 'forbidden');
    }
    expect((await as(staffed, 'owner', 'PUT', `/api/v1/tenants/${staffed.id}/risk/rules`, { rules: [{ rule: 'key_velocity', enabled: false, threshold: '1', action: 'flag' }] })).status).toBe(200);
    const audit = await system.query(`SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND action = 'risk.rules_set'`, [shop.id]);
    expect(audit.rows[0].n).toBe(1);
  });

  it('key_velocity: flags a key over N requests in a minute, not at N, once per window, and suspends it', async () => {
    await setRules(shop, [{ rule: 'key_velocity', enabled: true, threshold: '3', action: 'suspend_key' }]);
    const secret = await world.key(shop, 'alice');
    const keyId = await keyIdOf(shop, secret);
    const at = windowStart(MINUTE);
    const ev = (i: number) => usageEvent({ tenantId: shop.id, customerId: shop.users.alice.id, apiKeyId: keyId, createdAt: at + i * 100 });
    const counted = await flagsCounted('key_velocity', 'suspend_key');
    expect(counted).toBeGreaterThanOrEqual(0);
    await writer().write(shop.id, [ev(0), ev(1)]);
    await writer().write(shop.id, [ev(2)]);
    // Three requests in the minute, the threshold: nothing.
    expect(await flagsOf(shop.id, 'key_velocity')).toEqual([]);
    expect(await keyStatus(keyId)).toBe('active');
    // One more in the same minute (and another minute's events below the threshold): one flag, key suspended.
    await writer().write(shop.id, [ev(3), usageEvent({ tenantId: shop.id, customerId: shop.users.alice.id, apiKeyId: keyId, createdAt: at - MINUTE })]);
    const [flag, ...more] = await flagsOf(shop.id, 'key_velocity');
    expect(more).toEqual([]);
    expect(flag).toMatchObject({ subject_id: keyId, observed: '4', action: 'suspend_key', suspended_key_ids: [keyId] });
    expect(new Date(flag.window_start).getTime()).toBe(at);
    expect(await keyStatus(keyId)).toBe('suspended');
    // More of the same window: still one flag, counted once.
    await writer().write(shop.id, [ev(4), ev(5)]);
    expect(await flagsOf(shop.id, 'key_velocity')).toHaveLength(1);
    expect(await flagsCounted('key_velocity', 'suspend_key')).toBe(counted + 1);
    // Its webhook event and audit entry, written with it.
    const events = await system.query(`SELECT data FROM webhook_events WHERE tenant_id = $1 AND type = 'risk.flagged' AND data->>'flagId' = $2`, [shop.id, flag.id]);
    expect(events.rows.map((r) => r.data)).toEqual([expect.objectContaining({ rule: 'key_velocity', subjectId: keyId, observed: '4', threshold: '3', suspendedKeyIds: [keyId] })]);
    const audit = await system.query(`SELECT action, actor_user_id FROM audit_log WHERE tenant_id = $1 AND subject_id = $2`, [shop.id, flag.id]);
    expect(audit.rows).toEqual([{ action: 'risk.flagged', actor_user_id: null }]);
    // The keys API cannot lift a suspension; only the flag's review can.
    expectProblem(await as(shop, 'owner', 'POST', `/api/v1/keys/${keyId}/enable`), 409, 'api_key_suspended');
    await setRules(shop, [{ rule: 'key_velocity', enabled: false, threshold: '3', action: 'suspend_key' }]);
  });

  it('keeps running window totals: records from before the rule was on count, then each batch adds only its new records', async () => {
    // Bob's own key (the balance-drop test below suspends every key of dave).
    const secret = await world.key(shop, 'bob');
    const keyId = await keyIdOf(shop, secret);
    const at = windowStart(MINUTE);
    const ev = (i: number) => usageEvent({ tenantId: shop.id, customerId: shop.users.bob.id, apiKeyId: keyId, createdAt: at + i * 100 });
    const total = async () => (await system.query(`SELECT trim_scale(total)::text AS total FROM risk_window_totals WHERE tenant_id = $1 AND rule = 'key_velocity' AND subject_id = $2`, [shop.id, keyId])).rows.map((r) => r.total);
    // Three requests while the rule is off: no total is kept.
    const before = [ev(0), ev(1), ev(2)];
    await writer().write(shop.id, before);
    expect(await total()).toEqual([]);
    // Turned on (threshold 3): the next batch counts the window from the records, its own included.
    await setRules(shop, [{ rule: 'key_velocity', enabled: true, threshold: '3', action: 'flag' }]);
    await writer().write(shop.id, [ev(3)]);
    expect(await total()).toEqual(['4']);
    expect(await flagsOf(shop.id, 'key_velocity')).toEqual(expect.arrayContaining([expect.objectContaining({ subject_id: keyId, observed: '4' })]));
    // Later batches add their new records only; a redelivered batch (nothing new) adds nothing.
    const later = [ev(4), ev(5)];
    await writer().write(shop.id, later);
    expect(await total()).toEqual(['6']);
    await writer().write(shop.id, [...before, later[0]]);
    expect(await total()).toEqual(['6']);
    // Changing the rule starts the totals again from the records (off and on: nothing kept stale).
    await setRules(shop, [{ rule: 'key_velocity', enabled: false, threshold: '3', action: 'flag' }]);
    expect(await total()).toEqual([]);
    await writer().write(shop.id, [ev(6)]);
    await setRules(shop, [{ rule: 'key_velocity', enabled: true, threshold: '3', action: 'flag' }]);
    await writer().write(shop.id, [ev(7)]);
    expect(await total()).toEqual(['8']);
    await setRules(shop, [{ rule: 'key_velocity', enabled: false, threshold: '3', action: 'flag' }]);
  });

  it('key_distinct_ips: flags a key seen from more than N addresses in an hour, not from N', async () => {
    await setRules(shop, [{ rule: 'key_distinct_ips', enabled: true, threshold: '2', action: 'flag' }]);
    const keyId = await keyIdOf(shop, await world.key(shop, 'bob'));
    const at = windowStart(60 * MINUTE);
    const ev = (ip: string | null, i: number) => usageEvent({ tenantId: shop.id, customerId: shop.users.bob.id, apiKeyId: keyId, clientIp: ip, createdAt: at + i * 1000 });
    await writer().write(shop.id, [ev('198.51.100.1', 0), ev('198.51.100.2', 1), ev('198.51.100.1', 2), ev(null, 3)]);
    expect(await flagsOf(shop.id, 'key_distinct_ips')).toEqual([]);
    await writer().write(shop.id, [ev('2001:db8::1', 4)]);
    const flags = await flagsOf(shop.id, 'key_distinct_ips');
    expect(flags).toEqual([expect.objectContaining({ subject_id: keyId, observed: '3', action: 'flag', suspended_key_ids: [] })]);
    expect(await keyStatus(keyId)).toBe('active');
    await setRules(shop, [{ rule: 'key_distinct_ips', enabled: false, threshold: '2', action: 'flag' }]);
  });

  it("new_customer_spend: flags a customer spending more than the amount in its account's first day, not exactly it", async () => {
    // Enabled (1.5) by the first test, action flag.
    const customer = shop.users.carol.id;
    const created = (await system.query(`SELECT created_at FROM users WHERE id = $1`, [customer])).rows[0].created_at.getTime();
    const ev = (units: string, i: number) => usageEvent({ tenantId: shop.id, customerId: customer, retailUnits: units, createdAt: created + 1000 + i });
    await writer().write(shop.id, [ev('1000000000', 0), ev('500000000', 1)]); // 1.5: the threshold
    expect(await flagsOf(shop.id, 'new_customer_spend')).toEqual([]);
    await writer().write(shop.id, [ev('1', 2)]); // 1.500000001
    expect(await flagsOf(shop.id, 'new_customer_spend')).toEqual([expect.objectContaining({ subject_id: customer, observed: '1.500000001' })]);
    await setRules(shop, [{ rule: 'new_customer_spend', enabled: false, threshold: '1.5', action: 'flag' }]);
  });

  it("balance_drop: suspends every key of a customer whose usage took more than the amount in an hour; the owner's review reactivates them", async () => {
    await setRules(shop, [{ rule: 'balance_drop', enabled: true, threshold: '2', action: 'suspend_customer_keys' }]);
    const customer = shop.users.dave.id;
    const secrets = [await world.key(shop, 'dave'), await world.key(shop, 'dave')];
    const keys = [await keyIdOf(shop, secrets[0]), await keyIdOf(shop, secrets[1])].sort();
    const at = windowStart(60 * MINUTE);
    const ev = (units: string, i: number) => usageEvent({ tenantId: shop.id, customerId: customer, apiKeyId: keys[0], retailUnits: units, createdAt: at + i });
    await writer().write(shop.id, [ev('1999999999', 0), ev('1', 1)]); // exactly 2
    expect(await flagsOf(shop.id, 'balance_drop')).toEqual([]);
    await writer().write(shop.id, [ev('1', 2)]);
    const [flag] = await flagsOf(shop.id, 'balance_drop');
    expect(flag).toMatchObject({ subject_id: customer, observed: '2.000000001', suspended_key_ids: keys });
    for (const id of keys) expect(await keyStatus(id)).toBe('suspended');

    // Listed for the owner (and readable by the platform), not for another tenant.
    const list = await as(shop, 'owner', 'GET', `/api/v1/tenants/${shop.id}/risk/flags?status=open`);
    expect(list.status).toBe(200);
    expect(list.body.items.find((f: { id: string }) => f.id === flag.id)).toMatchObject({ rule: 'balance_drop', customerId: customer, suspendedKeyIds: keys, status: 'open' });
    expect((await as(platform, 'owner', 'GET', `/api/v1/tenants/${shop.id}/risk/flags`)).body.items.some((f: { id: string }) => f.id === flag.id)).toBe(true);
    expect((await as(other, 'owner', 'GET', `/api/v1/tenants/${other.id}/risk/flags`)).body.items).toEqual([]);
    expectProblem(await as(other, 'owner', 'POST', `/api/v1/tenants/${other.id}/risk/flags/${flag.id}/resolve`, { reactivateKeys: true }), 404, 'not_found');
    expectProblem(await as(shop, 'finance', 'POST', `/api/v1/tenants/${shop.id}/risk/flags/${flag.id}/resolve`, { reactivateKeys: true }), 403, 'forbidden');
    expectProblem(await as(platform, 'owner', 'POST', `/api/v1/tenants/${shop.id}/risk/flags/${flag.id}/resolve`, { reactivateKeys: true }), 403, 'forbidden');
    for (const id of keys) expect(await keyStatus(id)).toBe('suspended');

    const resolved = await as(shop, 'owner', 'POST', `/api/v1/tenants/${shop.id}/risk/flags/${flag.id}/resolve`, { reactivateKeys: true, note: 'a known batch job' });
    expect(resolved.status).toBe(200);
    expect(resolved.body).toMatchObject({ status: 'resolved', resolutionNote: 'a known batch job', reactivatedKeyIds: keys });
    for (const id of keys) expect(await keyStatus(id)).toBe('active');
    expectProblem(await as(shop, 'owner', 'POST', `/api/v1/tenants/${shop.id}/risk/flags/${flag.id}/resolve`, { reactivateKeys: true }), 409, 'conflict');
    const audit = await system.query(`SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1 AND action = 'risk.flag_resolved' AND subject_id = $2`, [shop.id, flag.id]);
    expect(audit.rows[0].n).toBe(1);
    await setRules(shop, [{ rule: 'balance_drop', enabled: false, threshold: '2', action: 'suspend_customer_keys' }]);
  });

  it('a worker dying between the flag and its suspension leaves neither; the redelivered batch does both once', async () => {
    await setRules(other, [{ rule: 'key_velocity', enabled: true, threshold: '1', action: 'suspend_key' }]);
    const keyId = await keyIdOf(other, await world.key(other, 'zed'));
    const at = windowStart(MINUTE);
    const batch = [0, 1].map((i) => usageEvent({ tenantId: other.id, customerId: other.users.zed.id, apiKeyId: keyId, createdAt: at + i }));
    // The evaluator's outbox: its publish comes after the flag and the suspension were written.
    const outbox = worker.app.get(WebhookOutbox, { strict: false });
    const publish = jest.spyOn(outbox, 'publish').mockImplementation(async (_m, _t, type) => {
      if (type === 'risk.flagged') throw new Error('the worker died here');
      return '';
    });
    try {
      await expect(writer().write(other.id, batch)).rejects.toThrow('the worker died here');
    } finally {
      publish.mockRestore();
    }
    expect(await flagsOf(other.id, 'key_velocity')).toEqual([]);
    expect(await keyStatus(keyId)).toBe('active');
    expect((await system.query(`SELECT count(*)::int AS n FROM usage_records WHERE request_id = ANY($1::uuid[])`, [batch.map((e) => e.requestId)])).rows[0].n).toBe(0);
    expect(await writer().write(other.id, batch)).toEqual({ written: 2, duplicates: 0 });
    expect(await flagsOf(other.id, 'key_velocity')).toEqual([expect.objectContaining({ suspended_key_ids: [keyId] })]);
    expect(await keyStatus(keyId)).toBe('suspended');
    // Redelivered again: nothing new.
    expect(await writer().write(other.id, batch)).toEqual({ written: 0, duplicates: 2 });
    expect(await flagsOf(other.id, 'key_velocity')).toHaveLength(1);
    await setRules(other, [{ rule: 'key_velocity', enabled: false, threshold: '1', action: 'suspend_key' }]);
  });

  it('through real traffic: the key is refused with 403 once metering flags it, the webhook is delivered, and the key serves again once the owner lifts it', async () => {
    const shop2 = await world.reseller(['erin']);
    tokens.set(`${shop2.slug}:owner`, (await signIn(api.baseUrl, shop2, 'owner')).accessToken);
    await worker.app.get(MeteringProcessor, { strict: false }).refreshTenants();
    const hook = await as(shop2, 'owner', 'POST', '/api/v1/webhooks', { url: receiver.url('/risk'), events: ['risk.flagged'] });
    expect(hook.status).toBe(201);
    await world.credit(shop2, 'erin', '100');
    const secret = await world.key(shop2, 'erin');
    await api.app.get(BalanceService).ensureLoaded(shop2.id, shop2.users.erin.id);
    expect((await complete(shop2, secret)).status).toBe(200); // cached by the api now
    await setRules(shop2, [{ rule: 'key_velocity', enabled: true, threshold: '2', action: 'suspend_key' }]);
    // Requests until the first refusal: at least three served (two in a minute is the threshold;
    // a minute boundary can split them, then more are needed).
    let served = 0;
    let refusal: Awaited<ReturnType<typeof complete>> | undefined;
    await eventually(async () => {
      const res = await complete(shop2, secret);
      if (res.status === 200) served++;
      else refusal = res;
      return res.status !== 200;
    }, 'the key is refused once metering suspended it', 20_000);
    expect(served).toBeGreaterThanOrEqual(3);
    expect(refusal!.status).toBe(403);
    expect(refusal!.body.error).toMatchObject({ code: 'api_key_suspended', type: expect.any(String) });
    const flags = (await as(shop2, 'owner', 'GET', `/api/v1/tenants/${shop2.id}/risk/flags`)).body.items;
    expect(flags).toHaveLength(1);
    await eventually(() => receiver.received.some((r) => r.path === '/risk' && JSON.parse(r.body).data?.flagId === flags[0].id), 'the risk.flagged webhook delivered', 15_000);
    expect(JSON.parse(receiver.received.find((r) => r.path === '/risk')!.body)).toMatchObject({ type: 'risk.flagged', data: { rule: 'key_velocity', action: 'suspend_key' } });
    await setRules(shop2, [{ rule: 'key_velocity', enabled: false, threshold: '2', action: 'suspend_key' }]);
    expect((await as(shop2, 'owner', 'POST', `/api/v1/tenants/${shop2.id}/risk/flags/${flags[0].id}/resolve`, { reactivateKeys: true })).status).toBe(200);
    expect((await complete(shop2, secret)).status).toBe(200);
  });
});
