import Redis, { Cluster, ClusterOptions, RedisOptions } from 'ioredis';

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
  /** `host:port` of some Redis Cluster nodes, comma-separated; empty: no cluster. */
  REDIS_CLUSTER_NODES?: string;
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
  return parseHostPorts('REDIS_SENTINELS', value);
}

export function parseClusterNodes(value: string | undefined): Array<{ host: string; port: number }> {
  return parseHostPorts('REDIS_CLUSTER_NODES', value);
}

function parseHostPorts(setting: string, value: string | undefined): Array<{ host: string; port: number }> {
  if (!value?.trim()) return [];
  return value.split(',').map((entry) => {
    const match = /^\s*\[?([^\]\s]+?)\]?:(\d{1,5})\s*$/.exec(entry);
    if (!match) throw new Error(`${setting}: "${entry.trim()}" is not host:port`);
    return { host: match[1], port: Number(match[2]) };
  });
}

/** Whether the configured Redis is a Cluster (REDIS_CLUSTER_NODES set). */
export function isRedisCluster(config: RedisTopology): boolean {
  return Boolean(config.REDIS_CLUSTER_NODES?.trim());
}

/**
 * ioredis Cluster options for REDIS_CLUSTER_NODES. REDIS_URL carries the credentials and TLS of the
 * nodes (its host is not used; a Cluster has database 0 only). `overrides` are the same per-client
 * settings a single-server client takes: the offline queue, auto-pipelining and lazy connection are
 * the Cluster's, the others (connection name, retries per request) each node connection's.
 */
export function clusterOptions(config: RedisTopology, overrides: RedisOptions = {}): ClusterOptions {
  const {
    host: _host,
    port: _port,
    db: _db,
    retryStrategy: _retry,
    enableOfflineQueue,
    enableAutoPipelining,
    lazyConnect,
    ...perNode
  } = { ...redisOptionsFromUrl(config.REDIS_URL), ...overrides };
  return {
    redisOptions: perNode,
    lazyConnect: lazyConnect ?? false,
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableAutoPipelining: enableAutoPipelining ?? false,
    // Reconnect for ever, backing off to 2 s, like a single-server client.
    clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    // During a failover the slots move: commands wait for the new owner (bounded by the redirections).
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
  };
}

/**
 * A client for the configured Redis: one server, the master named by the Sentinels, or a Cluster.
 * A Cluster client answers the same commands (every multi-key command and script here touches one
 * hash slot), so it is handed out with the single-server client's type.
 */
export function createRedisClient(config: RedisTopology, overrides: RedisOptions = {}): Redis {
  const nodes = parseClusterNodes(config.REDIS_CLUSTER_NODES);
  if (!nodes.length) return new Redis({ ...redisOptions(config), ...overrides });
  return new Cluster(nodes, clusterOptions(config, overrides)) as unknown as Redis;
}
