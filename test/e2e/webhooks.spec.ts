import { execFileSync } from 'node:child_process';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { TenantDb } from '@app/tenancy';
import { WebhookEventType, WebhookOutbox } from '../../src/modules/webhooks/webhook-outbox';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { isolatedDatabase } from '../support/db';
import { call, HttpResult } from '../support/http';
import { platformWithUsers, resellerWithUsers, signIn, TestTenant } from '../support/identity';
import { expectInvalidFields, expectProblem } from '../support/problem';
import { isolatedRedisUrl } from '../support/redis';
import { eventually, startWebhookReceiver, WebhookReceiver } from '../support/webhook-receiver';

/**
 * Webhooks end to end: endpoints managed by the tenant owner, events published through the outbox
 * in a tenant transaction, fanned out by the worker's relay, signed (checked here with the openssl
 * CLI, not our code), retried after a 500 and after a timeout, given up after the last attempt,
 * logged attempt by attempt and redelivered on request. Redirects are not followed. Loopback
 * receivers need WEBHOOK_ALLOW_PRIVATE_NETWORKS; the SSRF refusals with the default configuration
 * are in webhooks-ssrf.spec.ts. A database and Redis of its own: other files' workers must not
 * take these deliveries, nor this file's relay theirs.
 */
const OVERRIDES = {
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
  WEBHOOK_RELAY_INTERVAL_MS: '100',
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_MAX_ATTEMPTS: '3',
  WEBHOOK_TIMEOUT_MS: '1500',
  WEBHOOK_SWEEP_INTERVAL_MS: '1000',
};

