/**
 * `npm run bench`: the gateway with billing on, against the upstream directly and a bare proxy,
 * on this machine, end to end (issue 14). Starts its own PostgreSQL and Redis (throw-away), the
 * fake upstream, the bare proxy, and the real api and worker from dist/; seeds the demo (a channel
 * to the fake, prices, a funded customer and a key) with `cli seed-demo`; drives the same requests
 * at the same concurrency for the same time against each target; measures the metering pipeline
 * on its own; records peak memory; checks every gateway request was metered exactly once and the
 * wallet moved by exactly the sum charged (exit 1 if not); prints one table and writes it to
 * docs/benchmarks.md.
 *
 * Two kinds of rows (issue 29): saturation (closed loop, c=1 and c=32: throughput and its
 * latency) and fixed rate (open loop, BENCH_RATES requests per second sent on a schedule whatever
 * the answers do: the latency an operator sees at a given load, compared with the bare proxy at
 * the same rate). The open-source Portkey gateway (`@portkey-ai/gateway`, a dev dependency),
 * pointed at the same fake upstream through its custom-host header, is a peer row; when it cannot
 * start or answer a mode, the bench says so and goes on.
 *
 *   BENCH_SECONDS=10 npm run bench        (seconds per target and row; default 10)
 *   BENCH_ROUNDS=5                         (the seconds are split into this many interleaved turns)
 *   BENCH_RATES=500,1000                   (fixed-rate rows, requests per second)
 *   npm run bench -- --short               (2 s per row in 1 turn, metering on 20,000 events: a smoke run, no table written)
 *   npm run bench -- --node 24.22.3        (every process on that Node.js release; see scripts/bench.sh)
 *   BENCH_OUT=docs/benchmarks-node20.md    (write the table there instead of docs/benchmarks.md)
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';
import { migrate } from '../../libs/database/src/migrate';
import { freePort, LocalPostgres, LocalRedis, startEmbeddedPostgres, startRedis } from '../local-infra';
import { generateSigningJwk } from '../../src/modules/auth/signing-jwk';
import { cpuDelta, cpuSnapshot } from './cpu';
import { LoadResult, mergeLoads, mergeOpenLoops, OpenLoopResult, runLoad, runOpenLoop } from './load';

const ROOT = resolve(__dirname, '..', '..', '..');
const SHORT = process.argv.includes('--short');
const SECONDS = Number(process.env.BENCH_SECONDS ?? (SHORT ? 2 : 10));
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? (SHORT ? 1 : 5)));
const RATES = (process.env.BENCH_RATES ?? '500,1000').split(',').filter(Boolean).map(Number);
const PORTKEY = join(ROOT, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
const MODEL = 'gpt-4o-mini';
const DEMO_DOMAIN = 'demo.localhost';
const DEMO_PASSWORD = 'Bench-Gateway-2026!';

interface Proc {
  name: string;
  child: ChildProcess;
  output: string[];
}

function startProcess(name: string, args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { name, child, output };
}

async function waitFor(url: string, what: string, proc?: Proc, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc && proc.child.exitCode !== null) throw new Error(`${what} exited (${proc.child.exitCode}):\n${proc.output.join('').slice(-3000)}`);
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not come up at ${url}`);
}

/** Resident set size of a process now (VmRSS), in MB. */
function rssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  return kb / 1024;
}

/** Peak resident set size of a process (VmHWM), in MB. */
function peakRssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** A fixed-rate (open-loop) row. */
interface RateRow {
  target: string;
  mode: string;
  rate: number;
  result: OpenLoopResult;
  cpuPerRequest: Record<string, number>;
  /** The api's own view of the run (gateway rows): what stalled its event loop. */
  loop?: LoopStats;
}

/** The api's event-loop delay and garbage collection over one measured run (from its /metrics). */
interface LoopStats {
  /** Event-loop delay, p99 and max over the run's turns (ms; monitorEventLoopDelay, 10 ms resolution). */
  delayP99Ms: number;
  delayMaxMs: number;
  /** Milliseconds spent in garbage collection per second of the run, and pauses longer than 10 ms. */
  gcMsPerSecond: number;
  gcPausesOver10Ms: number;
}

/**
 * Reads the api's default Node metrics. prom-client resets its event-loop delay histogram at each
 * scrape and nothing else scrapes the bench's api, so a scrape at the start and one at the end of a
 * run give that run's delays; GC figures are cumulative and taken as differences.
 */
async function scrapeLoop(metricsUrl: string): Promise<{ delayP99: number; delayMax: number; gcSeconds: number; gcCount: number; gcUnder10ms: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const sum = (pattern: RegExp) => [...text.matchAll(pattern)].reduce((total, m) => total + Number(m[1]), 0);
  return {
    delayP99: sum(/^nodejs_eventloop_lag_p99_seconds(?:\{[^}]*\})? (\S+)$/gm),
    delayMax: sum(/^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? (\S+)$/gm),
    gcSeconds: sum(/^nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)$/gm),
    gcCount: sum(/^nodejs_gc_duration_seconds_count\{[^}]*\} (\S+)$/gm),
    gcUnder10ms: sum(/^nodejs_gc_duration_seconds_bucket\{(?=[^}]*le="0\.01")[^}]*\} (\S+)$/gm),
  };
}

