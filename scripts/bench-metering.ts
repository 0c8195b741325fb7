/**
 * Metering throughput: how many usage events per second the worker persists into usage records
 * and the ledger.
 *
 *   npm run build && node dist/scripts/bench-metering.js [--events 100000] [--tenants 4] [--customers 50] [--risk-rules]
 *
 * --risk-rules: every tenant has all four risk rules on (thresholds no batch reaches), and each
 * customer calls with one key from 16 addresses, so the rules' windows fill up as they would for
 * busy keys (without it, every event has a key of its own).
 *
 * Uses DATABASE_URL / DATABASE_ADMIN_URL / DATABASE_SYSTEM_URL / REDIS_URL when set (the database
 * is migrated; the Redis database is FLUSHED, so point it at a scratch one); otherwise starts a
 * throw-away embedded PostgreSQL and redis-server on free ports and removes them afterwards.
 *
 * It seeds a platform tenant and resellers with customers, fills the tenants' usage streams with
 * N synthetic events in advance (as the proxy's settle step would have), then starts the real
 * worker in this process and measures the time from its start until every event is a usage record
 * posted to the ledger (one transaction per batch and tenant) and every stream is empty. Prints one JSON line with the rate.
 * Worker settings (METERING_BATCH_SIZE, METERING_CONCURRENCY, DATABASE_POOL_SIZE) come from the
 * environment like everywhere else.
 */
import 'reflect-metadata';
import Redis from 'ioredis';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { billingKeys, encodeUsageEvent, USAGE_EVENT_FIELD, UsageEvent } from '../libs/billing/src';
import { loadConfig } from '../libs/config/src';
import { migrate } from '../libs/database/src/migrate';
import { startWorker } from '../src/worker';
import { cpuDelta, cpuSnapshot } from './bench/cpu';
import { freePort, LocalPostgres, LocalRedis, startEmbeddedPostgres, startRedis } from './local-infra';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined; // not Linux, or another host's PostgreSQL
  }
}

