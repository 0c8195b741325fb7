import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PGBOUNCER_BINARY = process.env.PGBOUNCER_BINARY ?? '/usr/sbin/pgbouncer';

export interface PgBouncer {
  port: number;
  /** The same URL (user, password, database) through PgBouncer. */
  through(url: string): string;
  stop(): Promise<void>;
}

/**
 * A real PgBouncer in transaction pooling mode (what operators put in front of many api pods) in
 * front of the PostgreSQL of `urls`, on `port`. Users and passwords are those of `urls` (plain text
 * in its userlist, so it can log in to PostgreSQL with SCRAM as them). A stock configuration: no
 * `ignore_startup_parameters`, so a client that sends `statement_timeout` at connect time is
 * refused (the processes then run with DATABASE_STATEMENT_TIMEOUT_MS=0 and the roles' own
 * timeout). `poolSize` server connections per user and database (1 makes every client share one).
 */
export async function startPgBouncer(options: { port: number; urls: string[]; poolSize?: number }): Promise<PgBouncer> {
  if (!existsSync(PGBOUNCER_BINARY)) throw new Error(`${PGBOUNCER_BINARY} not found: install Debian's pgbouncer package`);
  const first = new URL(options.urls[0]);
  const dir = mkdtempSync(join(tmpdir(), 'aigateway-pgbouncer-'));
  // PgBouncer runs as the embedded PostgreSQL's user when we are root: it writes its log and pid here.
  chmodSync(dir, 0o777);
  const users = new Map<string, string>();
  for (const url of options.urls) {
    const u = new URL(url);
    users.set(decodeURIComponent(u.username), decodeURIComponent(u.password));
  }
  writeFileSync(join(dir, 'userlist.txt'), [...users].map(([user, password]) => `"${user}" "${password.replace(/"/g, '""')}"`).join('\n') + '\n', { mode: 0o644 });
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${first.hostname} port=${first.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${options.port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 1000',
      `default_pool_size = ${options.poolSize ?? 20}`,
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  // PgBouncer refuses to run as root: it takes the user that runs the embedded PostgreSQL then.
  const asUser = process.getuid?.() === 0 ? ['-u', 'postgres'] : [];
  const child: ChildProcess = spawn(PGBOUNCER_BINARY, [...asUser, join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 15_000;
  while (!(await listening(options.port))) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`pgbouncer did not listen on ${options.port}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port: options.port,
    through: (url: string) => {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(options.port);
      return u.toString();
    },
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
