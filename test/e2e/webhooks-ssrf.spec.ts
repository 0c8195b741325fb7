import { Client } from 'pg';
import { TenantDb } from '@app/tenancy';
import { WebhookOutbox } from '../../src/modules/webhooks/webhook-outbox';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { isolatedDatabase } from '../support/db';
import { call, HttpResult } from '../support/http';
import { resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { expectInvalidFields } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';
import { eventually, startWebhookReceiver, WebhookReceiver } from '../support/webhook-receiver';
import { scaled } from '../support/timing';

/**
 * SSRF with the default configuration (WEBHOOK_ALLOW_PRIVATE_NETWORKS unset): literal private
 * addresses are refused when saved, and every address is checked again when the worker connects,
 * after DNS, so a name that resolves to loopback (`localhost`) and URLs that became private after
 * they were saved (changed in the database here, as a stale or hostile row would be) are never
 * connected to. A loopback receiver listens the whole time and must receive nothing. The
 * refusal is final (one attempt, no retries). A database and Redis of its own, so the workers
 * of other files (some allow private networks) never take these deliveries.
 */
describe('webhooks SSRF (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let worker: RunningApp;
  let receiver: WebhookReceiver;
  let tenant: TestTenant;
  let token: string;

  beforeAll(async () => {
    const database = await isolatedDatabase();
    const overrides = { ...database, REDIS_URL: await isolatedRedisUrl(), WEBHOOK_RELAY_INTERVAL_MS: '100', WEBHOOK_SWEEP_INTERVAL_MS: '1000', WEBHOOK_RETRY_BASE_MS: '100', WEBHOOK_MAX_ATTEMPTS: '3' };
    system = new Client({ connectionString: database.DATABASE_SYSTEM_URL });
    await system.connect();
    receiver = await startWebhookReceiver();
    [api, worker] = await Promise.all([startTestApi(overrides), startTestWorker(overrides)]);
    expect(worker.config.WEBHOOK_ALLOW_PRIVATE_NETWORKS).toBe(false);
    tenant = await resellerWithUsers(system, { owner: ['owner'] });
    token = (await signIn(api.baseUrl, tenant, 'owner')).accessToken;
  });

  afterAll(async () => {
    await Promise.all([api?.close(), worker?.close()]);
    await receiver?.close();
    await system?.end();
  });

  const asOwner = (method: string, path: string, json?: unknown): Promise<HttpResult> => call(api.baseUrl, method, path, { host: tenant.domain, token, json });

  async function deliveryOf(endpointId: string, eventId: string): Promise<any> {
    return eventually(async () => {
      const res = await asOwner('GET', `/api/v1/webhooks/${endpointId}/deliveries`);
      return res.body.items.find((d: { eventId: string; status: string }) => d.eventId === eventId && d.status !== 'pending');
    }, 30_000, 'the delivery to end');
  }

  function publish(type: 'key.created'): Promise<string> {
    return api.app.get(TenantDb).run({ tenantId: tenant.id }, (m) => api.app.get(WebhookOutbox).publish(m, tenant.id, type, { keyId: 'k-ssrf' }));
  }

  it.each(['http://127.0.0.1:8080/hook', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/hook', 'http://10.0.0.7/hook', 'http://192.168.1.1/', 'http://[::ffff:127.0.0.1]/', 'http://0.0.0.0/'])(
    'refuses the literal private address %s when saved (400)',
    async (url) => {
      expectInvalidFields(await asOwner('POST', '/api/v1/webhooks', { url, events: ['key.created'] }), ['url']);
    },
  );

  it('refuses a private address on update too (400)', async () => {
    const created = await asOwner('POST', '/api/v1/webhooks', { url: 'https://hooks.invalid/ssrf', events: ['key.disabled'] });
    expect(created.status).toBe(201);
    expectInvalidFields(await asOwner('PATCH', `/api/v1/webhooks/${created.body.id}`, { url: 'http://169.254.169.254/' }), ['url']);
  });

  it.each([
    ['a name that resolves to loopback (localhost)', (port: string) => `http://localhost:${port}/by-name`, 'api'],
    ['loopback (127.0.0.1)', (port: string) => `http://127.0.0.1:${port}/literal`, 'database'],
    ['IPv4-mapped loopback ([::ffff:127.0.0.1])', (port: string) => `http://[::ffff:127.0.0.1]:${port}/mapped`, 'database'],
    ['link-local cloud metadata (169.254.169.254)', () => 'http://169.254.169.254/latest/meta-data/', 'database'],
  ])('never connects to %s: refused at connect time (blocked_address, final), the receiver never reached', async (_what, urlFor, savedThrough) => {
    const port = new URL(receiver.url()).port;
    const url = urlFor(port);
    const created = await asOwner('POST', '/api/v1/webhooks', { url: savedThrough === 'api' ? url : 'https://hooks.invalid/placeholder', events: ['key.created'] });
    expect(created.status).toBe(201);
    // A row saved while private networks were allowed, or changed behind the api's back.
    if (savedThrough === 'database') await system.query(`UPDATE webhook_endpoints SET url = $2 WHERE id = $1`, [created.body.id, url]);

    const eventId = await publish('key.created');
    const delivery = await deliveryOf(created.body.id, eventId);
    expect(delivery).toMatchObject({ status: 'failed', lastStatusCode: null, lastError: expect.stringMatching(/^blocked_address/) });
    // The refusal is final: nothing is tried after it. Before it, only a slow name lookup may have
    // timed out (seen under full-suite load: getaddrinfo for `localhost` took over 10 s); no
    // attempt ever got an answer from the receiver.
    const log: Array<{ attempt: number; statusCode: number | null; error: string }> = delivery.attemptLog;
    expect(log[log.length - 1]).toEqual(expect.objectContaining({ attempt: delivery.attempts, statusCode: null, succeeded: false, error: expect.stringMatching(/^blocked_address/) }));
    for (const attempt of log.slice(0, -1)) expect(attempt).toEqual(expect.objectContaining({ statusCode: null, error: expect.stringMatching(/^(timeout|dns_error)/) }));
    if (savedThrough === 'database') expect(delivery.attempts).toBe(1); // a literal address is refused without any lookup
    // The error names no address.
    expect(delivery.lastError).not.toMatch(/127\.0\.0\.1|169\.254|::1/);
    expect(receiver.received).toEqual([]);
    await asOwner('DELETE', `/api/v1/webhooks/${created.body.id}`);
  }, scaled(45_000));
});
