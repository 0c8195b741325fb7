import Redis, { Cluster } from 'ioredis';
import { clusterOptions, createRedisClient, isRedisCluster, parseClusterNodes } from './redis-options';

describe('Redis Cluster options', () => {
  const config = { REDIS_URL: 'rediss://u:p%40ss@ignored:1/0', REDIS_CLUSTER_NODES: 'a:7000, [::1]:7001' };

  it('reads REDIS_CLUSTER_NODES as host:port entries', () => {
    expect(parseClusterNodes(config.REDIS_CLUSTER_NODES)).toEqual([{ host: 'a', port: 7000 }, { host: '::1', port: 7001 }]);
    expect(parseClusterNodes('')).toEqual([]);
    expect(() => parseClusterNodes('a')).toThrow(/REDIS_CLUSTER_NODES: "a" is not host:port/);
    expect(isRedisCluster(config)).toBe(true);
    expect(isRedisCluster({ REDIS_URL: config.REDIS_URL, REDIS_CLUSTER_NODES: ' ' })).toBe(false);
  });

  it('puts the offline queue, auto-pipelining and lazy connection on the Cluster, the rest on each node; the URL gives credentials and TLS only', () => {
    const options = clusterOptions(config, { enableOfflineQueue: false, enableAutoPipelining: true, lazyConnect: true, maxRetriesPerRequest: null, connectionName: 'aigateway-test' });
    expect(options).toMatchObject({ enableOfflineQueue: false, enableAutoPipelining: true, lazyConnect: true });
    expect(options.redisOptions).toMatchObject({ username: 'u', password: 'p@ss', tls: {}, maxRetriesPerRequest: null, connectionName: 'aigateway-test' });
    for (const name of ['host', 'port', 'db', 'retryStrategy', 'enableOfflineQueue', 'enableAutoPipelining', 'lazyConnect']) expect(options.redisOptions).not.toHaveProperty(name);
  });

  it('makes a Cluster client when nodes are configured, else a single-server one', () => {
    const cluster = createRedisClient(config, { lazyConnect: true });
    const single = createRedisClient({ REDIS_URL: 'redis://127.0.0.1:1' }, { lazyConnect: true });
    try {
      expect(cluster).toBeInstanceOf(Cluster);
      expect(single).toBeInstanceOf(Redis);
      expect(single).not.toBeInstanceOf(Cluster);
    } finally {
      cluster.disconnect();
      single.disconnect();
    }
  });
});
