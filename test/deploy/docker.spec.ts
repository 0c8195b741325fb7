/**
 * The image and the compose stack. Without a Docker engine (as on the development machines and CI
 * here) the image build itself is skipped, saying so; the Dockerfile, the entrypoint, the build
 * context and the compose file are still checked offline.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { CHART_DIR, ROOT } from './helm';

const DOCKERFILE = path.join(ROOT, 'docker/Dockerfile');
const ENTRYPOINT = path.join(ROOT, 'docker/entrypoint.sh');
const COMPOSE_FILE = path.join(ROOT, 'docker/compose.yaml');

interface Stage {
  from: string;
  name?: string;
  instructions: Array<{ op: string; args: string }>;
}

/** Dockerfile stages with their instructions (continuation lines joined, comments dropped). */
function dockerfileStages(text: string): Stage[] {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args)!;
      stages.push({ from: m[1], name: m[2], instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

describe('docker/Dockerfile', () => {
  const stages = dockerfileStages(fs.readFileSync(DOCKERFILE, 'utf8'));
  const final = stages[stages.length - 1];
  const finalArgs = (op: string) => final.instructions.filter((i) => i.op === op).map((i) => i.args);

  it('is multi-stage on Node 24 LTS, building in one stage and running from a fresh one', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.from).toMatch(/^node:\$\{NODE_VERSION\}-bookworm-slim$/);
    expect(fs.readFileSync(DOCKERFILE, 'utf8')).toMatch(/^ARG NODE_VERSION=24(\.\d+)*$/m);
    const build = stages.find((s) => s.name === 'build')!;
    const runs = build.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toMatch(/npm run build/);
    expect(runs).toMatch(/npm prune --omit=dev/);
  });

  it('ships only production dependencies and compiled code in the final stage', () => {
    const copies = finalArgs('COPY');
    expect(copies).toEqual(expect.arrayContaining(['--from=build /app/node_modules ./node_modules', '--from=build /app/dist ./dist']));
    expect(finalArgs('RUN').join('\n')).not.toMatch(/npm (ci|install)|g\+\+|make/);
    expect(copies.some((c) => /(^|\s)\.\s/.test(c) || /\bsrc\b/.test(c))).toBe(false);
  });

  it('runs as a numeric non-root user, with NODE_ENV=production and the process picked by the command', () => {
    const [user] = finalArgs('USER');
    expect(user).toMatch(/^[1-9][0-9]*:[1-9][0-9]*$/);
    expect(finalArgs('ENV').join(' ')).toMatch(/NODE_ENV=production/);
    expect(finalArgs('ENTRYPOINT')).toEqual(['["/usr/bin/tini", "--", "/usr/local/bin/aigateway"]']);
    expect(finalArgs('CMD')).toEqual(['["api"]']);
    // Only /tmp is writable at run time (read-only root filesystem); HOME points there.
    expect(finalArgs('ENV').join(' ')).toMatch(/HOME=\/tmp/);
    expect(finalArgs('VOLUME')).toEqual([]);
  });
});