interface Row {
  target: string;
  mode: string;
  concurrency: number;
  result: LoadResult;
  /** CPU milliseconds per successful request, by process group, during the measured run. */
  cpuPerRequest: Record<string, number>;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const scratch = mkdtempSync(join(tmpdir(), 'aigateway-bench-'));
  chmodSync(scratch, 0o755);
  const procs: Proc[] = [];
  let postgres: LocalPostgres | undefined;
  let redis: LocalRedis | undefined;
  const stopAll = async () => {
    for (const p of procs.reverse()) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await redis?.stop().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    say(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
    say('starting PostgreSQL and Redis...');
    postgres = await startEmbeddedPostgres({ dataDir: join(scratch, 'pg'), port: await freePort(), persistent: false });
    redis = await startRedis({ port: await freePort() });
    await migrate({ adminUrl: postgres.adminUrl, loginUrls: { app: postgres.appUrl, system: postgres.systemUrl } });

    const [upstreamPort, barePort, apiPort, workerPort, apiMetrics, workerMetrics, portkeyPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const upstream = `http://127.0.0.1:${upstreamPort}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      DATABASE_URL: postgres.appUrl,
      DATABASE_ADMIN_URL: postgres.adminUrl,
      DATABASE_SYSTEM_URL: postgres.systemUrl,
      REDIS_URL: redis.url,
      JWT_SIGNING_KEYS: JSON.stringify([await generateSigningJwk()]),
      CHANNEL_ENCRYPTION_KEYS: JSON.stringify([{ kid: 'bench', k: Buffer.alloc(32, 7).toString('base64url') }]),
      CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true',
      FAKE_UPSTREAM_URL: `${upstream}/v1`,
      PUBLIC_URL: `http://localhost:${apiPort}`,
      INFERENCE_SPOOL_DIR: join(scratch, 'spool'),
      DEMO_PASSWORD,
    };
    mkdirSync(env.INFERENCE_SPOOL_DIR!, { recursive: true });

    procs.push(startProcess('upstream', ['dist/scripts/fake-upstream.js', String(upstreamPort)], env));
    procs.push(startProcess('bare proxy', ['dist/scripts/bench/bare-proxy.js', String(barePort), upstream], env));
    say('seeding the demo (channel to the fake, prices, funded customer, key)...');
    const seed = execFileSync(process.execPath, ['dist/src/cli.js', 'seed-demo', '--platform-domain', 'localhost', '--reseller-domain', DEMO_DOMAIN], { cwd: ROOT, env, encoding: 'utf8' });
    const apiKey = /\bsk-[A-Za-z0-9]{20,}\b/.exec(seed)?.[0];
    if (!apiKey) throw new Error(`seed-demo printed no API key:\n${seed}`);

    // BENCH_CPU_PROF=<dir>: the api and the worker write V8 CPU profiles there when they stop (see the README).
    const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${resolve(process.env.BENCH_CPU_PROF)}`] : [];
    // Node flags of the api and worker as the image and the chart set them (NODE_OPTIONS: the V8
    // heap cap); BENCH_NODE_FLAGS replaces them to try others.
    const flags = (process.env.BENCH_NODE_FLAGS ?? '--max-old-space-size=256 --max-semi-space-size=16').split(' ').filter(Boolean);
    const api = startProcess('api', [...flags, ...profile, 'dist/src/main.js'], { ...env, PORT: String(apiPort), METRICS_PORT: String(apiMetrics) });
    const worker = startProcess('worker', [...flags, ...profile, 'dist/src/worker.js'], { ...env, WORKER_PORT: String(workerPort), METRICS_PORT: String(workerMetrics) });
    procs.push(api, worker);
    await Promise.all([
      waitFor(`${upstream}/v1/models`, 'the fake upstream', procs[0]),
      waitFor(`http://127.0.0.1:${barePort}/v1/models`, 'the bare proxy', procs[1]),
      waitFor(`http://127.0.0.1:${apiPort}/health/ready`, 'the api', api),
      waitFor(`http://127.0.0.1:${workerPort}/health/ready`, 'the worker', worker),
    ]);

    say(`resident memory after start: api ${rssMb(api.child.pid).toFixed(0)} MB, worker ${rssMb(worker.child.pid).toFixed(0)} MB`);

    // The peer: Portkey's open-source gateway, as its README starts it, against the same fake upstream.
    let portkey: Proc | undefined;
    const portkeyProblems: string[] = [];
    if (!existsSync(PORTKEY)) {
      portkeyProblems.push('not installed (@portkey-ai/gateway is a dev dependency)');
    } else {
      portkey = startProcess('portkey', [PORTKEY, `--port=${portkeyPort}`, '--headless'], { ...env, PORT: String(portkeyPort), NODE_ENV: 'production' });
      procs.push(portkey);
      await waitFor(`http://127.0.0.1:${portkeyPort}/`, 'portkey', portkey, 30_000).catch((error: Error) => {
        portkeyProblems.push(`did not start: ${error.message.split('\n')[0]}`);
        portkey = undefined;
      });
    }

    // A wallet big enough for the whole run, through the ledger API as the demo owner.
    const base = `http://127.0.0.1:${apiPort}`;
    const host = { host: DEMO_DOMAIN };
    const login = await jsonWithHost(`${base}/api/v1/auth/login`, 'POST', host.host, { email: `owner@${DEMO_DOMAIN}`, password: DEMO_PASSWORD });
    const auth = { authorization: `Bearer ${login.accessToken}` };
    const customers = await jsonWithHost(`${base}/api/v1/customers?q=user@${DEMO_DOMAIN}`, 'GET', host.host, undefined, auth);
    const customerId: string = customers.items?.[0]?.id ?? customers.data?.[0]?.id;
    if (!customerId) throw new Error(`the demo customer was not found: ${JSON.stringify(customers).slice(0, 300)}`);
    await jsonWithHost(`${base}/api/v1/customers/${customerId}/credits`, 'POST', host.host, { amount: '1000', note: 'benchmark', reference: `bench-${Date.now()}` }, auth);

