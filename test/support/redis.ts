import Redis from 'ioredis';

/**
 * A Redis URL on a logical database of this test file's own, for apis and workers that must not
 * share state with other files running at the same time: BullMQ queues (another file's worker
 * would take our mail and send it to its own sink) and login-throttle counters (failures from
 * 127.0.0.1 count against every file). Databases 1-15 are handed out in turn by a counter in db 0.
 */
export async function isolatedRedisUrl(): Promise<string> {
  const base = process.env.REDIS_URL;
  if (!base) throw new Error('REDIS_URL is not set: run the suite with jest (global-setup starts Redis)');
  const client = new Redis(base, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const n = await client.incr('test:isolated-redis-db');
    const url = new URL(base);
    url.pathname = `/${((n - 1) % 15) + 1}`;
    return url.toString();
  } finally {
    client.disconnect();
  }
}