describe('docker/entrypoint.sh', () => {
  // A stand-in `node` that prints its arguments shows which program the entrypoint starts.
  let bin: string;
  beforeAll(() => {
    bin = fs.mkdtempSync(path.join(os.tmpdir(), 'aigw-entrypoint-'));
    fs.writeFileSync(path.join(bin, 'node'), '#!/bin/sh\necho "node $*"\n', { mode: 0o755 });
  });
  afterAll(() => fs.rmSync(bin, { recursive: true, force: true }));
  const run = (...args: string[]) =>
    spawnSync('sh', [ENTRYPOINT, ...args], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` } }).stdout.trim();

  it('reads VAR_FILE into VAR (secrets, the generated JWT key), refusing both at once', () => {
    const file = path.join(bin, 'keys.json');
    fs.writeFileSync(file, '[{"kid":"k1"}]');
    const show = ['sh', '-c', 'echo "$JWT_SIGNING_KEYS|${JWT_SIGNING_KEYS_FILE:-unset}"'];
    const ok = spawnSync('sh', [ENTRYPOINT, ...show], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', JWT_SIGNING_KEYS_FILE: file } });
    expect(ok.stdout.trim()).toBe('[{"kid":"k1"}]|unset');
    const both = spawnSync('sh', [ENTRYPOINT, 'true'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', JWT_SIGNING_KEYS_FILE: file, JWT_SIGNING_KEYS: 'x' } });
    expect(both.status).toBe(64);
    const missing = spawnSync('sh', [ENTRYPOINT, 'true'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', REDIS_URL_FILE: path.join(bin, 'absent') } });
    expect(missing.status).not.toBe(0);
  });

  it.each([
    [[], 'node /app/dist/src/main.js'],
    [['api'], 'node /app/dist/src/main.js'],
    [['worker'], 'node /app/dist/src/worker.js'],
    [['cli', 'bootstrap', '--email', 'a@b.c', '--domain', 'x y'], 'node /app/dist/src/cli.js bootstrap --email a@b.c --domain x y'],
    [['node', '-e', '1'], 'node -e 1'],
    [['echo', 'anything else'], 'anything else'],
  ])('%j starts %s', (args, expected) => {
    expect(run(...args)).toBe(expected);
  });
});

describe('.dockerignore', () => {
  const patterns = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const allowed = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1).replace(/\/$/, ''));

  it('is an allow-list, so local state (.env, .git, node_modules, dist, .data) never reaches the build', () => {
    expect(patterns[0]).toBe('**');
    for (const forbidden of ['.env', '.git', 'node_modules', 'dist', '.data', '.tools', 'test', 'helm']) expect(allowed).not.toContain(forbidden);
  });

  it('lets in everything `npm ci` and `npm run build` read', () => {
    const tsconfigBuild = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8'));
    // web/: the console, which npm run build builds into dist/web.
    const needed = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'nest-cli.json', 'docker/entrypoint.sh', 'web', ...tsconfigBuild.include];
    expect(allowed).toEqual(expect.arrayContaining(needed));
  });
});

describe('docker/compose.yaml', () => {
  const compose = parse(fs.readFileSync(COMPOSE_FILE, 'utf8'), { merge: true });
  const services = compose.services as Record<string, any>;
  const env = (service: string): Record<string, string> => services[service].environment;

  it('has the full stack', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'grafana', 'jwt-key', 'mailpit', 'migrate', 'postgres', 'prometheus', 'redis', 'worker']);
  });

  it('runs Redis with noeviction and AOF persistence, as BullMQ requires', () => {
    const command = services.redis.command.join(' ');
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect(command).toMatch(/--appendonly yes/);
  });

  it('creates the owner role and database on first start, and lets migrate create the other roles', () => {
    const init = services.postgres.volumes.find((v: string) => v.includes('docker-entrypoint-initdb.d'));
    const script = path.resolve(ROOT, 'docker', init.split(':')[0]);
    expect(fs.existsSync(script)).toBe(true);
    const sql = fs.readFileSync(script, 'utf8');
    expect(sql).toMatch(/CREATE ROLE aigateway_owner LOGIN CREATEROLE NOSUPERUSER/);
    expect(sql).toMatch(/CREATE DATABASE aigateway OWNER aigateway_owner/);
    const owner = /^postgres:\/\/([^:]+):/.exec(env('migrate').DATABASE_ADMIN_URL)![1];
    expect(owner).toBe('aigateway_owner');
  });

  it('migrates, bootstraps and seeds once before api and worker start', () => {
    const script = services.migrate.command.join(' ');
    expect(script.indexOf('cli.js migrate')).toBeGreaterThan(-1);
    expect(script.indexOf('cli.js bootstrap')).toBeGreaterThan(script.indexOf('cli.js migrate'));
    expect(script.indexOf('cli.js seed-demo')).toBeGreaterThan(script.indexOf('cli.js bootstrap'));
    expect(script).toContain('--password-env BOOTSTRAP_OWNER_PASSWORD');
    expect(services.migrate.depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
      'jwt-key': { condition: 'service_completed_successfully' },
    });
    for (const service of ['api', 'worker']) expect(services[service].depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' } });
  });

  it('builds one image for migrate, api and worker, hardened like the chart', () => {
    for (const service of ['migrate', 'api', 'worker']) {
      const s = services[service];
      expect(s.image).toBe('aigateway:local');
      expect(s.build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
      expect(s.read_only).toBe(true);
      expect(s.tmpfs).toEqual([expect.stringMatching(/^\/tmp\b/)]);
      expect(s.cap_drop).toEqual(['ALL']);
      expect(s.security_opt).toContain('no-new-privileges:true');
    }
    expect(services.api.command).toEqual(['api']);
    expect(services.worker.command).toEqual(['worker']);
  });

  it('generates the JWT signing key once into a volume that migrate, api and worker read', () => {
    const keyService = services['jwt-key'];
    expect(keyService.image).toBe('aigateway:local');
    const [volumeName, keyDir] = keyService.volumes[0].split(':');
    const script = keyService.command.join('\n');
    expect(script).toContain('if [ ! -s /keys/jwt-signing-keys.json ]'); // never replaced once made
    expect(script).toContain('node /app/dist/src/cli.js generate-jwt-key');
    expect(script).toMatch(/key="\$\$\(node [^)]*\)"/); // assignment, so a failing generator stops the script
    for (const service of ['migrate', 'api', 'worker']) {
      const file = env(service).JWT_SIGNING_KEYS_FILE;
      const mount = services[service].volumes.find((v: string) => v.startsWith(`${volumeName}:`));
      expect(mount).toMatch(/:ro$/);
      expect(file).toBe(`${mount.split(':')[1]}/jwt-signing-keys.json`);
      expect(keyDir).toBe('/keys');
    }
  });

  it('gives each process only the database roles it uses', () => {
    expect(Object.keys(env('api'))).not.toContain('DATABASE_ADMIN_URL');
    expect(Object.keys(env('api'))).not.toContain('DATABASE_SYSTEM_URL');
    expect(Object.keys(env('worker'))).toContain('DATABASE_SYSTEM_URL');
    expect(Object.keys(env('worker'))).not.toContain('DATABASE_ADMIN_URL');
    expect(Object.keys(env('migrate'))).toEqual(expect.arrayContaining(['DATABASE_ADMIN_URL', 'DATABASE_SYSTEM_URL', 'DATABASE_URL', 'REDIS_URL']));
  });

  it('stops api and worker after their graceful shutdown, and checks their readiness', () => {
    for (const [service, portVar] of [['api', 'PORT'], ['worker', 'WORKER_PORT']]) {
      const s = services[service];
      expect(parseInt(s.stop_grace_period, 10)).toBeGreaterThan(Number(env(service).SHUTDOWN_GRACE_MS) / 1000);
      expect(s.healthcheck.test.join(' ')).toContain(`http://127.0.0.1:${env(service)[portVar]}/health/ready`);
    }
  });

  it('has Prometheus scrape api and worker on their metrics ports as jobs "api" and "worker", like the chart', () => {
    const volume = services.prometheus.volumes.find((v: string) => v.endsWith('/etc/prometheus/prometheus.yml:ro'));
    const config = parse(fs.readFileSync(path.resolve(ROOT, 'docker', volume.split(':')[0]), 'utf8'));
    const jobs = Object.fromEntries(config.scrape_configs.map((c: any) => [c.job_name, c]));
    expect(jobs.api.static_configs[0].targets).toEqual([`api:${env('api').METRICS_PORT}`]);
    expect(jobs.worker.static_configs[0].targets).toEqual([`worker:${env('worker').METRICS_PORT}`]);
    // Never the traffic port, and never published on the host.
    expect(env('api').METRICS_PORT).not.toBe(env('api').PORT);
    for (const service of ['api', 'worker']) {
      expect((services[service].ports ?? []).map((p: string) => p.split(':').pop())).not.toContain(env(service).METRICS_PORT);
    }
    for (const job of ['api', 'worker']) {
      expect(jobs[job].metrics_path).toBe('/metrics');
      expect(Object.keys(jobs[job].static_configs[0].labels).sort()).toEqual(['namespace', 'pod', 'service']);
    }
  });

  it('provisions Grafana with a Prometheus datasource and the chart\'s dashboards (one copy)', () => {
    const volumes: string[] = services.grafana.volumes;
    const dashboards = volumes.find((v) => path.resolve(ROOT, 'docker', v.split(':')[0]) === CHART_DIR + '/dashboards')!;
    expect(dashboards).toBeDefined();
    const mountPath = dashboards.split(':')[1];
    const provisioning = volumes.find((v) => v.split(':')[1] === '/etc/grafana/provisioning')!;
    const provisioningDir = path.resolve(ROOT, 'docker', provisioning.split(':')[0]);
    const provider = parse(fs.readFileSync(path.join(provisioningDir, 'dashboards/aigateway.yaml'), 'utf8'));
    expect(provider.providers[0].options.path).toBe(mountPath);
    const datasource = parse(fs.readFileSync(path.join(provisioningDir, 'datasources/prometheus.yaml'), 'utf8')).datasources[0];
    expect(datasource.type).toBe('prometheus');
    expect(datasource.url).toBe('http://prometheus:9090');
  });
});