    const system = new Client({ connectionString: postgres.systemUrl });
    await system.connect();
    const walletBefore = await walletBalance(system, customerId);

    const chatBody = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say hello in five words.' }], max_tokens: 64 });
    const streamBody = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say hello in five words.' }], max_tokens: 64, stream: true });
    // The coding agents' protocols (issue 23), streamed: the gateway translates them to the demo
    // channel's chat stream, so the upstream and the floor are measured on that same chat stream.
    const agentRoutes: Record<string, { path: string; body: string }> = {
      messages: { path: '/v1/messages', body: JSON.stringify({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'Say hello in five words.' }], stream: true }) },
      responses: { path: '/v1/responses', body: JSON.stringify({ model: MODEL, max_output_tokens: 64, input: 'Say hello in five words.', stream: true }) },
    };
    const targets: Array<{ name: string; url: string; headers: Record<string, string> }> = [
      { name: 'upstream (direct)', url: `${upstream}/v1/chat/completions`, headers: { authorization: 'Bearer sk-fake', 'content-type': 'application/json' } },
      { name: 'bare proxy (floor)', url: `http://127.0.0.1:${barePort}/v1/chat/completions`, headers: { authorization: 'Bearer sk-fake', 'content-type': 'application/json' } },
      { name: 'gateway', url: `${base}/v1/chat/completions`, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', host: DEMO_DOMAIN } },
    ];
    const portkeyTarget = {
      name: 'portkey (peer)',
      url: `http://127.0.0.1:${portkeyPort}/v1/chat/completions`,
      headers: { authorization: 'Bearer sk-fake', 'content-type': 'application/json', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${upstream}/v1` },
    };
    // Portkey runs a mode only if it answers it like the upstream does (checked once per mode).
    const portkeyModes = new Set<string>();
    if (portkey) {
      for (const mode of ['chat', 'stream']) {
        const problem = await probe(portkeyTarget.url, portkeyTarget.headers, mode === 'chat' ? chatBody : streamBody, mode === 'stream');
        if (problem) portkeyProblems.push(`${mode}: ${problem}${/immutable/.test(portkey.output.join('')) ? ' (its log: "TypeError: immutable")' : ''}`);
        else portkeyModes.add(mode);
      }
    }
    if (portkeyProblems.length > 0) say(`portkey: ${portkeyProblems.join('; ')} (its rows are left out, the bench goes on)`);
    const targetsOf = (mode: string) => [...targets, ...(portkeyModes.has(mode) ? [portkeyTarget] : [])];
    const rows: Row[] = [];
    let gatewayOk = 0;
    // BENCH_ONLY=gateway (or a comma list of target name prefixes) for profiling runs; the table needs all.
    const only = process.env.BENCH_ONLY?.split(',');
    const modes = (process.env.BENCH_MODES?.split(',') ?? ['chat', 'stream', 'messages', 'responses']) as Array<'chat' | 'stream' | 'messages' | 'responses'>;
    const concurrencies = process.env.BENCH_CONCURRENCY?.split(',').map(Number) ?? [1, 32];
    const postmaster = Number(readFileSync(join(scratch, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const apiMetricsUrl = `http://127.0.0.1:${apiMetrics}/metrics`;
    const groups = {
      api: [api.child.pid],
      worker: [worker.child.pid],
      postgres: [postmaster],
      redis: [redis.process.pid],
      upstream: [procs[0].child.pid],
      'bare proxy': [procs[1].child.pid],
      portkey: [portkey?.child.pid],
    };
    // The machine's speed drifts by tens of percent within minutes (other tenants of the host), so
    // the targets of one row are measured in turns: BENCH_ROUNDS rounds, each giving every target
    // SECONDS / ROUNDS, and each target's rounds merged (counts added, percentiles over all
    // samples). A share of the floor then compares runs taken in the same minutes.
    const rounds = ROUNDS;
    for (const mode of modes) {
      for (const concurrency of concurrencies) {
        const chosen = targetsOf(mode).filter((t) => !only || only.some((o) => t.name.startsWith(o)));
        const runs = new Map<string, LoadResult[]>(chosen.map((t) => [t.name, []]));
        const cpuTotals = new Map<string, Record<string, number>>(chosen.map((t) => [t.name, {}]));
        for (let round = 0; round < rounds; round++) {
          for (const target of chosen) {
            let cpuBefore: ReturnType<typeof cpuSnapshot> = {};
            let generatorBefore = process.cpuUsage();
            const result = await runLoad({
              onMeasureStart: () => {
                cpuBefore = cpuSnapshot(groups);
                generatorBefore = process.cpuUsage();
              },
              url: target.name === 'gateway' && agentRoutes[mode] ? `${base}${agentRoutes[mode].path}` : target.url,
              headers: target.headers,
              body: target.name === 'gateway' && agentRoutes[mode] ? agentRoutes[mode].body : mode === 'chat' ? chatBody : streamBody,
              concurrency,
              durationMs: (SECONDS * 1000) / rounds,
              stream: mode !== 'chat',
              warmupRequests: concurrency * 20,
            });
            const generator = process.cpuUsage(generatorBefore);
            const cpu = { ...cpuDelta(cpuBefore, cpuSnapshot(groups)), 'load generator': (generator.user + generator.system) / 1000 };
            const totals = cpuTotals.get(target.name)!;
            for (const [k, ms] of Object.entries(cpu)) totals[k] = (totals[k] ?? 0) + ms;
            runs.get(target.name)!.push(result);
            if (target.name === 'gateway') gatewayOk += result.requests + result.warmupOk;
          }
        }
        for (const target of chosen) {
          const result = mergeLoads(runs.get(target.name)!);
          const cpuPerRequest = Object.fromEntries(Object.entries(cpuTotals.get(target.name)!).map(([k, ms]) => [k, ms / Math.max(1, result.requests)]));
          rows.push({ target: target.name, mode, concurrency, result, cpuPerRequest });
          say(
            `${mode.padEnd(6)} c=${String(concurrency).padEnd(2)} ${target.name.padEnd(18)} ${result.rps.toFixed(0).padStart(6)} req/s  p50 ${result.latencyMs.p50.toFixed(2)} ms  p99 ${result.latencyMs.p99.toFixed(2)} ms` +
              (result.ttftMs ? `  ttft p50 ${result.ttftMs.p50.toFixed(2)} ms` : '') +
              (result.errors ? `  errors ${result.errors} ${JSON.stringify(result.errorStatuses)}` : '') +
              (rounds > 1 ? `  (rounds: ${runs.get(target.name)!.map((r) => r.rps.toFixed(0)).join(', ')} req/s)` : ''),
          );
          say(`  cpu ms/request: ${Object.entries(cpuPerRequest).filter(([, v]) => v >= 0.005).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`);
        }
      }
    }
    // Fixed rate (open loop): the bare proxy, the gateway and the peer at the same offered rates, in turns.
    const rateRows: RateRow[] = [];
    for (const mode of modes.filter((m) => m === 'chat' || m === 'stream')) {
      for (const rate of RATES) {
        const chosen = targetsOf(mode).filter((t) => !t.name.startsWith('upstream') && (!only || only.some((o) => t.name.startsWith(o))));
        const runs = new Map<string, OpenLoopResult[]>(chosen.map((t) => [t.name, []]));
        const cpuTotals = new Map<string, Record<string, number>>(chosen.map((t) => [t.name, {}]));
        const loops: LoopStats[] = [];
        for (let round = 0; round < rounds; round++) {
          for (const target of chosen) {
            let cpuBefore: ReturnType<typeof cpuSnapshot> = {};
            let generatorBefore = process.cpuUsage();
            const isGateway = target.name === 'gateway';
            let loopBefore: ReturnType<typeof scrapeLoop> | null = null;
            let measureStarted = 0;
            const result = await runOpenLoop({
              onMeasureStart: () => {
                cpuBefore = cpuSnapshot(groups);
                generatorBefore = process.cpuUsage();
                measureStarted = performance.now();
                if (isGateway) loopBefore = scrapeLoop(apiMetricsUrl);
              },
              url: target.url,
              headers: target.headers,
              body: mode === 'chat' ? chatBody : streamBody,
              rate,
              durationMs: (SECONDS * 1000) / rounds,
              stream: mode !== 'chat',
              warmupMs: 500,
            });
            const generator = process.cpuUsage(generatorBefore);
            const cpu = { ...cpuDelta(cpuBefore, cpuSnapshot(groups)), 'load generator': (generator.user + generator.system) / 1000 };
            const totals = cpuTotals.get(target.name)!;
            for (const [k, ms] of Object.entries(cpu)) totals[k] = (totals[k] ?? 0) + ms;
            runs.get(target.name)!.push(result);
            if (isGateway && loopBefore) {
              const seconds = (performance.now() - measureStarted) / 1000;
              const [before, after] = await Promise.all([loopBefore as ReturnType<typeof scrapeLoop>, scrapeLoop(apiMetricsUrl)]);
              const gcCount = after.gcCount - before.gcCount;
              loops.push({
                delayP99Ms: after.delayP99 * 1000,
                delayMaxMs: after.delayMax * 1000,
                gcMsPerSecond: ((after.gcSeconds - before.gcSeconds) * 1000) / seconds,
                gcPausesOver10Ms: gcCount - (after.gcUnder10ms - before.gcUnder10ms),
              });
            }
            if (isGateway) gatewayOk += result.requests + result.warmupOk;
          }
        }
        for (const target of chosen) {
          const result = mergeOpenLoops(runs.get(target.name)!);
          const cpuPerRequest = Object.fromEntries(Object.entries(cpuTotals.get(target.name)!).map(([k, ms]) => [k, ms / Math.max(1, result.requests)]));
          // Over the turns: the worst p99 and max delay, GC time averaged, long pauses added up.
          const loop: LoopStats | undefined =
            target.name === 'gateway' && loops.length
              ? {
                  delayP99Ms: Math.max(...loops.map((l) => l.delayP99Ms)),
                  delayMaxMs: Math.max(...loops.map((l) => l.delayMaxMs)),
                  gcMsPerSecond: loops.reduce((t, l) => t + l.gcMsPerSecond, 0) / loops.length,
                  gcPausesOver10Ms: loops.reduce((t, l) => t + l.gcPausesOver10Ms, 0),
                }
              : undefined;
          rateRows.push({ target: target.name, mode, rate, result, cpuPerRequest, loop });
          if (loop) say(`  api event loop: delay p99 ${loop.delayP99Ms.toFixed(1)} ms, max ${loop.delayMaxMs.toFixed(1)} ms; GC ${loop.gcMsPerSecond.toFixed(1)} ms/s, ${loop.gcPausesOver10Ms} pauses over 10 ms`);
          say(
            `${mode.padEnd(6)} ${String(rate).padStart(5)}/s ${target.name.padEnd(18)} sent ${result.rps.toFixed(0).padStart(5)}/s  p50 ${result.latencyMs.p50.toFixed(2)} ms  p99 ${result.latencyMs.p99.toFixed(2)} ms` +
              (result.ttftMs ? `  ttft p50 ${result.ttftMs.p50.toFixed(2)} p99 ${result.ttftMs.p99.toFixed(2)} ms` : '') +
              `  send lag p99 ${result.sendLagP99Ms.toFixed(2)} ms` +
              (result.shed ? `  shed ${result.shed}` : '') +
              (result.errors ? `  errors ${result.errors} ${JSON.stringify(result.errorStatuses)}` : ''),
          );
        }
      }
    }

    const memory = { api: peakRssMb(api.child.pid), worker: peakRssMb(worker.child.pid) };
    say(`peak resident memory: api ${memory.api.toFixed(0)} MB, worker ${memory.worker.toFixed(0)} MB`);

    say('waiting for metering to catch up, then checking every request...');
    const check = await verify(system, customerId, walletBefore, gatewayOk);
    if (!check.ok) {
      const { default: Redis } = await import('ioredis');
      const r = new Redis(redis.url);
      const tenant = (await system.query(`SELECT id FROM tenants WHERE slug = 'demo'`)).rows[0].id as string;
      const stream = `{t:${tenant}}:usage`;
      const pending = await r.xpending(stream, 'metering').catch((e: Error) => e.message);
      check.detail += `; stream ${stream}: length ${await r.xlen(stream)}, pending ${JSON.stringify(pending)}, dead letters ${await r.xlen(`${stream}:dead`)} ${JSON.stringify(await r.xrange(`${stream}:dead`, '-', '+', 'COUNT', 3)).slice(0, 1500)}, holds ${await r.zcard(`{t:${tenant}}:holds`)}`;
      r.disconnect();
    }
    await system.end();
    say(check.ok ? `check passed: ${check.detail}` : `CHECK FAILED: ${check.detail}`);

    say('measuring the metering pipeline on its own (scripts/bench-metering)...');
    const meteringLine = execFileSync(process.execPath, ['dist/scripts/bench-metering.js', '--events', process.env.BENCH_METERING_EVENTS ?? (SHORT ? '20000' : '50000')], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: '', DATABASE_ADMIN_URL: '', DATABASE_SYSTEM_URL: '', REDIS_URL: '', LOG_LEVEL: 'warn' },
      encoding: 'utf8',
    });
    const metering = JSON.parse(meteringLine.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}') as Metering;
    say(`metering: ${metering.eventsPerSecond} events/s, CPU ms per 1,000 events ${JSON.stringify(metering.cpuMsPer1000Events ?? {})}`);

    const targetLines = evaluateTargets(rows, rateRows, memory, metering, portkeyProblems);
    for (const t of targetLines) say(`target ${t.met ? 'MET    ' : 'NOT MET'} ${t.target}: goal ${t.goal}, measured ${t.measured}`);
    if (only || SHORT) {
      say(`${only ? 'BENCH_ONLY' : '--short'} set: no table written`);
      return;
    }
    const table = render(rows, rateRows, memory, metering, check, startedAt, targetLines, portkeyProblems);
    process.stdout.write(`\n${table}\n`);
    // BENCH_OUT: another file for the table (e.g. a run on another Node.js release beside the main one).
    const out = resolve(ROOT, process.env.BENCH_OUT ?? join('docs', 'benchmarks.md'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, table);
    say(`written to ${out}`);
    if (!check.ok) process.exitCode = 1;
  } finally {
    await stopAll();
  }
}

