import { Client } from 'pg';
import { TenantDb } from '@app/tenancy';
import { WebhookEventType, WebhookOutbox } from '../../src/modules/webhooks/webhook-outbox';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { isolatedDatabase } from '../support/db';
import { call, HttpResult } from '../support/http';
import { resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { isolatedRedisUrl } from '../support/redis';
import { eventually, startWebhookReceiver, WebhookReceiver } from '../support/webhook-receiver';

/**
 * Endpoints that keep failing are disabled by the worker: after WEBHOOK_DISABLE_AFTER_FAILURES
 * deliveries in a row failed for good (one attempt each here), the endpoint is disabled with the
 * reason `failing`, audited as done by the system, and gets no new deliveries until its owner
 * enables it again. A success in between restarts the count. A database and Redis of its own (the
 * thresholds here are tiny).
 */
const OVERRIDES = {
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
  WEBHOOK_RELAY_INTERVAL_MS: '100',
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_MAX_ATTEMPTS: '1',
  WEBHOOK_TIMEOUT_MS: '1500',
  WEBHOOK_SWEEP_INTERVAL_MS: '1000',
  WEBHOOK_DISABLE_AFTER_FAILURES: '3',
};

describe('webhooks: endpoints that keep failing are disabled (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let worker: RunningApp;
  let receiver: WebhookReceiver;
  let shop: TestTenant;
  let token: string;

  beforeAll(async () => {
    const database = await isolatedDatabase();
    const overrides = { ...OVERRIDES, ...database, REDIS_URL: await isolatedRedisUrl() };
    system = new Client({ connectionString: database.DATABASE_SYSTEM_URL });
    await system.connect();
    receiver = await startWebhookReceiver();
    [api, worker] = await Promise.all([startTestApi(overrides), startTestWorker(overrides)]);
    shop = await resellerWithUsers(system, { owner: ['owner'] });
    token = (await signIn(api.baseUrl, shop, 'owner')).accessToken;
  });

  afterAll(async () => {
    await Promise.all([api?.close(), worker?.close()]);
    await receiver?.close();
    await system?.end();
  });

  const asOwner = (method: string, path: string, json?: unknown): Promise<HttpResult> => call(api.baseUrl, method, path, { host: shop.domain, token, json });

  async function endpointTo(path: string): Promise<string> {
    const res = await asOwner('POST', '/api/v1/webhooks', { url: receiver.url(path), events: ['key.created'] });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  const endpoint = async (id: string) => (await asOwner('GET', `/api/v1/webhooks/${id}`)).body;
  const deliveries = async (id: string): Promise<any[]> => (await asOwner('GET', `/api/v1/webhooks/${id}/deliveries?pageSize=100`)).body.items;

  /** Publishes one event and waits until the endpoint's delivery of it has ended; returns its status. */
  async function deliverOne(endpointId: string, type: WebhookEventType = 'key.created'): Promise<string> {
    const eventId = await api.app.get(TenantDb).run({ tenantId: shop.id }, (m) => api.app.get(WebhookOutbox).publish(m, shop.id, type, { keyId: 'k' }));
    const done = await eventually(async () => (await deliveries(endpointId)).find((d) => d.eventId === eventId && d.status !== 'pending'), 20_000, `the delivery of ${eventId}`);
    return done.status;
  }

  it('disables an endpoint after three deliveries in a row failed, audits it, sends it nothing more, and takes it back when its owner enables it', async () => {
    const id = await endpointTo('/dead');
    receiver.queue('/dead', { status: 500 }, { status: 502 }, { status: 500 });
    expect(await deliverOne(id)).toBe('failed');
    expect(await deliverOne(id)).toBe('failed');
    expect((await endpoint(id)).enabled).toBe(true); // two failures: not yet
    expect(await deliverOne(id)).toBe('failed');

    const disabled = await endpoint(id);
    expect(disabled).toMatchObject({ enabled: false, disabledReason: 'failing' });
    expect(Date.parse(disabled.disabledAt)).toBeGreaterThan(Date.now() - 60_000);
    const audit = await system.query(`SELECT actor_user_id, changes FROM audit_log WHERE tenant_id = $1 AND action = 'webhook.disabled_failing' AND subject_id = $2`, [shop.id, id]);
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0].actor_user_id).toBeNull();
    expect(audit.rows[0].changes).toMatchObject({ enabled: { from: true, to: false }, disabledReason: { to: 'failing' } });

    // A new event reaches no disabled endpoint: the relay creates no delivery for it.
    const before = receiver.received.filter((r) => r.path === '/dead').length;
    const eventId = await api.app.get(TenantDb).run({ tenantId: shop.id }, (m) => api.app.get(WebhookOutbox).publish(m, shop.id, 'key.created', { keyId: 'later' }));
    await eventually(async () => ((await system.query(`SELECT dispatched_at FROM webhook_events WHERE id = $1`, [eventId])).rows[0].dispatched_at ? true : undefined), 10_000, 'the relay');
    expect((await deliveries(id)).filter((d) => d.eventId === eventId)).toEqual([]);
    expect(receiver.received.filter((r) => r.path === '/dead').length).toBe(before);

    // The owner enables it again: the reason goes, deliveries resume (the receiver answers 200 now).
    const enabled = await asOwner('PATCH', `/api/v1/webhooks/${id}`, { enabled: true });
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ enabled: true, disabledReason: null, disabledAt: null });
    expect(await deliverOne(id)).toBe('succeeded');
  });

  it('keeps an endpoint whose failures are broken by a success', async () => {
    const id = await endpointTo('/flaky');
    receiver.queue('/flaky', { status: 500 }, { status: 500 }, { status: 200 }, { status: 500 }, { status: 500 });
    for (const expected of ['failed', 'failed', 'succeeded', 'failed', 'failed']) expect(await deliverOne(id)).toBe(expected);
    expect(await endpoint(id)).toMatchObject({ enabled: true, disabledReason: null, disabledAt: null });
  });

  it('records when the owner disables an endpoint, without a reason', async () => {
    const id = await endpointTo('/manual');
    const res = await asOwner('PATCH', `/api/v1/webhooks/${id}`, { enabled: false });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ enabled: false, disabledReason: null });
    expect(Date.parse(res.body.disabledAt)).toBeGreaterThan(Date.now() - 60_000);
    // Patching something else keeps the time it was disabled.
    const renamed = await asOwner('PATCH', `/api/v1/webhooks/${id}`, { description: 'paused' });
    expect(renamed.body.disabledAt).toBe(res.body.disabledAt);
  });
});
