import Redis from 'ioredis';

/**
 * Leases a free logical database (1-15) in db 0, atomically. A lease is held by a Jest worker
 * process for one test file: it is free again once that worker has moved on to another file (each
 * call records the worker's current file). Returns 0 when all 15 are held.
 */
const LEASE_SCRIPT = `
redis.call('SET', 'test:isolated-redis-worker:' .. ARGV[1], ARGV[2])
for i = 0, 14 do
  local n = ((tonumber(ARGV[3]) + i) % 15) + 1
  local lease = redis.call('GET', 'test:isolated-redis-lease:' .. n)
  local free = not lease
  if lease then
    local pid, path = string.match(lease, '^(%d+) (.*)$')
    free = redis.call('GET', 'test:isolated-redis-worker:' .. pid) ~= path
  end
  if free then
    redis.call('SET', 'test:isolated-redis-lease:' .. n, ARGV[1] .. ' ' .. ARGV[2])
    return n
  end
end
return 0
`;

/**
 * A Redis URL on a logical database of this test file's own, for apis and workers that must not
 * share state with other files running at the same time: BullMQ queues (another file's worker
 * would take our mail and send it to its own sink) and login-throttle counters (failures from
 * 127.0.0.1 count against every file).
 *
 * Databases 1-15 are leased, not just handed out in turn: a plain counter wraps around, and in a
 * long run a file would get the database a slow file still uses (whose FLUSHDB, or ours, then
 * deletes the other's queues and job schedulers). A database stays this file's until its Jest
 * worker starts another file that asks for one; the next file finds it with the previous file's
 * keys (flush it if that matters). A file that must FLUSHALL, stop or pause Redis, or that runs
 * long, is safer still on a redis-server of its own (`startRedis` from scripts/local-infra).
 */
export async function isolatedRedisUrl(): Promise<string> {
  const base = process.env.REDIS_URL;
  if (!base) throw new Error('REDIS_URL is not set: run the suite with jest (global-setup starts Redis)');
  // Outside Jest (no file to tie the lease to), each call frees the previous call's database.
  const testPath = (typeof expect === 'undefined' ? undefined : expect.getState().testPath) ?? `unknown-${process.hrtime.bigint()}`;
  const client = new Redis(base, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    // Round-robin start, so that consecutive files use different databases.
    const start = (await client.incr('test:isolated-redis-db')) - 1;
    const db = Number(await client.eval(LEASE_SCRIPT, 0, String(process.pid), testPath, String(start)));
    if (db === 0) throw new Error('all 15 isolated Redis databases are in use by running test files: give this file a redis-server of its own (startRedis)');
    const url = new URL(base);
    url.pathname = `/${db}`;
    return url.toString();
  } finally {
    client.disconnect();
  }
}