async function jsonWithHost(url: string, method: string, host: string, body?: unknown, headers: Record<string, string> = {}): Promise<any> {
  // Node's fetch drops a Host header; undici's request keeps it.
  const { request } = await import('undici');
  const res = await request(url, {
    method: method as 'GET',
    headers: { host, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

async function walletBalance(system: Client, customerId: string): Promise<string> {
  const { rows } = await system.query(`SELECT balance::text AS balance FROM ledger_accounts WHERE customer_id = $1 AND kind = 'customer_wallet'`, [customerId]);
  return rows[0]?.balance ?? '0';
}

/** Every gateway request metered once; the wallet moved by exactly the sum charged. */
async function verify(system: Client, customerId: string, walletBefore: string, expectedRequests: number): Promise<{ ok: boolean; detail: string }> {
  const deadline = Date.now() + 30_000;
  let count = 0;
  while (Date.now() < deadline) {
    ({ rows: [{ count }] } = await system.query(`SELECT count(*)::int AS count FROM usage_records WHERE customer_id = $1 AND status = 'ok'`, [customerId]));
    if (count >= expectedRequests) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const { rows: dup } = await system.query(`SELECT count(*)::int AS n FROM (SELECT request_id FROM usage_records WHERE customer_id = $1 GROUP BY request_id HAVING count(*) > 1) d`, [customerId]);
  const { rows: sum } = await system.query(`SELECT coalesce(sum(retail_charge), 0)::text AS total FROM usage_records WHERE customer_id = $1`, [customerId]);
  const walletAfter = await walletBalance(system, customerId);
  const { rows: moved } = await system.query(`SELECT ($1::numeric - $2::numeric)::text AS moved, ($1::numeric - $2::numeric) = $3::numeric AS exact`, [walletBefore, walletAfter, sum[0].total]);
  const ok = count === expectedRequests && dup[0].n === 0 && moved[0].exact === true;
  const { rows: byStatus } = await system.query(`SELECT status, count(*)::int AS n FROM usage_records WHERE customer_id = $1 GROUP BY status ORDER BY status`, [customerId]);
  return {
    ok,
    detail:
      `${count} usage records for ${expectedRequests} successful gateway requests, ${dup[0].n} duplicated; wallet moved ${moved[0].moved}, usage records charged ${sum[0].total}` +
      (ok ? '' : `; records by status: ${byStatus.map((r) => `${r.status} ${r.n}`).join(', ')}`),
  };
}

interface Metering {
  eventsPerSecond?: number;
  cpuMsPer1000Events?: Record<string, number>;
  loadAverage?: number[];
}

interface TargetLine {
  target: string;
  goal: string;
  measured: string;
  met: boolean;
}

/** One request of a mode through a target: null when it answers like the upstream, else what went wrong. */
async function probe(url: string, headers: Record<string, string>, body: string, stream: boolean): Promise<string | null> {
  try {
    const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (res.status !== 200) return `HTTP ${res.status} ${text.slice(0, 120)}`;
    if (stream ? !text.includes('data: [DONE]') : !text.includes('"choices"')) return `unexpected answer ${text.slice(0, 120)}`;
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

const ms = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : `${n.toFixed(2)} ms`);

/** A fixed-rate row whose target held the offered rate: nothing shed, no errors, 95% sent. */
const sustains = (r: RateRow) => r.result.shed === 0 && r.result.errors === 0 && r.result.rps >= r.rate * 0.95;

/** Every target of the issues (14, 29) with its measured value and whether it is met. */
function evaluateTargets(rows: Row[], rateRows: RateRow[], memory: { api: number; worker: number }, metering: Metering, portkeyProblems: string[]): TargetLine[] {
  const find = (target: string, mode: string, c: number) => rows.find((r) => r.target.startsWith(target) && r.mode === mode && r.concurrency === c);
  const findRate = (target: string, mode: string, rate: number) => rateRows.find((r) => r.target.startsWith(target) && r.mode === mode && r.rate === rate);
  const out: TargetLine[] = [];
  const add = (target: string, goal: string, value: number | undefined | { unmeasured: string }, limit: number, cmp: 'max' | 'min', unit = 'ms') => {
    if (typeof value === 'object') return void out.push({ target, goal, measured: `n/a (${value.unmeasured})`, met: false });
    const ok = value !== undefined && Number.isFinite(value) && (cmp === 'max' ? value <= limit : value >= limit);
    const shown = value === undefined || !Number.isFinite(value) ? 'n/a' : unit === '%' ? `${value.toFixed(0)}%` : unit === 'ms' ? `${value.toFixed(2)} ms` : `${value.toFixed(unit === 'x' ? 1 : 0)}${unit === 'x' ? 'x' : ` ${unit}`}`;
    out.push({ target, goal, measured: shown, met: ok });
  };
  const c32 = find('gateway', 'chat', 32);
  const floor32 = find('bare', 'chat', 32);
  const direct32 = find('upstream', 'chat', 32);
  const c1 = find('gateway', 'chat', 1);
  const direct1 = find('upstream', 'chat', 1);
  const s1 = find('gateway', 'stream', 1);
  const sd1 = find('upstream', 'stream', 1);
  add('non-streaming, c=32: throughput vs. bare proxy', '>= 50%', c32 && floor32 ? (c32.result.rps / floor32.result.rps) * 100 : undefined, 50, 'min', '%');
  add('non-streaming, c=32: p99 added over direct', '<= 5 ms', c32 && direct32 ? c32.result.latencyMs.p99 - direct32.result.latencyMs.p99 : undefined, 5, 'max');
  add('c=1: p50 added latency over direct', '<= 1 ms', c1 && direct1 ? c1.result.latencyMs.p50 - direct1.result.latencyMs.p50 : undefined, 1, 'max');
  add('streaming, c=1: TTFT added at p50 over direct', '<= 2 ms', s1?.result.ttftMs && sd1?.result.ttftMs ? s1.result.ttftMs.p50 - sd1.result.ttftMs.p50 : undefined, 2, 'max');
  const topRate = Math.max(...RATES);
  // Added over the floor at a fixed rate. A floor that did not itself hold the rate (shed, errors,
  // or a hiccup of the machine) measures nothing: a negative "added" is not a target met.
  const overFloor = (mode: string, pick: (r: RateRow) => number | undefined): number | undefined | { unmeasured: string } => {
    const ours = findRate('gateway', mode, topRate);
    const floor = findRate('bare', mode, topRate);
    if (!ours || !floor) return undefined;
    if (!sustains(floor)) return { unmeasured: `the bare proxy did not hold ${topRate}/s in this run: ${floor.result.shed} shed, p99 ${ms(floor.result.latencyMs.p99)}; run again` };
    const a = pick(ours);
    const b = pick(floor);
    if (a === undefined || b === undefined) return undefined;
    return a - b < 0 ? { unmeasured: `the bare proxy was slower than the gateway (${ms(b)} vs ${ms(a)}): the machine, not the targets; run again` } : a - b;
  };
  add(`non-streaming at ${topRate} req/s (fixed rate): p99 added over the bare proxy`, '<= 3 ms', overFloor('chat', (r) => r.result.latencyMs.p99), 3, 'max');
  add(`streaming at ${topRate} req/s (fixed rate): TTFT added at p50 over the bare proxy`, '<= 2 ms', overFloor('stream', (r) => r.result.ttftMs?.p50), 2, 'max');
  add(`streaming at ${topRate} req/s (fixed rate): TTFT added at p99 over the bare proxy`, '<= 5 ms', overFloor('stream', (r) => r.result.ttftMs?.p99), 5, 'max');
  const pk32 = find('portkey', 'chat', 32);
  if (pk32 && c32) add('non-streaming, c=32: throughput vs. Portkey', '>= 5x', c32.result.rps / pk32.result.rps, 5, 'min', 'x');
  else out.push({ target: 'non-streaming, c=32: throughput vs. Portkey', goal: '>= 5x', measured: `n/a (${portkeyProblems.join('; ') || 'no Portkey row'})`, met: false });
  const sustained = rateRows.filter((r) => r.target.startsWith('portkey') && sustains(r));
  if (sustained.length > 0) {
    const worse = sustained.filter((p) => {
      const ours = findRate('gateway', p.mode, p.rate);
      return !ours || ours.result.latencyMs.p99 >= p.result.latencyMs.p99;
    });
    out.push({
      target: 'p99 lower than Portkey at every fixed rate Portkey sustains',
      goal: 'lower at each',
      measured: sustained.map((p) => `${p.mode} ${p.rate}/s: ${ms(findRate('gateway', p.mode, p.rate)?.result.latencyMs.p99)} vs ${ms(p.result.latencyMs.p99)}`).join('; '),
      met: worse.length === 0,
    });
  } else {
    out.push({ target: 'p99 lower than Portkey at every fixed rate Portkey sustains', goal: 'lower at each', measured: 'n/a (Portkey sustained no fixed rate, or did not run)', met: false });
  }
  add('metering (one worker process, scripts/bench-metering)', '>= 20,000 events/s', metering.eventsPerSecond, 20_000, 'min', 'events/s');
  add('api CPU per request, non-streaming, c=32', '<= 0.25 ms', c32?.cpuPerRequest.api, 0.25, 'max');
  add('api resident memory', '< 300 MB', memory.api, 299.99, 'max', 'MB');
  return out;
}

function render(
  rows: Row[],
  rateRows: RateRow[],
  memory: { api: number; worker: number },
  metering: Metering,
  check: { ok: boolean; detail: string },
  startedAt: Date,
  targetLines: TargetLine[],
  portkeyProblems: string[],
): string {
  const find = (target: string, mode: string, c: number) => rows.find((r) => r.target.startsWith(target) && r.mode === mode && r.concurrency === c)!.result;
  const meteringRate = metering.eventsPerSecond ?? NaN;
  const lines: string[] = [];
  lines.push('# Benchmarks', '');
  lines.push(`Run by \`npm run bench\` on ${startedAt.toISOString().slice(0, 10)}: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, Linux; load average at the end ${loadavg().map((l) => l.toFixed(2)).join(', ')}.`);
  lines.push(`Every target ran ${SECONDS} s per row, in ${ROUNDS} turns taken in alternation with the other targets of the row (the machine's speed drifts; alternating keeps the comparison within the same minutes), on the same machine as the load generator, PostgreSQL, Redis, the fake upstream and the worker (so all of them share the cores).`);
  lines.push('The gateway runs with everything on: key check, rate limits and balance hold (one Redis call), routing, settlement and usage event (one Redis call), metering by the worker into PostgreSQL, request logs at info.');
  lines.push(
    `The peer is the open-source Portkey gateway (\`@portkey-ai/gateway\`), started as its README says and sent to the same fake upstream with \`x-portkey-provider: openai\` and \`x-portkey-custom-host\`${portkeyProblems.length ? `; it could not run everything: ${portkeyProblems.join('; ')}, so those rows are missing` : ''}.`,
    '',
  );
  lines.push('## Fixed rate (open loop)', '');
  lines.push('Requests are sent on a schedule (request i at start + i / rate) whatever the answers do, and each latency is taken from the time the request was due, so queueing shows and nothing hides it (no coordinated omission). Added = the target minus the bare proxy at the same rate. "Shed": requests not sent because too many were already waiting (the target did not sustain the rate). "Send lag": how late the generator itself sent (p99): when it is large, the machine set the latencies. "api loop delay" is the api\'s own event-loop delay over the run (the worst turn), and "api GC" its time in garbage collection per second, with the number of pauses over 10 ms: a p99 far above the loop delay was spent outside the api (the machine\'s other processes). "n/a (floor)": the bare proxy itself did not hold that rate in this run, so nothing is added over it.', '');
  lines.push('| mode | rate /s | target | sent /s | p50 ms | p99 ms | added p50 ms | added p99 ms | TTFT p50 ms | TTFT p99 ms | TTFT added p50 ms | TTFT added p99 ms | api CPU ms/req | api loop delay p99 / max ms | api GC ms/s (pauses > 10 ms) | shed | errors | send lag p99 ms |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rateRows) {
    const floorRow = rateRows.find((x) => x.target.startsWith('bare') && x.mode === r.mode && x.rate === r.rate);
    const floor = floorRow?.result;
    const res = r.result;
    const isFloor = r.target.startsWith('bare');
    // Against a floor that did not hold the rate, "added" means nothing (marked, not computed).
    const added = (a: number, b: number | undefined) => (isFloor || b === undefined ? '' : floorRow && !sustains(floorRow) ? 'n/a (floor)' : (a - b).toFixed(2));
    lines.push(
      `| ${r.mode} | ${r.rate} | ${r.target} | ${res.rps.toFixed(0)} | ${res.latencyMs.p50.toFixed(2)} | ${res.latencyMs.p99.toFixed(2)} | ${added(res.latencyMs.p50, floor?.latencyMs.p50)} | ${added(res.latencyMs.p99, floor?.latencyMs.p99)} | ` +
        `${res.ttftMs ? res.ttftMs.p50.toFixed(2) : ''} | ${res.ttftMs ? res.ttftMs.p99.toFixed(2) : ''} | ${res.ttftMs ? added(res.ttftMs.p50, floor?.ttftMs?.p50) : ''} | ${res.ttftMs ? added(res.ttftMs.p99, floor?.ttftMs?.p99) : ''} | ` +
        `${r.target === 'gateway' ? (r.cpuPerRequest.api ?? 0).toFixed(3) : ''} | ${r.loop ? `${r.loop.delayP99Ms.toFixed(1)} / ${r.loop.delayMaxMs.toFixed(1)}` : ''} | ${r.loop ? `${r.loop.gcMsPerSecond.toFixed(1)} (${r.loop.gcPausesOver10Ms})` : ''} | ${res.shed} | ${res.errors} | ${res.sendLagP99Ms.toFixed(2)} |`,
    );
  }
  lines.push('', '## Saturation (closed loop)', '');
  lines.push('| mode | conc. | target | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | share of floor | TTFT p50 ms | TTFT added p50 ms | errors |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const direct = find('upstream', r.mode, r.concurrency);
    const floor = find('bare', r.mode, r.concurrency);
    const res = r.result;
    const added = (p: 'p50' | 'p99') => (r.target.startsWith('upstream') ? '' : (res.latencyMs[p] - direct.latencyMs[p]).toFixed(2));
    const share = r.target.startsWith('upstream') ? '' : `${((res.rps / floor.rps) * 100).toFixed(0)}%`;
    const ttft = res.ttftMs ? res.ttftMs.p50.toFixed(2) : '';
    const ttftAdded = res.ttftMs && direct.ttftMs && !r.target.startsWith('upstream') ? (res.ttftMs.p50 - direct.ttftMs.p50).toFixed(2) : '';
    lines.push(`| ${r.mode} | ${r.concurrency} | ${r.target} | ${res.rps.toFixed(0)} | ${res.latencyMs.p50.toFixed(2)} | ${res.latencyMs.p99.toFixed(2)} | ${added('p50')} | ${added('p99')} | ${share} | ${ttft} | ${ttftAdded} | ${res.errors} |`);
  }
  lines.push('');
  lines.push('CPU time per request, by process, during each measured saturation run (from /proc; 10 ms ticks, so small figures are coarse). Shows where the cost goes whatever else the machine runs:', '');
  const cpuColumns = ['api', 'worker', 'postgres', 'redis', 'bare proxy', 'portkey', 'upstream', 'load generator'];
  lines.push(`| mode | conc. | target | ${cpuColumns.join(' ms | ')} ms | total ms |`);
  lines.push(`|---|---|---|${cpuColumns.map(() => '---|').join('')}---|`);
  for (const r of rows.filter((row) => !row.target.startsWith('upstream'))) {
    const own = r.target.startsWith('bare') ? 'bare proxy' : r.target.startsWith('portkey') ? 'portkey' : null;
    const used = (k: string) => (own ? [own, 'upstream', 'load generator'].includes(k) : k !== 'bare proxy' && k !== 'portkey');
    const cells = cpuColumns.map((k) => (used(k) ? (r.cpuPerRequest[k] ?? 0).toFixed(3) : ''));
    const total = cpuColumns.filter(used).reduce((sum, k) => sum + (r.cpuPerRequest[k] ?? 0), 0);
    lines.push(`| ${r.mode} | ${r.concurrency} | ${r.target} | ${cells.join(' | ')} | ${total.toFixed(3)} |`);
  }
  lines.push('');
  const meteringCpu = metering.cpuMsPer1000Events;
  lines.push(
    `- Metering on its own (\`scripts/bench-metering\`, events filled in advance, one worker process, measured from its start): **${Number.isFinite(meteringRate) ? meteringRate.toFixed(0) : 'n/a'} usage events/s** into usage records and the ledger (posted per batch and tenant)` +
      (meteringCpu ? `; CPU per 1,000 events: worker ${meteringCpu.worker} ms, PostgreSQL ${meteringCpu.postgres} ms, Redis ${meteringCpu.redis} ms (load average ${(metering.loadAverage ?? []).join(', ')})` : '') +
      '.',
  );
  lines.push(`- Peak resident memory during the run: api **${memory.api.toFixed(0)} MB**, worker **${memory.worker.toFixed(0)} MB**.`);
  lines.push(`- Billing check after the gateway runs: ${check.ok ? 'passed' : '**FAILED**'}: ${check.detail}.`);
  lines.push('', '## Targets', '');
  lines.push('| target | goal | measured | met |', '|---|---|---|---|');
  for (const t of targetLines) lines.push(`| ${t.target} | ${t.goal} | ${t.measured} | ${t.met ? 'met' : '**not met**'} |`);
  lines.push('');
  return lines.join('\n');
}

function say(line: string): void {
  process.stdout.write(`[bench] ${line}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