/** The receiver's few lines, written apart from the production code: HMAC by the openssl CLI. */
function opensslSignature(secret: string, id: string, timestamp: string, body: string): string {
  const hexKey = Buffer.from(secret.replace(/^whsec_/, ''), 'base64').toString('hex');
  const mac = execFileSync('openssl', ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${hexKey}`, '-binary'], { input: `${id}.${timestamp}.${body}` });
  return `v1,${mac.toString('base64')}`;
}

describe('webhooks (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let workers: RunningApp[] = [];
  let receiver: WebhookReceiver;
  let elsewhere: WebhookReceiver;
  let resellerA: TestTenant;
  let resellerB: TestTenant;
  let platform: TestTenant;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    const database = await isolatedDatabase();
    const overrides = { ...OVERRIDES, ...database, REDIS_URL: await isolatedRedisUrl() };
    system = new Client({ connectionString: database.DATABASE_SYSTEM_URL });
    await system.connect();
    [receiver, elsewhere] = await Promise.all([startWebhookReceiver(), startWebhookReceiver()]);
    // Two workers: their relays share the outbox; no event may reach an endpoint twice.
    [api, ...workers] = await Promise.all([startTestApi(overrides), startTestWorker(overrides), startTestWorker(overrides)]);
    platform = await platformWithUsers(system, { owner: ['owner'] });
    resellerA = await resellerWithUsers(system, { owner: ['owner'], finance: ['finance'] });
    resellerB = await resellerWithUsers(system, { owner: ['owner'] });
    tokens.a = (await signIn(api.baseUrl, resellerA, 'owner')).accessToken;
    tokens.aFinance = (await signIn(api.baseUrl, resellerA, 'finance')).accessToken;
    tokens.b = (await signIn(api.baseUrl, resellerB, 'owner')).accessToken;
    tokens.platform = (await signIn(api.baseUrl, platform, 'owner')).accessToken;
  });

  afterAll(async () => {
    await Promise.all([api?.close(), ...workers.map((w) => w.close())]);
    await Promise.all([receiver?.close(), elsewhere?.close()]);
    await system?.end();
  });

  const asA = (method: string, path: string, json?: unknown): Promise<HttpResult> => call(api.baseUrl, method, path, { host: resellerA.domain, token: tokens.a, json });
  const asB = (method: string, path: string, json?: unknown): Promise<HttpResult> => call(api.baseUrl, method, path, { host: resellerB.domain, token: tokens.b, json });

  async function createEndpoint(json: Record<string, unknown>, as = asA): Promise<{ id: string; secret: string }> {
    const res = await as('POST', '/api/v1/webhooks', json);
    expect(res.status).toBe(201);
    return res.body;
  }

  /** The producers' way: WebhookOutbox.publish inside a tenant transaction. */
  function publish(tenant: TestTenant, type: WebhookEventType, data: Record<string, unknown>): Promise<string> {
    return api.app.get(TenantDb).run({ tenantId: tenant.id }, (m) => api.app.get(WebhookOutbox).publish(m, tenant.id, type, data));
  }

  async function deliveriesOf(endpointId: string, as = asA): Promise<any[]> {
    const res = await as('GET', `/api/v1/webhooks/${endpointId}/deliveries?pageSize=100`);
    expect(res.status).toBe(200);
    return res.body.items;
  }

  /** The delivery of `eventId` (the first one, or a redelivery) once it has ended. */
  function finished(endpointId: string, eventId: string, redelivery = false): Promise<any> {
    return eventually(
      async () => (await deliveriesOf(endpointId)).find((d) => d.eventId === eventId && Boolean(d.redeliveryOf) === redelivery && d.status !== 'pending'),
      20_000,
      `the delivery of ${eventId}`,
    );
  }

  describe('input', () => {
    it.each([
      [{ url: 'ftp://example.com/x', events: ['key.created'] }, ['url']],
      [{ url: 'javascript:alert(1)', events: ['key.created'] }, ['url']],
      [{ url: 'file:///etc/passwd', events: ['key.created'] }, ['url']],
      [{ url: 'https://user:secret@example.com/hook', events: ['key.created'] }, ['url']],
      [{ url: 'https://example.com/hook#part', events: ['key.created'] }, ['url']],
      [{ url: 'not a url', events: ['key.created'] }, ['url']],
      [{ url: `https://example.com/${'x'.repeat(2100)}`, events: ['key.created'] }, ['url']],
      [{ url: 'https://example.com/hook', events: ['key.exploded'] }, ['events']],
      [{ url: 'https://example.com/hook', events: [] }, ['events']],
      [{ url: 'https://example.com/hook', events: 'key.created' }, ['events']],
      [{ url: 'https://example.com/hook', events: ['key.created', 'key.created'] }, ['events']],
      [{ events: ['key.created'] }, ['url']],
      [{ url: 'https://example.com/hook' }, ['events']],
      [{ url: 'https://example.com/hook', events: ['key.created'], enabled: 'yes' }, ['enabled']],
    ])('refuses %j with 400', async (json, fields) => {
      const res = await asA('POST', '/api/v1/webhooks', json);
      expectInvalidFields(res, fields);
    });

    it('refuses bad updates with 400 and unknown ids with 404', async () => {
      const { id } = await createEndpoint({ url: 'https://hooks.invalid/a', events: ['key.created'] });
      expectInvalidFields(await asA('PATCH', `/api/v1/webhooks/${id}`, { url: 'gopher://example.com' }), ['url']);
      expectInvalidFields(await asA('PATCH', `/api/v1/webhooks/${id}`, { events: [] }), ['events']);
      expectInvalidFields(await asA('PATCH', `/api/v1/webhooks/${id}`, { events: ['nope.nope'] }), ['events']);
      expectProblem(await asA('GET', `/api/v1/webhooks/${uuidv7()}`), 404, 'not_found');
      expectProblem(await asA('GET', '/api/v1/webhooks/not-a-uuid'), 404, 'not_found');
    });
  });

  describe('endpoints', () => {
    it('shows the secret once, stores it encrypted, never lists it, and audits changes without it', async () => {
      const created = await asA('POST', '/api/v1/webhooks', { url: 'https://hooks.invalid/x', events: ['key.revoked', 'credit.created'], description: 'billing system' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ url: 'https://hooks.invalid/x', events: ['credit.created', 'key.revoked'], enabled: true, description: 'billing system', tenantId: resellerA.id });
      const secret: string = created.body.secret;
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      const id = created.body.id;

      const got = await asA('GET', `/api/v1/webhooks/${id}`);
      const list = await asA('GET', '/api/v1/webhooks?pageSize=100');
      const updated = await asA('PATCH', `/api/v1/webhooks/${id}`, { enabled: false, events: ['key.revoked'] });
      expect(updated.body).toMatchObject({ enabled: false, events: ['key.revoked'] });
      const rotated = await asA('POST', `/api/v1/webhooks/${id}/rotate-secret`);
      expect(rotated.status).toBe(200);
      expect(rotated.body.secret).toMatch(/^whsec_/);
      expect(rotated.body.secret).not.toBe(secret);
      for (const res of [got, list, updated]) expect(res.text).not.toMatch(/whsec_|secret/i);
      expect(list.body.items.map((e: { id: string }) => e.id)).toContain(id);

      const { rows } = await system.query(`SELECT secret_ciphertext FROM webhook_endpoints WHERE id = $1`, [id]);
      expect(rows[0].secret_ciphertext).not.toContain(rotated.body.secret.slice(6));
      const audit = await system.query(`SELECT action, changes::text AS changes FROM audit_log WHERE subject_id = $1 ORDER BY created_at, id`, [id]);
      expect(audit.rows.map((r) => r.action)).toEqual(['webhook.created', 'webhook.updated', 'webhook.secret_rotated']);
      for (const row of audit.rows) expect(row.changes ?? '').not.toContain('whsec_');

      expect((await asA('DELETE', `/api/v1/webhooks/${id}`)).status).toBe(204);
      expect((await asA('GET', `/api/v1/webhooks/${id}`)).status).toBe(404);
    });

    it('is for the owner only: finance of the same tenant is refused (403)', async () => {
      const finance = (method: string, path: string, json?: unknown) => call(api.baseUrl, method, path, { host: resellerA.domain, token: tokens.aFinance, json });
      const { id } = await createEndpoint({ url: 'https://hooks.invalid/f', events: ['key.created'] });
      expectProblem(await finance('GET', '/api/v1/webhooks'), 403, 'forbidden');
      expectProblem(await finance('GET', `/api/v1/webhooks/${id}/deliveries`), 403, 'forbidden');
      expectProblem(await finance('POST', '/api/v1/webhooks', { url: 'https://hooks.invalid/g', events: ['key.created'] }), 403, 'forbidden');
    });
  });

  describe('delivery', () => {
    it('POSTs the event signed as documented (verified with openssl), to subscribed, enabled endpoints of its tenant only', async () => {
      const { id, secret } = await createEndpoint({ url: receiver.url('/signed'), events: ['key.created', 'key.revoked'] });
      const disabled = await createEndpoint({ url: receiver.url('/disabled'), events: ['key.created'], enabled: false });
      const other = await createEndpoint({ url: receiver.url('/other-tenant'), events: ['key.created'] }, asB);
      const unsubscribed = await createEndpoint({ url: receiver.url('/unsubscribed'), events: ['credit.created'] });

      const eventId = await publish(resellerA, 'key.created', { keyId: 'k-1', name: 'CI', amount: '12.500000000' });
      const delivery = await finished(id, eventId);
      expect(delivery).toMatchObject({ status: 'succeeded', attempts: 1, eventType: 'key.created', lastStatusCode: 200 });

      const [request] = receiver.forEvent(eventId, '/signed');
      expect(request.path).toBe('/signed');
      expect(request.headers['content-type']).toBe('application/json');
      const timestamp = String(request.headers['webhook-timestamp']);
      expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(300);
      expect(request.headers['webhook-signature']).toBe(opensslSignature(secret, eventId, timestamp, request.body));
      // A tampered body or another secret would not verify.
      expect(request.headers['webhook-signature']).not.toBe(opensslSignature(secret, eventId, timestamp, request.body.replace('k-1', 'k-2')));
      expect(JSON.parse(request.body)).toEqual({ id: eventId, type: 'key.created', createdAt: expect.any(String), tenantId: resellerA.id, data: { keyId: 'k-1', name: 'CI', amount: '12.500000000' } });

      // Let the relay pass over it again: still one request, and none to the others.
      await publish(resellerA, 'key.revoked', { keyId: 'k-1' }).then((next) => finished(id, next));
      expect(receiver.forEvent(eventId, '/signed')).toHaveLength(1);
      expect(receiver.received.filter((r) => ['/disabled', '/other-tenant', '/unsubscribed'].includes(r.path))).toEqual([]);
      for (const endpoint of [disabled.id, unsubscribed.id]) expect(await deliveriesOf(endpoint)).toEqual([]);
      expect(await deliveriesOf(other.id, asB)).toEqual([]);
    });

    it('retries after a 500, then succeeds; the log shows both attempts', async () => {
      const { id } = await createEndpoint({ url: receiver.url('/flaky'), events: ['credit.created'] });
      receiver.queue('/flaky', { status: 500, body: 'database is down' });
      const eventId = await publish(resellerA, 'credit.created', { amount: '5' });
      const delivery = await finished(id, eventId);
      expect(delivery).toMatchObject({ status: 'succeeded', attempts: 2, lastStatusCode: 200 });
      expect(delivery.attemptLog).toEqual([
        expect.objectContaining({ attempt: 1, statusCode: 500, succeeded: false, responseSnippet: 'database is down', error: expect.stringMatching(/^http_error/) }),
        expect.objectContaining({ attempt: 2, statusCode: 200, succeeded: true, responseSnippet: 'ok', error: null }),
      ]);
      expect(receiver.forEvent(eventId, '/flaky')).toHaveLength(2);
      // Both attempts carry the same id; each is signed afresh.
      expect(new Set(receiver.forEvent(eventId, '/flaky').map((r) => r.headers['webhook-id']))).toEqual(new Set([eventId]));
    });

    it('retries after a timeout, then succeeds', async () => {
      const { id } = await createEndpoint({ url: receiver.url('/slow'), events: ['billing.low_balance'] });
      receiver.queue('/slow', 'hang');
      const eventId = await publish(resellerA, 'billing.low_balance', { balance: '0.5' });
      const delivery = await finished(id, eventId);
      expect(delivery).toMatchObject({ status: 'succeeded', attempts: 2 });
      expect(delivery.attemptLog[0]).toMatchObject({ attempt: 1, statusCode: null, succeeded: false, error: expect.stringMatching(/^timeout/) });
      expect(delivery.attemptLog[0].latencyMs).toBeGreaterThanOrEqual(1400);
      expect(delivery.attemptLog[1]).toMatchObject({ attempt: 2, statusCode: 200, succeeded: true });
    });

    it('gives up after the last attempt; the owner reads the log and redelivers the same event', async () => {
      const { id, secret } = await createEndpoint({ url: receiver.url('/down'), events: ['billing.balance_depleted'] });
      receiver.queue('/down', { status: 503 }, { status: 502 }, { status: 500, body: 'x'.repeat(5000) });
      const eventId = await publish(resellerA, 'billing.balance_depleted', { balance: '0' });
      const failed = await finished(id, eventId);
      expect(failed).toMatchObject({ status: 'failed', attempts: 3, lastStatusCode: 500, nextAttemptAt: null });
      expect(failed.attemptLog.map((a: { statusCode: number }) => a.statusCode)).toEqual([503, 502, 500]);
      expect(failed.attemptLog[2].responseSnippet).toHaveLength(1024);

      const redelivered = await asA('POST', `/api/v1/webhooks/${id}/deliveries/${failed.id}/redeliver`);
      expect(redelivered.status).toBe(202);
      expect(redelivered.body).toMatchObject({ eventId, redeliveryOf: failed.id, status: 'pending' });
      const second = await finished(id, eventId, true);
      expect(second).toMatchObject({ id: redelivered.body.id, status: 'succeeded', attempts: 1 });
      const requests = receiver.forEvent(eventId, '/down');
      expect(requests).toHaveLength(4);
      const last = requests[3];
      expect(last.headers['webhook-signature']).toBe(opensslSignature(secret, eventId, String(last.headers['webhook-timestamp']), last.body));
      // The first delivery's log is kept as it was.
      expect((await deliveriesOf(id)).find((d) => d.id === failed.id)).toMatchObject({ status: 'failed', attempts: 3 });
    });

    it('does not follow a redirect: the 302 is a failed attempt and the other URL gets nothing', async () => {
      const { id } = await createEndpoint({ url: receiver.url('/moved'), events: ['statement.closed'] });
      receiver.queue('/moved', ...[1, 2, 3].map(() => ({ status: 302, headers: { location: elsewhere.url('/stolen') } })));
      const eventId = await publish(resellerA, 'statement.closed', { statementId: 's-1' });
      const delivery = await finished(id, eventId);
      expect(delivery).toMatchObject({ status: 'failed', lastStatusCode: 302 });
      expect(delivery.attemptLog[0]).toMatchObject({ statusCode: 302, succeeded: false, error: expect.stringMatching(/^redirect_not_followed/) });
      expect(elsewhere.received).toEqual([]);
    });

    it('sends a webhook.test ping on request, signed with the rotated secret and, during the grace period, the old one too', async () => {
      const { id, secret: old } = await createEndpoint({ url: receiver.url('/ping'), events: ['withdrawal.updated'] });
      const pingSignature = async () => {
        const ping = await asA('POST', `/api/v1/webhooks/${id}/test`);
        expect(ping.status).toBe(202);
        const delivery = await finished(id, ping.body.eventId);
        expect(delivery).toMatchObject({ status: 'succeeded', eventType: 'webhook.test' });
        const [request] = receiver.forEvent(ping.body.eventId);
        expect(JSON.parse(request.body)).toMatchObject({ type: 'webhook.test', tenantId: resellerA.id });
        const sign = (secret: string) => opensslSignature(secret, ping.body.eventId, String(request.headers['webhook-timestamp']), request.body);
        return { header: String(request.headers['webhook-signature']), sign };
      };

      // Default grace (a day): the new secret signs first, the old one next to it.
      const rotated = await asA('POST', `/api/v1/webhooks/${id}/rotate-secret`);
      expect(rotated.status).toBe(200);
      const { secret } = rotated.body;
      expect(Date.parse(rotated.body.rotationGraceUntil) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);
      const during = await pingSignature();
      expect(during.header).toBe(`${during.sign(secret)} ${during.sign(old)}`);

      // Rotated again without grace: only the newest secret signs; the two before sign nothing.
      const again = await asA('POST', `/api/v1/webhooks/${id}/rotate-secret`, { gracePeriodSeconds: 0 });
      expect(again.status).toBe(200);
      expect(again.body.rotationGraceUntil).toBeNull();
      const after = await pingSignature();
      expect(after.header).toBe(after.sign(again.body.secret));
      expect(after.header).not.toContain(after.sign(secret));
      expect(after.header).not.toContain(after.sign(old));

      for (const gracePeriodSeconds of [-1, 7 * 24 * 3600 + 1, 1.5, '60']) {
        expectInvalidFields(await asA('POST', `/api/v1/webhooks/${id}/rotate-secret`, { gracePeriodSeconds }), ['gracePeriodSeconds']);
      }
    });

    it('refuses to redeliver on a disabled endpoint (409)', async () => {
      const { id } = await createEndpoint({ url: receiver.url('/later-disabled'), events: ['key.disabled'] });
      const eventId = await publish(resellerA, 'key.disabled', { keyId: 'k-9' });
      const delivery = await finished(id, eventId);
      await asA('PATCH', `/api/v1/webhooks/${id}`, { enabled: false });
      expectProblem(await asA('POST', `/api/v1/webhooks/${id}/deliveries/${delivery.id}/redeliver`), 409, 'webhook_endpoint_disabled');
      expectProblem(await asA('POST', `/api/v1/webhooks/${id}/deliveries/${uuidv7()}/redeliver`), 409, 'webhook_endpoint_disabled');
      await asA('PATCH', `/api/v1/webhooks/${id}`, { enabled: true });
      expectProblem(await asA('POST', `/api/v1/webhooks/${id}/deliveries/${uuidv7()}/redeliver`), 404, 'not_found');
      // A delivery still being attempted (next attempt in an hour) is not sent twice at once.
      const pendingId = uuidv7();
      await system.query(
        `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, redelivery_of, attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, 1, now() + interval '1 hour')`,
        [pendingId, resellerA.id, id, eventId, delivery.id],
      );
      expectProblem(await asA('POST', `/api/v1/webhooks/${id}/deliveries/${pendingId}/redeliver`), 409, 'webhook_delivery_pending');
    });

    it('fans many events out through two relays: every event reaches each endpoint exactly once', async () => {
      const first = await createEndpoint({ url: receiver.url('/burst-1'), events: ['key.created'] });
      const second = await createEndpoint({ url: receiver.url('/burst-2'), events: ['key.created'] });
      const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => publish(resellerA, 'key.created', { n: i })));
      await eventually(async () => {
        const done = (await deliveriesOf(first.id)).filter((d) => d.status === 'succeeded').length + (await deliveriesOf(second.id)).filter((d) => d.status === 'succeeded').length;
        return done === 80 ? true : undefined;
      }, 30_000, '80 deliveries');
      // One delivery per endpoint and event; each reached the receiver once per attempt (a slow
      // answer under this load may time out and be retried: that is the sender's, not the relay's, doing).
      const deliveries = [...(await deliveriesOf(first.id)), ...(await deliveriesOf(second.id))];
      for (const eventId of ids) {
        const mine = deliveries.filter((d) => d.eventId === eventId);
        expect(mine.map((d) => d.endpointId).sort()).toEqual([first.id, second.id].sort());
        for (const [d, path] of mine.map((d) => [d, d.endpointId === first.id ? '/burst-1' : '/burst-2'] as const)) {
          expect(receiver.forEvent(eventId, path)).toHaveLength(d.attempts);
        }
      }
      const { rows } = await system.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE event_id = ANY ($1::uuid[]) AND endpoint_id = ANY ($2::uuid[])`, [ids, [first.id, second.id]]);
      expect(rows[0].n).toBe(80);
      // Nor any endpoint of the earlier tests got one of these events twice from the relays.
      const twice = await system.query(
        `SELECT endpoint_id, event_id FROM webhook_deliveries WHERE event_id = ANY ($1::uuid[]) AND redelivery_of IS NULL GROUP BY 1, 2 HAVING count(*) > 1`,
        [ids],
      );
      expect(twice.rows).toEqual([]);
    });

    it('sends a pending delivery whose job was lost (the sweeper enqueues it again)', async () => {
      const { id } = await createEndpoint({ url: receiver.url('/swept'), events: ['credit.created'] });
      // An event and its delivery committed, but the job never reached Redis (a crash after commit).
      const eventId = uuidv7();
      const deliveryId = uuidv7();
      await system.query(`INSERT INTO webhook_events (id, tenant_id, type, data, dispatched_at) VALUES ($1, $2, 'credit.created', '{"amount":"1"}', now())`, [eventId, resellerA.id]);
      await system.query(`INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, next_attempt_at) VALUES ($1, $2, $3, $4, now() - interval '1 hour')`, [deliveryId, resellerA.id, id, eventId]);
      const delivery = await finished(id, eventId);
      expect(delivery).toMatchObject({ id: deliveryId, status: 'succeeded', attempts: 1 });
      expect(receiver.forEvent(eventId, '/swept')).toHaveLength(1);
    });
  });

  describe('tenants', () => {
    it("cannot see, change, read the log of or redeliver another tenant's endpoints (404)", async () => {
      const { id } = await createEndpoint({ url: receiver.url('/private-to-a'), events: ['key.revoked'] });
      const eventId = await publish(resellerA, 'key.revoked', { keyId: 'k-2' });
      const delivery = await finished(id, eventId);
      const attempts: Array<[string, string, unknown?]> = [
        ['GET', `/api/v1/webhooks/${id}`],
        ['PATCH', `/api/v1/webhooks/${id}`, { enabled: false }],
        ['DELETE', `/api/v1/webhooks/${id}`],
        ['POST', `/api/v1/webhooks/${id}/rotate-secret`],
        ['GET', `/api/v1/webhooks/${id}/deliveries`],
        ['POST', `/api/v1/webhooks/${id}/deliveries/${delivery.id}/redeliver`],
        ['POST', `/api/v1/webhooks/${id}/test`],
      ];
      for (const [method, path, json] of attempts) {
        const res = await asB(method, path, json);
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
      }
      // The platform owner has no view into a reseller's webhooks either.
      const platformOwner = await call(api.baseUrl, 'GET', `/api/v1/webhooks/${id}/deliveries`, { host: platform.domain, token: tokens.platform });
      expect(platformOwner.status).toBe(404);
      const listB = await asB('GET', '/api/v1/webhooks?pageSize=100');
      expect(listB.body.items.map((e: { id: string }) => e.id)).not.toContain(id);
      // A's own endpoint of B's id space: B's delivery id under A's endpoint is not found either.
      const bEndpoint = await createEndpoint({ url: receiver.url('/b'), events: ['key.revoked'] }, asB);
      const bEvent = await publish(resellerB, 'key.revoked', { keyId: 'k-b' });
      const bDelivery = await eventually(async () => (await deliveriesOf(bEndpoint.id, asB)).find((d) => d.eventId === bEvent && d.status !== 'pending'));
      expect((await asA('POST', `/api/v1/webhooks/${id}/deliveries/${bDelivery.id}/redeliver`)).status).toBe(404);
      expect(receiver.forEvent(eventId, '/private-to-a')).toHaveLength(1);
      expect((await asA('GET', `/api/v1/webhooks/${id}`)).body.enabled).toBe(true);
    });
  });
});
