import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { loadConfig } from '@app/config';
import { parseSentinels, RedisConnections, redisOptions } from '@app/redis';
import { lowFreePorts } from '../support/redis-topologies';
import { waitUntil } from '../support/timing';

/**
 * Redis behind Sentinel, with real servers on loopback: a master, its replica and a Sentinel. The
 * processes' one client factory (RedisConnections, also the source of BullMQ's options) finds the
 * master through the Sentinel.
 *
 * A failover under traffic (three Sentinels, the master SIGKILLed) is in
 * test/e2e/redis-sentinel-failover.spec.ts; Redis Cluster in test/e2e/redis-cluster.spec.ts.
 */
describe('Redis through Sentinel (real master, replica and sentinel)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aigateway-sentinel-'));
  const children: ChildProcess[] = [];
  let ports: { master: number; replica: number; sentinel: number };

  const server = (args: string[]): ChildProcess => {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    children.push(child);
    return child;
  };
  const ping = async (port: number) => {
    const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await c.connect();
      return (await c.ping()) === 'PONG';
    } catch {
      return false;
    } finally {
      c.disconnect();
    }
  };
  const role = async (port: number) => {
    const c = new Redis({ port, host: '127.0.0.1' });
    try {
      return ((await c.role()) as unknown[])[0];
    } finally {
      c.disconnect();
    }
  };

  beforeAll(async () => {
    const [master, replica, sentinel] = await lowFreePorts(3);
    ports = { master, replica, sentinel };
    const base = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    server(['--port', String(ports.master), ...base]);
    server(['--port', String(ports.replica), ...base, '--replicaof', '127.0.0.1', String(ports.master)]);
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${ports.sentinel}`,
        'bind 127.0.0.1',
        `sentinel monitor aigw 127.0.0.1 ${ports.master} 1`,
        'sentinel down-after-milliseconds aigw 1000',
        'sentinel failover-timeout aigw 5000',
        '',
      ].join('\n'),
    );
    server([conf, '--sentinel']);
    for (const port of Object.values(ports)) await waitUntil(() => ping(port), { what: `redis on ${port}`, timeoutMs: 10_000 });
    await waitUntil(async () => (await role(ports.replica)) === 'slave', { what: 'the replica attached', timeoutMs: 10_000 });
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads REDIS_SENTINELS and REDIS_SENTINEL_NAME, keeping the credentials and database of REDIS_URL', () => {
    expect(parseSentinels(' a:26379, [::1]:26380')).toEqual([{ host: 'a', port: 26379 }, { host: '::1', port: 26380 }]);
    expect(() => parseSentinels('a')).toThrow(/host:port/);
    const options = redisOptions({ REDIS_URL: 'redis://u:p%40ss@ignored:1/3', REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'aigw' });
    expect(options).toMatchObject({ sentinels: [{ host: 'a', port: 26379 }], name: 'aigw', username: 'u', password: 'p@ss', db: 3 });
    expect(options.host).toBeUndefined();
    expect(() => loadConfig({ ...process.env, REDIS_SENTINELS: 'nope' })).toThrow(/REDIS_SENTINELS/);
  });

  it('finds the master through the Sentinel (the host of REDIS_URL is not used)', async () => {
    const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent', REDIS_URL: 'redis://127.0.0.1:1/0', REDIS_SENTINELS: `127.0.0.1:${ports.sentinel}`, REDIS_SENTINEL_NAME: 'aigw' });
    const connections = new RedisConnections(config);
    const client = connections.open('sentinel-test', { enableOfflineQueue: true, maxRetriesPerRequest: null });
    const direct = new Redis({ port: ports.master, host: '127.0.0.1' });
    try {
      await client.set('k', 'through-sentinel');
      expect(await direct.get('k')).toBe('through-sentinel');
    } finally {
      direct.disconnect();
      await connections.onApplicationShutdown();
    }
  });
});
