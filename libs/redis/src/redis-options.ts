import { RedisOptions } from 'ioredis';

/** Turns REDIS_URL into ioredis options (BullMQ takes options, not a URL). */
export function redisOptionsFromUrl(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname && parsed.pathname !== '/' ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: Number.isFinite(db) ? db : 0,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
    // Reconnect for ever, backing off to 2 s, so a Redis restart heals without restarting us.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  };
}

export interface RedisTopology {
  REDIS_URL: string;
  /** `host:port` of the Sentinels, comma-separated; empty: REDIS_URL is the server itself. */
  REDIS_SENTINELS?: string;
  /** The master set the Sentinels watch. */
  REDIS_SENTINEL_NAME?: string;
}

/**
 * ioredis options for the configured Redis: REDIS_URL alone (one server), or with REDIS_SENTINELS,
 * the master that the Sentinels name REDIS_SENTINEL_NAME (ioredis asks them again after a failover).
 * REDIS_URL then still carries the credentials, database and TLS of the data servers; its host is
 * not used. Every client (the shared one, the billing one, subscribers, BullMQ) is made from this.
 */
export function redisOptions(config: RedisTopology): RedisOptions {
  const options = redisOptionsFromUrl(config.REDIS_URL);
  const sentinels = parseSentinels(config.REDIS_SENTINELS);
  if (!sentinels.length) return options;
  const { host: _host, port: _port, ...rest } = options;
  return {
    ...rest,
    sentinels,
    name: config.REDIS_SENTINEL_NAME || 'mymaster',
    // The Sentinels' own credentials are those of the data servers unless they have none.
    sentinelPassword: rest.password,
    sentinelUsername: rest.username,
    sentinelRetryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    // After a failover, commands sent to the demoted master fail with READONLY: reconnect to the new one.
    reconnectOnError: (error) => /READONLY/.test(error.message),
  };
}

export function parseSentinels(value: string | undefined): Array<{ host: string; port: number }> {
  if (!value?.trim()) return [];
  return value.split(',').map((entry) => {
    const match = /^\s*\[?([^\]\s]+?)\]?:(\d{1,5})\s*$/.exec(entry);
    if (!match) throw new Error(`REDIS_SENTINELS: "${entry.trim()}" is not host:port`);
    return { host: match[1], port: Number(match[2]) };
  });
}
