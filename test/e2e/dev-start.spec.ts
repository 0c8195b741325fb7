import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { freePort } from '../../scripts/local-infra';
import { login, me } from '../support/auth';
import { call } from '../support/http';

const ROOT = resolve(__dirname, '..', '..');
const DEV = join(ROOT, 'dist', 'scripts', 'dev.js');
const BANNER_END = 'npm run dev -- --reset starts afresh';
const KEY_LINE = /^\s+(sk-[0-9A-Za-z]{43})$/m;

interface DevRun {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the output up to the banner's last line, or rejects when the process ends first. */
  banner: Promise<string>;
  exited: Promise<number | null>;
}

async function portPairFree(port: number): Promise<boolean> {
  const free = (p: number) =>
    new Promise<boolean>((done) => {
      const server = createServer();
      server.once('error', () => done(false));
      server.listen(p, '0.0.0.0', () => server.close(() => done(true)));
    });
  return (await free(port)) && (await free(port + 1));
}

/**
 * Issue 19, "first run": `npm run dev` as a new user meets it (dist/scripts/dev.js is what
 * scripts/dev.sh runs after installing and building), on free ports with its state in a folder of
 * its own (DEV_DATA_DIR) under a folder other users cannot enter, as a checkout in /root is. As
 * root, PostgreSQL's data then lives under /var/tmp, which is where "delete .data/" used to leave a
 * database behind whose secrets no key could open any more.
 */
