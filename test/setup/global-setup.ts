import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../../libs/database/src/migrate';
import { generateSigningJwk } from '../../src/modules/auth/signing-jwk';
import { freePort, LocalPostgres, LocalRedis, startEmbeddedPostgres, startRedis } from '../../scripts/local-infra';
import { timeScale } from '../support/timing';

declare global {
  // eslint-disable-next-line no-var
  var __AIGW_INFRA__: { postgres?: LocalPostgres; redis?: LocalRedis; scratch?: string } | undefined;
}

/**
 * Real PostgreSQL and Redis for the whole run: the ones named by DATABASE_URL / REDIS_URL, or a
 * fresh embedded PostgreSQL and a fresh redis-server started here and removed afterwards.
 */
export default async function globalSetup(): Promise<void> {
  // Measured when jest read its configuration (or given): said once, so a slow run explains itself.
  const scale = timeScale();
  process.stderr.write(`\n[test] TEST_TIME_SCALE=${scale}${process.env.TEST_TIME_SCALE_BASIS ? ` (${process.env.TEST_TIME_SCALE_BASIS})` : ' (given)'}\n`);
  try {
    await startInfrastructure();
  } catch (error) {
    // Teardown does not run when setup fails: stop what was started, then report.
    await globalThis.__AIGW_INFRA__?.redis?.stop().catch(() => undefined);
    await globalThis.__AIGW_INFRA__?.postgres?.stop().catch(() => undefined);
    throw error;
  }
}

async function startInfrastructure(): Promise<void> {
  const infra: NonNullable<typeof globalThis.__AIGW_INFRA__> = {};
  globalThis.__AIGW_INFRA__ = infra;
  if (!process.env.DATABASE_URL) {
    const dir = mkdtempSync(join(tmpdir(), 'aigateway-test-pg-'));
    infra.scratch = dir; // removed by the teardown
    chmodSync(dir, 0o755); // PostgreSQL runs as its own user when we are root
    infra.postgres = await startEmbeddedPostgres({ dataDir: join(dir, 'data'), port: await freePort(), persistent: false });
    process.env.DATABASE_URL = infra.postgres.appUrl;
    process.env.DATABASE_ADMIN_URL = infra.postgres.adminUrl;
    process.env.DATABASE_SYSTEM_URL = infra.postgres.systemUrl;
    process.env.TEST_DATABASE_SUPERUSER_URL = infra.postgres.superuserUrl;
  } else if (!process.env.DATABASE_ADMIN_URL || !process.env.DATABASE_SYSTEM_URL) {
    throw new Error('With DATABASE_URL set, also set DATABASE_ADMIN_URL (owner role) and DATABASE_SYSTEM_URL (system role).');
  }
  if (!process.env.REDIS_URL) {
    infra.redis = await startRedis({ port: await freePort() });
    process.env.REDIS_URL = infra.redis.url;
  }
  if (!process.env.JWT_SIGNING_KEYS) {
    // One key for the whole run, so tokens from one test api verify on another.
    process.env.JWT_SIGNING_KEYS = JSON.stringify([await generateSigningJwk()]);
  }
  await migrate({
    adminUrl: process.env.DATABASE_ADMIN_URL!,
    loginUrls: { app: process.env.DATABASE_URL, system: process.env.DATABASE_SYSTEM_URL },
  });
}
