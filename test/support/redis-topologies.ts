/**
 * Redis beyond one server, on loopback, for the specs that need their own: a six-node Cluster
 * (three masters, three replicas) and a master with a replica watched by three Sentinels. Each
 * spec starts its own and stops it in afterAll; nothing here touches the suite's shared Redis.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { waitUntil } from './timing';

/**
 * Ports below the ephemeral range (32768-60999 here), chosen at run time: `count` ports in
 * 20000-22767 whose port + 10000 (a Cluster node's bus port, 30000-32767) is free too.
 */
export async function lowFreePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  let candidate = 20000 + Math.floor(Math.random() * 2700);
  for (let tried = 0; ports.length < count; tried++, candidate++) {
    if (tried > 2767) throw new Error('no free ports in 20000-22767');
    if (candidate > 22767) candidate = 20000;
    if ((await free(candidate)) && (await free(candidate + 10000))) ports.push(candidate);
  }
  return ports;
}

function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const BASE = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'];

export class RedisProcesses {
  readonly dir = mkdtempSync(join(tmpdir(), 'aigw-redis-topology-'));
  readonly children = new Map<number, ChildProcess>();

  spawn(port: number, args: string[]): ChildProcess {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    // Never outlive the test process (a crashed run).
    const kill = () => child.exitCode === null && child.kill('SIGKILL');
    process.once('exit', kill);
    child.once('exit', () => process.removeListener('exit', kill));
    this.children.set(port, child);
    return child;
  }

  /** SIGKILL: the server dies at once, as in a crash. */
  async kill(port: number): Promise<void> {
    const child = this.children.get(port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.children.keys()].map((port) => this.kill(port)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One command on one server (no retries). */
export async function ask<T>(port: number, run: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await run(c);
  } finally {
    c.disconnect();
  }
}

const answers = (port: number) => ask(port, async (c) => (await c.ping()) === 'PONG').catch(() => false);

export interface LocalCluster {
  ports: number[];
  /** REDIS_CLUSTER_NODES for these nodes. */
  nodes: string;
  processes: RedisProcesses;
  stop(): Promise<void>;
}

/** Six cluster-enabled servers joined by `redis-cli --cluster create` (one replica per master). */
export async function startCluster(): Promise<LocalCluster> {
  const processes = new RedisProcesses();
  try {
    const ports = await lowFreePorts(6);
    for (const port of ports) {
      processes.spawn(port, [
        '--port', String(port), ...BASE,
        '--dir', processes.dir,
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(processes.dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', '5000',
      ]);
    }
    for (const port of ports) await waitUntil(() => answers(port), { what: `cluster node on ${port}` });
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8' });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`);
    // Every node sees the whole cluster serving every slot, and each replica is attached.
    for (const port of ports) {
      await waitUntil(async () => /cluster_state:ok/.test(String(await ask(port, (c) => c.cluster('INFO')))) || undefined, { what: `cluster state ok on ${port}`, timeoutMs: 30_000 });
      await waitUntil(async () => /cluster_known_nodes:6/.test(String(await ask(port, (c) => c.cluster('INFO')))) || undefined, { what: `six nodes known on ${port}`, timeoutMs: 30_000 });
    }
    return { ports, nodes: ports.map((p) => `127.0.0.1:${p}`).join(','), processes, stop: () => processes.stop() };
  } catch (error) {
    await processes.stop();
    throw error;
  }
}

export interface LocalSentinels {
  master: number;
  replica: number;
  sentinels: number[];
  name: string;
  /** REDIS_SENTINELS for these Sentinels. */
  list: string;
  processes: RedisProcesses;
  stop(): Promise<void>;
}

/**
 * A master, its replica and three Sentinels (quorum 2, down after 2 s, failover timeout 10 s).
 * Returns once the replica is in sync (master_link_status:up, not merely `role` slave) and every
 * Sentinel lists it with its link ok and knows the two other Sentinels, so a kill that follows can
 * always be failed over. The earlier single-Sentinel setup (down after 1 s, failover timeout 5 s,
 * replica checked by role only) never promoted on a loaded machine; its likely causes: a replica
 * killed under before its first sync completed (Sentinel will not promote a replica whose link to
 * the master was never up), and timeouts so short that a slow promotion aborts and is retried only
 * after twice the failover timeout. Measured here on a quiet machine: promotion 3-5 s after SIGKILL.
 */
export async function startSentinels(name = 'aigw'): Promise<LocalSentinels> {
  const processes = new RedisProcesses();
  try {
    const [master, replica, ...sentinels] = await lowFreePorts(5);
    processes.spawn(master, ['--port', String(master), ...BASE, '--dir', processes.dir]);
    processes.spawn(replica, ['--port', String(replica), ...BASE, '--dir', processes.dir, '--replicaof', '127.0.0.1', String(master)]);
    for (const port of [master, replica]) await waitUntil(() => answers(port), { what: `redis on ${port}` });
    await waitUntil(async () => /master_link_status:up/.test(await ask(replica, (c) => c.info('replication'))) || undefined, { what: 'the replica in sync', timeoutMs: 20_000 });
    for (const port of sentinels) {
      const conf = join(processes.dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${processes.dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${master} 2`,
          `sentinel down-after-milliseconds ${name} 2000`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      processes.spawn(port, [conf, '--sentinel']);
    }
    for (const port of sentinels) await waitUntil(() => answers(port), { what: `sentinel on ${port}` });
    for (const port of sentinels) {
      await waitUntil(
        async () => {
          const replicas = (await ask(port, (c) => c.call('SENTINEL', 'REPLICAS', name))) as string[][];
          const others = (await ask(port, (c) => c.call('SENTINEL', 'SENTINELS', name))) as string[][];
          const ok = replicas.some((r) => r[r.indexOf('port') + 1] === String(replica) && r[r.indexOf('flags') + 1] === 'slave' && r[r.indexOf('master-link-status') + 1] === 'ok');
          return (ok && others.length === sentinels.length - 1) || undefined;
        },
        { what: `sentinel ${port} to know the replica and the other sentinels`, timeoutMs: 40_000, intervalMs: 250 },
      );
    }
    return { master, replica, sentinels, name, list: sentinels.map((p) => `127.0.0.1:${p}`).join(','), processes, stop: () => processes.stop() };
  } catch (error) {
    await processes.stop();
    throw error;
  }
}

/** The master the Sentinels name now (its port). */
export async function sentinelMaster(s: LocalSentinels): Promise<number> {
  const [, port] = (await ask(s.sentinels[0], (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', s.name))) as [string, string];
  return Number(port);
}