describe('npm run dev on a fresh checkout (issue 19)', () => {
  let home: string;
  let data: string;
  let env: NodeJS.ProcessEnv;
  const runs: ChildProcess[] = [];
  const asRoot = process.getuid?.() === 0;

  const start = (args: string[] = []): DevRun => {
    const child = spawn(process.execPath, [DEV, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    runs.push(child);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const banner = new Promise<string>((done, fail) => {
      const check = () => output.includes(BANNER_END) && done(output);
      child.stdout!.on('data', check);
      void exited.then(() => fail(new Error(`npm run dev ended before its banner:\n${output}`)));
    });
    banner.catch(() => undefined); // a run expected to stop is awaited through `exited`
    return { child, output: () => output, banner, exited };
  };

  /** Ctrl-C: the signal goes to the supervising process, which stops everything in order. */
  const ctrlC = async (run: DevRun) => {
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  };

  /** The "Try it" block of the banner, run through a shell as a user pasting it would. */
  const tryIt = (banner: string) => {
    const block = banner.slice(banner.indexOf('Try it')).split('\n').slice(1);
    const script = block.slice(0, block.indexOf('')).join('\n');
    const shell = spawnSync('bash', ['-e', '-c', script], { encoding: 'utf8', timeout: 60_000 });
    return { script, status: shell.status, stdout: shell.stdout, stderr: shell.stderr };
  };

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'aigateway-dev-start-'));
    chmodSync(home, 0o700); // as /root: the postgres user cannot enter
    data = join(home, 'checkout', '.data');
    mkdirSync(join(home, 'checkout'));
    let metrics = await freePort();
    while (!(await portPairFree(metrics))) metrics = await freePort();
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DEV_DATA_DIR: data,
      PORT: String(await freePort()),
      WORKER_PORT: String(await freePort()),
      METRICS_PORT: String(metrics),
      DEV_POSTGRES_PORT: String(await freePort()),
      DEV_REDIS_PORT: String(await freePort()),
      MAIL_SINK_PORT: String(await freePort()),
      FAKE_UPSTREAM_PORT: String(await freePort()),
    };
  });

  afterAll(async () => {
    for (const child of runs) if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    await Promise.all(runs.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((done) => child.once('exit', done)) : null)));
    rmSync(outside(), { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  // A test that failed half-way leaves its run holding the ports: stop it before the next one.
  afterEach(async () => {
    for (const child of runs) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill('SIGINT');
      await new Promise((done) => child.once('exit', done));
    }
  });

  /** Where dev.ts keeps PostgreSQL's data for this DEV_DATA_DIR when we are root. */
  const outside = () => `/var/tmp/aigateway-dev-${createHash('sha256').update(data).digest('hex').slice(0, 12)}`;
  let firstKey = '';

  it('starts with a short start, and every command the banner prints runs as copied', async () => {
    const run = start();
    const output = await run.banner;
    const beforeBanner = output.slice(0, output.indexOf('AIGateway is running')).trimEnd().split('\n');
    // A few lines of what starts, not the api's and worker's JSON logs (those are in .data/logs).
    expect(beforeBanner.filter((line) => /^\[(api|worker)\]/.test(line))).toEqual([]);
    expect(beforeBanner.length).toBeLessThanOrEqual(12);
    expect(output).toContain(`logs      ${join(data, 'logs')}/api.log, worker.log, dev.log`);
    expect(statSync(join(data, 'logs', 'api.log')).size).toBeGreaterThan(0);
    if (asRoot) expect(lstatSync(join(data, 'postgres')).isSymbolicLink()).toBe(true);

    // No placeholders; the real password and key.
    expect(output).not.toMatch(/<[a-z ]+>/);
    firstKey = KEY_LINE.exec(output)![1];
    expect(statSync(join(data, 'demo-api-key')).mode & 0o777).toBe(0o600);

    const shell = tryIt(output);
    expect({ status: shell.status, stderr: shell.stderr }).toEqual({ status: 0, stderr: '' });
    expect(shell.script).toContain(firstKey);
    const answers = shell.stdout.trim().split('\n');
    expect(answers).toHaveLength(3);
    expect(JSON.parse(answers[0])).toMatchObject({ user: { email: 'owner@demo.localhost' }, tenant: { slug: 'demo' } });
    expect(JSON.parse(answers[1]).choices[0].message.content).toBe('Hello from the fake upstream.');
    expect(JSON.parse(answers[2])).toMatchObject({ spendable: '9.999989200' });

    await ctrlC(run);
  }, 240_000);

  it('prints the same demo key after a restart, and the saved key still works; the README walkthrough leaves the demo as it was', async () => {
    const run = start();
    const output = await run.banner;
    expect(KEY_LINE.exec(output)![1]).toBe(firstKey);
    const shell = tryIt(output);
    expect({ status: shell.status, stderr: shell.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(shell.stdout.trim().split('\n')[1]).choices[0].message.content).toBe('Hello from the fake upstream.');

    // README's customers walkthrough, twice: it leaves the demo's roles and bindings as it found them.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Walkthrough with curl'));
    const walkthrough = section
      .slice(section.indexOf('```sh\n') + 6, section.indexOf('\n```', section.indexOf('```sh\n')))
      .replace('API=http://localhost:3000', `API=http://localhost:${env.PORT}`);
    const api = `http://localhost:${env.PORT}`;
    for (let round = 1; round <= 2; round++) {
      const walk = spawnSync('bash', ['-c', walkthrough], { encoding: 'utf8', timeout: 60_000 });
      expect({ round, status: walk.status, stderr: walk.stderr }).toEqual({ round, status: 0, stderr: '' });
      const lines = walk.stdout.trim().split('\n');
      expect(lines.filter((line) => line.startsWith('{"total":')).map((line) => JSON.parse(line).total)).toEqual([2, 1]);
      expect(lines).toContain('["owner","sales"]');
      expect(lines.slice(-2)).toEqual(['["owner"]', '200']);
    }
    const owner = await login(api, { host: 'demo.localhost', email: 'owner@demo.localhost', password: 'Demo-Gateway-2026!' });
    expect((await me(api, owner.body.accessToken, 'demo.localhost')).body.roles).toEqual(['owner']);
    const sales = await login(api, { host: 'demo.localhost', email: 'sales@demo.localhost', password: 'Demo-Gateway-2026!' });
    const theirs = await call(api, 'GET', '/api/v1/customers', { host: 'demo.localhost', token: sales.body.accessToken });
    expect(theirs.body.total).toBe(0);

    await ctrlC(run);
  }, 240_000);

  it('refuses to seal with a new key over data sealed with the lost one, naming --reset; --reset starts afresh', async () => {
    // "Delete .data/ to start afresh": as root the database outlives it under /var/tmp. Elsewhere
    // the database goes with .data/, so losing just the key file is the same mistake.
    if (asRoot) rmSync(data, { recursive: true, force: true });
    else rmSync(join(data, 'channel-encryption-keys.json'));
    const refused = start();
    // It stops on its own; a start that reached its banner instead sealed with the wrong key.
    const outcome = await Promise.race([refused.exited, refused.banner.then(() => 'started anyway', () => 'stopped')]);
    expect(outcome).toBe(1);
    expect(refused.output()).toContain('sealed with another channel encryption key');
    expect(refused.output()).toContain('npm run dev -- --reset');
    expect(existsSync(join(data, 'channel-encryption-keys.json'))).toBe(false);

    const fresh = start(['--reset']);
    const output = await fresh.banner;
    expect(output).toMatch(/reset: removed /);
    expect(output).toMatch(/migrated the database \(\d+ migrations applied\)/);
    const key = KEY_LINE.exec(output)![1];
    expect(key).not.toBe(firstKey);
    const shell = tryIt(output);
    expect({ status: shell.status, stderr: shell.stderr }).toEqual({ status: 0, stderr: '' });
    await ctrlC(fresh);
    if (asRoot) expect(existsSync(outside())).toBe(true);
  }, 300_000);
});