describe('image build', () => {
  const engine = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
  if (!engine) {
    // eslint-disable-next-line no-console
    console.log('Skipping the image build: no Docker engine here (`docker info` failed). It runs wherever one is available.');
  }
  (engine ? it : it.skip)(
    'builds, and the image runs as 10001 with a read-only root filesystem and loads argon2',
    () => {
      const tag = `aigateway:deploy-test-${process.pid}`;
      const build = spawnSync('docker', ['build', '-f', DOCKERFILE, '-t', tag, ROOT], { encoding: 'utf8', timeout: 20 * 60_000 });
      expect(build.stderr + build.stdout).not.toMatch(/ERROR/);
      expect(build.status).toBe(0);
      try {
        const run = spawnSync(
          'docker',
          ['run', '--rm', '--read-only', '--tmpfs', '/tmp', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', tag, 'node', '-e',
            "require('argon2'); require('fs').writeFileSync('/tmp/probe', 'x'); console.log(process.getuid() + ':' + process.env.NODE_ENV)"],
          { encoding: 'utf8', timeout: 120_000 },
        );
        expect(run.stderr).toBe('');
        expect(run.stdout.trim()).toBe('10001:production');
        const entries = spawnSync('docker', ['run', '--rm', '--read-only', tag, 'node', '-e', "for (const f of ['main', 'worker', 'cli']) require.resolve('/app/dist/src/' + f + '.js')"], { encoding: 'utf8', timeout: 120_000 });
        expect(entries.stderr).toBe('');
        expect(entries.status).toBe(0);
      } finally {
        spawnSync('docker', ['rmi', '-f', tag], { stdio: 'ignore' });
      }
    },
    25 * 60_000,
  );
});
