/**
 * The chart's Redis topology values: Sentinels or a Cluster become the processes' REDIS_SENTINELS /
 * REDIS_SENTINEL_NAME or REDIS_CLUSTER_NODES (in the ConfigMap, and inline for the migration Job),
 * and both at once are refused.
 */
import { findObject, render, renderError } from './helm';
import { FULLNAME } from './scenarios';

const configOf = (values: Record<string, unknown>) => findObject<{ data: Record<string, string> }>(render({ values }), 'ConfigMap', FULLNAME).data;

describe('chart Redis topology', () => {
  it('sets nothing by default (REDIS_URL names the server)', () => {
    const data = configOf({});
    for (const name of ['REDIS_SENTINELS', 'REDIS_SENTINEL_NAME', 'REDIS_CLUSTER_NODES']) expect(data[name]).toBeUndefined();
  });

  it('hands the Sentinels and the master set name to the processes', () => {
    const data = configOf({ redis: { sentinel: { hosts: ['s-0.redis:26379', 's-1.redis:26379', 's-2.redis:26379'], masterName: 'aigw' } } });
    expect(data.REDIS_SENTINELS).toBe('s-0.redis:26379,s-1.redis:26379,s-2.redis:26379');
    expect(data.REDIS_SENTINEL_NAME).toBe('aigw');
    expect(data.REDIS_CLUSTER_NODES).toBeUndefined();
  });

  it('hands the Cluster nodes to the processes', () => {
    const data = configOf({ redis: { cluster: { nodes: ['redis-0.redis:6379', 'redis-1.redis:6379'] } } });
    expect(data.REDIS_CLUSTER_NODES).toBe('redis-0.redis:6379,redis-1.redis:6379');
    expect(data.REDIS_SENTINELS).toBeUndefined();
  });

  it('refuses Sentinels and a Cluster together, and a node that is not host:port', () => {
    expect(renderError({ values: { redis: { sentinel: { hosts: ['s:26379'] }, cluster: { nodes: ['r:6379'] } } } })).toMatch(/mutually exclusive/);
    expect(renderError({ values: { redis: { cluster: { nodes: ['redis-0'] } } } })).toMatch(/redis\/cluster\/nodes/);
  });
});
