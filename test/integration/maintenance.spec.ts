import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { MaintenanceProcessor } from '../../src/modules/maintenance/maintenance.processor';
import { connectAs } from '../support/db';
import { resellerWithUsers } from '../support/identity';
import { RunningApp, startTestWorker } from '../support/app';

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
});