async function main(): Promise<void> {
  const events = arg('events', 100_000);
  const tenantCount = arg('tenants', 4);
  const customersPerTenant = arg('customers', 50);
  const riskRules = process.argv.includes('--risk-rules');
  let postgres: LocalPostgres | undefined;
  let redisServer: LocalRedis | undefined;
  let redis: Redis | undefined;
  let scratch: string | undefined;
  try {
    if (!process.env.DATABASE_URL) {
      const dir = (scratch = mkdtempSync(join(tmpdir(), 'aigateway-bench-pg-')));
      chmodSync(dir, 0o755);
      postgres = await startEmbeddedPostgres({ dataDir: join(dir, 'data'), port: await freePort(), persistent: false });
      process.env.DATABASE_URL = postgres.appUrl;
      process.env.DATABASE_ADMIN_URL = postgres.adminUrl;
      process.env.DATABASE_SYSTEM_URL = postgres.systemUrl;
    }
    if (!process.env.REDIS_URL) {
      redisServer = await startRedis({ port: await freePort() });
      process.env.REDIS_URL = redisServer.url;
    }
    await migrate({
      adminUrl: process.env.DATABASE_ADMIN_URL!,
      loginUrls: { app: process.env.DATABASE_URL, system: process.env.DATABASE_SYSTEM_URL },
    });
    const system = new Client({ connectionString: process.env.DATABASE_SYSTEM_URL });
    system.on('error', () => undefined); // the embedded server stopping at the end
    await system.connect();
    redis = new Redis(process.env.REDIS_URL!);
    const r = redis;
    await redis.flushdb();

    // Tenants and customers.
    await system.query(`INSERT INTO tenants (id, type, slug, name) VALUES ($1, 'platform', 'platform', 'AIGateway') ON CONFLICT DO NOTHING`, [uuidv7()]);
    const tenants: Array<{ id: string; customers: string[]; keys: string[] }> = [];
    for (let t = 0; t < tenantCount; t++) {
      const id = uuidv7();
      const slug = `bench-${id.slice(-12)}`;
      await system.query(`INSERT INTO tenants (id, type, slug, name) VALUES ($1, 'reseller', $2, $2)`, [id, slug]);
      const customers = Array.from({ length: customersPerTenant }, () => uuidv7());
      await system.query(
        `INSERT INTO users (id, tenant_id, email, status) SELECT c, $1, c::text || '@bench.localhost', 'active' FROM unnest($2::uuid[]) AS c`,
        [id, customers],
      );
      await system.query(`INSERT INTO user_roles (tenant_id, user_id, role) SELECT $1, c, 'user' FROM unnest($2::uuid[]) AS c`, [id, customers]);
      if (riskRules) {
        await system.query(
          `INSERT INTO risk_rules (tenant_id, rule, enabled, threshold, action)
           VALUES ($1, 'key_velocity', true, 1000000000, 'flag'), ($1, 'key_distinct_ips', true, 1000000000, 'flag'),
                  ($1, 'new_customer_spend', true, 1000000000, 'flag'), ($1, 'balance_drop', true, 1000000000, 'flag')`,
          [id],
        );
      }
      tenants.push({ id, customers, keys: customers.map(() => uuidv7()) });
    }

    // The streams, filled in advance.
    const fillStart = Date.now();
    for (let i = 0; i < events; i += 5000) {
      const pipeline = redis.pipeline();
      for (let j = i; j < Math.min(events, i + 5000); j++) {
        const tenant = tenants[j % tenants.length];
        const retail = 1000 + (j % 977) * 1000;
        const event: UsageEvent = {
          v: 1,
          requestId: uuidv7(),
          tenantId: tenant.id,
          customerId: tenant.customers[j % tenant.customers.length],
          apiKeyId: riskRules ? tenant.keys[j % tenant.customers.length] : uuidv7(),
          channelId: null,
          model: j % 3 === 0 ? 'gpt-4o-mini' : 'gpt-4o',
          upstreamModel: null,
          pool: 'standard',
          inputTokens: 500 + (j % 1000),
          outputTokens: 100 + (j % 400),
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          retailUnits: String(retail),
          wholesaleUnits: String(Math.floor(retail * 0.8)),
          upstreamUnits: String(Math.floor(retail * 0.5)),
          status: 'ok',
          errorCode: null,
          latencyMs: 300,
          ttftMs: 80,
          stream: j % 2 === 0,
          clientIp: riskRules ? `203.0.113.${j % 16}` : '203.0.113.9',
          createdAt: Date.now(),
        };
        pipeline.xadd(billingKeys.usageStream(tenant.id), '*', USAGE_EVENT_FIELD, encodeUsageEvent(event));
      }
      await pipeline.exec();
    }
    const filledIn = Date.now() - fillStart;

    // CPU time of PostgreSQL (the postmaster and its backends) and Redis, from /proc: unlike the
    // rate, it hardly depends on what else the machine runs (other benches, other helpers).
    const backend = (await system.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid as number;
    const postmaster = postgres ? parentPid(backend) : undefined;
    const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
    const cpuGroups = { postgres: [postmaster], redis: [redisPid || undefined] };
    const cpuBefore = cpuSnapshot(cpuGroups);
    const workerCpuBefore = process.cpuUsage();

    // The real worker, measured from its start until everything is persisted.
    const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
    const started = process.hrtime.bigint();
    const worker = await startWorker(config, 0);
    const streams = tenants.map((t) => billingKeys.usageStream(t.id));
    for (;;) {
      const lengths = await Promise.all(streams.map((s) => r.xlen(s)));
      if (lengths.every((n) => n === 0)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    const workerCpu = process.cpuUsage(workerCpuBefore);
    const cpu = cpuDelta(cpuBefore, cpuSnapshot(cpuGroups));
    const perThousand = (ms: number) => Math.round((ms / events) * 1000 * 10) / 10;
    const [{ records }] = (await system.query(`SELECT count(*)::int AS records FROM usage_records`)).rows;
    // Usage is posted per batch and tenant: the ledger must equal the records, to the nano-unit.
    const [{ transactions }] = (await system.query(`SELECT count(*)::int AS transactions FROM ledger_transactions WHERE kind = 'usage'`)).rows;
    const [{ recorded, posted }] = (
      await system.query(
        `SELECT (SELECT coalesce(sum(retail_charge), 0) FROM usage_records)::text AS recorded,
                (SELECT -coalesce(sum(balance), 0) FROM ledger_accounts WHERE kind = 'customer_wallet')::text AS posted`,
      )
    ).rows;
    const [{ entries }] = (await system.query(`SELECT count(*)::int AS entries FROM ledger_entries`)).rows;
    await worker.close();
    const result = {
      events,
      tenants: tenantCount,
      usageRecords: records,
      ledgerTransactions: transactions,
      ledgerEntries: entries,
      ledgerEqualsRecords: recorded === posted,
      batchSize: config.METERING_BATCH_SIZE,
      concurrency: config.METERING_CONCURRENCY,
      fillMs: filledIn,
      elapsedMsIncludingWorkerStart: Math.round(elapsedMs),
      eventsPerSecond: Math.round(events / (elapsedMs / 1000)),
      // CPU ms per 1,000 events (the worker's includes its start and this script's polling).
      cpuMsPer1000Events: { worker: perThousand((workerCpu.user + workerCpu.system) / 1000), postgres: perThousand(cpu.postgres), redis: perThousand(cpu.redis) },
      loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    await system.end();
    if (records !== events || recorded !== posted || transactions === 0) {
      process.stderr.write('not every event was persisted exactly once\n');
      process.exitCode = 1;
    }
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  } finally {
    redis?.disconnect();
    await redisServer?.stop().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(() => process.exit(process.exitCode ?? 0)).catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
