import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { SystemDb } from '@app/tenancy';
import { KeysRepository } from '../../src/modules/keys/keys.repository';
import { MaintenanceProcessor } from '../../src/modules/maintenance/maintenance.processor';
import { connectAs } from '../support/db';
import { resellerWithUsers } from '../support/identity';
import { RunningApp, startTestWorker } from '../support/app';
import { waitUntil } from '../support/timing';

describe('maintenance jobs (worker)', () => {
  let system: Client;
  let worker: RunningApp;

  beforeAll(async () => {
    system = await connectAs('system');
    worker = await startTestWorker();
  });

  afterAll(async () => {
    await worker?.close();
    await system?.end();
  });

  it('schedules the purge once, however often the worker starts', async () => {
    const queue = worker.app.get<Queue>(getQueueToken('maintenance'));
    await worker.app.get(MaintenanceProcessor).onApplicationBootstrap();
    const schedulers = await queue.getJobSchedulers();
    expect(schedulers.filter((s) => s.key === 'purge-expired-credentials')).toHaveLength(1);
    expect(schedulers.filter((s) => s.key === 'purge-webhook-history')).toHaveLength(1);
    expect(schedulers.filter((s) => s.key === 'notify-expiring-keys')).toHaveLength(1);
    expect(schedulers.filter((s) => s.key === 'expire-topups')).toHaveLength(1);
  });

  it('purges spent credentials of every tenant and keeps live ones', async () => {
    const tenants = [await resellerWithUsers(system, { a: ['user'] }), await resellerWithUsers(system, { a: ['user'] })];
    const insert = (tenantId: string, userId: string, expiresAt: string, usedAt: string | null) =>
      system.query(
        `INSERT INTO refresh_tokens (id, tenant_id, user_id, family_id, token_hash, expires_at, used_at)
         VALUES ($1, $2, $3, $4, $5, now() + $6::interval, now() + $7::interval) RETURNING id`,
        [uuidv7(), tenantId, userId, uuidv7(), Buffer.from(uuidv7()), expiresAt, usedAt],
      );
    const stale: string[] = [];
    const live: string[] = [];
    for (const tenant of tenants) {
      stale.push((await insert(tenant.id, tenant.users.a.id, '-10 days', null)).rows[0].id);
      stale.push((await insert(tenant.id, tenant.users.a.id, '+20 days', '-8 days')).rows[0].id);
      live.push((await insert(tenant.id, tenant.users.a.id, '+20 days', null)).rows[0].id);
      live.push((await insert(tenant.id, tenant.users.a.id, '-1 day', null)).rows[0].id);
    }
    const result = await worker.app.get(MaintenanceProcessor).purgeExpiredCredentials();
    expect(result.refreshTokens).toBeGreaterThanOrEqual(stale.length);
    const { rows } = await system.query(`SELECT id FROM refresh_tokens WHERE id = ANY($1::uuid[])`, [[...stale, ...live]]);
    expect(rows.map((r) => r.id).sort()).toEqual([...live].sort());
  });

  it('deletes webhook history past the retention with its deliveries and attempts, and keeps what is recent, undispatched or still pending', async () => {
    const tenant = await resellerWithUsers(system, { a: ['user'] });
    const endpoint = uuidv7();
    await system.query(`INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret_ciphertext) VALUES ($1, $2, 'https://hooks.example.com/x', '{key.created}', 'sealed')`, [
      endpoint,
      tenant.id,
    ]);
    const event = async (age: string, dispatched: boolean) =>
      (
        await system.query(
          `INSERT INTO webhook_events (id, tenant_id, type, data, created_at, dispatched_at)
           VALUES ($1, $2, 'key.created', '{}', now() - $3::interval, CASE WHEN $4 THEN now() - $3::interval END) RETURNING id`,
          [uuidv7(), tenant.id, age, dispatched],
        )
      ).rows[0].id as string;
    const delivery = async (eventId: string, status: string, redeliveryOf: string | null = null) => {
      const id = uuidv7();
      await system.query(
        `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, status, redelivery_of, attempts) VALUES ($1, $2, $3, $4, $5, $6, 1)`,
        [id, tenant.id, endpoint, eventId, status, redeliveryOf],
      );
      await system.query(`INSERT INTO webhook_attempts (id, tenant_id, delivery_id, attempt, status_code, latency_ms, succeeded) VALUES ($1, $2, $3, 1, 200, 5, true)`, [
        uuidv7(),
        tenant.id,
        id,
      ]);
      return id;
    };
    const delivered = await event('40 days', true);
    const deliveredDelivery = await delivery(delivered, 'succeeded');
    const unsubscribed = await event('40 days', true); // no endpoint wanted it: no delivery
    const retrying = await event('40 days', true);
    await delivery(retrying, 'pending');
    const redelivering = await event('40 days', true);
    await delivery(redelivering, 'pending', await delivery(redelivering, 'failed'));
    const undispatched = await event('40 days', false);
    // Every worker of the suite relays undispatched events (FOR UPDATE SKIP LOCKED, across
    // tenants); this one is held locked so that it stays undispatched while the purge runs.
    const holder = await connectAs('system');
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM webhook_events WHERE id = $1 FOR UPDATE`, [undispatched]);
    const recent = await event('2 days', true);
    await delivery(recent, 'succeeded');

    try {
      const result = await worker.app.get(MaintenanceProcessor).purgeWebhookHistory();
      expect(result.events).toBeGreaterThanOrEqual(2);
      const left = await system.query(`SELECT id FROM webhook_events WHERE tenant_id = $1`, [tenant.id]);
      expect(left.rows.map((r) => r.id).sort()).toEqual([retrying, redelivering, undispatched, recent].sort());
      expect((await system.query(`SELECT 1 FROM webhook_deliveries WHERE id = $1`, [deliveredDelivery])).rowCount).toBe(0);
      expect((await system.query(`SELECT 1 FROM webhook_attempts WHERE delivery_id = $1`, [deliveredDelivery])).rowCount).toBe(0);
      expect((await system.query(`SELECT 1 FROM webhook_events WHERE id = $1`, [unsubscribed])).rowCount).toBe(0);
      // the endpoint itself stays, with the history that is still kept
      // (The undispatched event's own delivery is left out: another worker's relay may dispatch it
      // between its insert and the holder's lock, which is not what this test is about.)
      expect((await system.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 AND event_id <> $2`, [endpoint, undispatched])).rows[0].n).toBe(4);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  it('publishes key.expiring once for active keys expiring within the notice, again only after their expiry changes', async () => {
    const tenant = await resellerWithUsers(system, { c: ['user'] });
    const key = async (name: string, expiresIn: string | null, status = 'active') =>
      (
        await system.query(
          `INSERT INTO api_keys (id, tenant_id, customer_id, name, prefix, secret_hash, expires_at, status, revoked_at)
           VALUES ($1, $2, $3, $4, $5, $6, now() + $7::interval, $8, CASE WHEN $8 = 'revoked' THEN now() END) RETURNING id`,
          [uuidv7(), tenant.id, tenant.users.c.id, name, `sk-${name}`, Buffer.from(uuidv7()), expiresIn, status],
        )
      ).rows[0].id as string;
    const soon = await key('soon', '3 days');
    await key('later', '10 days');
    await key('expired', '-1 day');
    await key('never', null);
    await key('disabled', '2 days', 'disabled');
    await key('revoked', '2 days', 'revoked');
    const expiring = async () =>
      (await system.query(`SELECT data FROM webhook_events WHERE tenant_id = $1 AND type = 'key.expiring' ORDER BY created_at, id`, [tenant.id])).rows.map((r) => r.data);

    const processor = worker.app.get(MaintenanceProcessor);
    await processor.notifyExpiringKeys();
    const [event, ...rest] = await expiring();
    expect(rest).toEqual([]);
    const { rows } = await system.query(`SELECT expires_at FROM api_keys WHERE id = $1`, [soon]);
    expect(event).toEqual({ keyId: soon, customerId: tenant.users.c.id, name: 'soon', prefix: 'sk-soon', status: 'active', by: null, expiresAt: rows[0].expires_at.toISOString() });

    // Once per key: the next run publishes nothing for it.
    await processor.notifyExpiringKeys();
    expect(await expiring()).toHaveLength(1);

    // A new expiry date (set through the keys repository, as the API does) gets its own notice.
    const newDate = new Date(Date.now() + 5 * 24 * 3600 * 1000);
    await worker.app.get(SystemDb).run((m) => new KeysRepository().update(m, soon, { expires_at: newDate }));
    await processor.notifyExpiringKeys();
    const events = await expiring();
    expect(events).toHaveLength(2);
    expect(events[1]).toMatchObject({ keyId: soon, expiresAt: newDate.toISOString() });
  });

  it('marks no key and publishes nothing when the notice transaction fails, and notifies on the next run', async () => {
    const tenant = await resellerWithUsers(system, { c: ['user'] });
    const id = uuidv7();
    await system.query(
      `INSERT INTO api_keys (id, tenant_id, customer_id, name, prefix, secret_hash, expires_at) VALUES ($1, $2, $3, 'failing', 'sk-failing', $4, now() + interval '1 day')`,
      [id, tenant.id, tenant.users.c.id, Buffer.from(uuidv7())],
    );
    const admin = await connectAs('admin');
    const trigger = `test_fail_${id.replace(/-/g, '').slice(-12)}`;
    await admin.query(`CREATE FUNCTION ${trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'test: commit refused'; END $$`);
    await admin.query(
      `CREATE CONSTRAINT TRIGGER ${trigger} AFTER INSERT ON webhook_events DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (NEW.data->>'keyId' = '${id}') EXECUTE FUNCTION ${trigger}()`,
    );
    const state = async () => ({
      marked: (await system.query(`SELECT expiry_notified_at FROM api_keys WHERE id = $1`, [id])).rows[0].expiry_notified_at !== null,
      events: Number((await system.query(`SELECT count(*) FROM webhook_events WHERE type = 'key.expiring' AND data->>'keyId' = $1`, [id])).rows[0].count),
    });
    try {
      // Every worker of the suite runs this job across tenants (rows taken with SKIP LOCKED): a run
      // that finds the key held by another worker's (equally failing) attempt sees nothing to do.
      const refusal = await waitUntil(
        () =>
          worker.app
            .get(MaintenanceProcessor)
            .notifyExpiringKeys()
            .then(
              () => null,
              (error: Error) => error,
            ),
        { what: 'a notice run that takes the key and fails' },
      );
      expect(refusal.message).toMatch(/commit refused/);
      expect(await state()).toEqual({ marked: false, events: 0 });
    } finally {
      await admin.query(`DROP TRIGGER ${trigger} ON webhook_events`);
      await admin.query(`DROP FUNCTION ${trigger}()`);
      await admin.end();
    }
    await worker.app.get(MaintenanceProcessor).notifyExpiringKeys();
    expect(await state()).toEqual({ marked: true, events: 1 });
  });
});
