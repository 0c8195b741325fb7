import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { TokenPrice } from '@app/money';
import { BalanceService } from '../../src/modules/ledger/balance.service';
import { SettlementOutbox } from '../../src/modules/inference/settlement-outbox';
import { billingKeys, decodeUsageEvent } from '@app/billing';
import { freePort, LocalRedis, startRedis } from '../../scripts/local-infra';
import { RunningApp, startTestApi } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FAKE_TEXT, FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { TestTenant } from '../support/identity';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';

const API = join(__dirname, '../../dist/src/main.js');
const PRICE: TokenPrice = { inputPerMillion: '3', outputPerMillion: '15' };
const LONG_TEXT = Array.from({ length: 8 }, (_, i) => `word${i}`).join(' ');

interface Answer {
  status: number | null;
  requestId: string | null;
  body: string;
  /** The response ended normally (not cut by the api's death). */
  ended: boolean;
}

/**
 * The api as a real process (dist/src/main.js, `npm run build` first), killed with SIGKILL while
 * an answer waits for its settlement (issue 19): Redis is made to hold writes (`CLIENT PAUSE
 * WRITE`), so the settle call hangs, and the api is killed at that moment. No client may then hold
 * a complete answer (the whole JSON, or a stream with its end) that has no usage event: the charge
 * is durable before the answer's last byte leaves.
 */
describe('inference across an api crash (process)', () => {
  let system: Client;
  // A redis-server of this file's own: CLIENT PAUSE holds every client of the server, and the
  // suite's shared one serves the specs running beside this one.
  let ownRedis: LocalRedis;
  let redis: Redis;
  let redisUrl: string;
  let admin: RunningApp;
  let upstream: FakeUpstream;
  let world: InferenceWorld;
  let shop: TestTenant;
  let key: string;
  let spoolDir: string;
  const model = uniqueSlug('m-crash');

  beforeAll(async () => {
    if (!existsSync(API)) throw new Error(`${API} is missing: run npm run build first`);
    system = await connectAs('system');
    ownRedis = await startRedis({ port: await freePort() });
    redisUrl = ownRedis.url;
    redis = new Redis(redisUrl);
    upstream = await startFakeOpenAI();
    spoolDir = mkdtempSync(join(tmpdir(), 'aigw-crash-spool-'));
    // An in-process api to build the world through the admin API (and, with a short settle
    // timeout, to show that a Redis that hangs does not hold answers).
    admin = await startTestApi({
      REDIS_URL: redisUrl,
      CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true',
      CHANNEL_REFRESH_SECONDS: '3600',
      INFERENCE_SETTLE_TIMEOUT_MS: '200',
      INFERENCE_SPOOL_DIR: join(spoolDir, 'in-process'),
    });
    world = await new InferenceWorld(admin, system, redis).init();
    await world.price(world.platform, model, PRICE);
    await world.channel(fakeChannel(upstream.url, model, { retryBudget: 0 }));
    shop = await world.reseller(['alice']);
    await world.credit(shop, 'alice', '100');
    key = await world.key(shop, 'alice');
    await admin.app.get(BalanceService).ensureLoaded(shop.id, shop.users.alice.id);
  });

  afterAll(async () => {
    await redis?.call('CLIENT', 'UNPAUSE').catch(() => undefined);
    await admin?.close();
    await upstream?.close();
    redis?.disconnect();
    await ownRedis?.stop();
    await system?.end();
    if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
  });

  it('a Redis that hangs does not hold the answer: the settlement goes to the spool after INFERENCE_SETTLE_TIMEOUT_MS and reaches Redis once', async () => {
    const port = Number(new URL(admin.baseUrl).port);
    const outbox = admin.app.get(SettlementOutbox);
    const eventsBefore = (await events()).length;
    const before = upstream.requests.length;
    upstream.next({ kind: 'ok', delayMs: 300 });
    let got: Answer;
    try {
      const answer = ask(port, { model, messages: [{ role: 'user', content: 'hello' }] });
      await eventually(() => upstream.requests.length > before, 'the upstream call');
      await redis.call('CLIENT', 'PAUSE', '10000', 'WRITE');
      got = await answer;
      // Answered whole while its settle call still waits in Redis: the spool holds the charge.
      expect(await settleBlocked()).toBe(true);
      expect(outbox.pending).toBe(1);
    } finally {
      await redis.call('CLIENT', 'UNPAUSE');
    }
    expect(complete(got, false)).toBe(true);
    await eventually(async () => outbox.pending === 0, 'the spool to be replayed');
    const after = (await events()).slice(eventsBefore);
    expect(after.map((e) => e.httpRequestId)).toEqual([got.requestId]);
    expect(await world.openHolds(shop)).toBe(0);
  }, 60_000);

  async function spawnApi(env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number }> {
    const port = await freePort();
    const child = spawn(process.execPath, [API], {
      env: {
        ...process.env,
        REDIS_URL: redisUrl,
        PORT: String(port),
        METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
        CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true',
        INFERENCE_SPOOL_DIR: spoolDir,
        // The kill comes while the settle call waits: it must not time out into the spool first.
        INFERENCE_SETTLE_TIMEOUT_MS: '60000',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
    });
    let last: Answer | null = null;
    try {
      await eventually(async () => (last = await ask(port, { model, messages: [{ role: 'user', content: 'warm up' }] })).status === 200, 'the api process to answer', 30_000);
    } catch (error) {
      await kill(child);
      throw new Error(`${(error as Error).message}; last answer ${JSON.stringify(last)}; stderr: ${log}`);
    }
    return { child, port };
  }

  async function kill(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** One inference call over a plain socket; `onData` sees the body as it arrives. A connection lost before the headers: status null. */
  function ask(port: number, body: Record<string, unknown>, onData?: (text: string) => void): Promise<Answer> {
    return new Promise((resolve) => {
      const payload = JSON.stringify(body);
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions', headers: { host: shop.domain, authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
        (res) => {
          const answer: Answer = { status: res.statusCode ?? null, requestId: (res.headers['x-request-id'] as string | undefined) ?? null, body: '', ended: false };
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            answer.body += chunk;
            onData?.(answer.body);
          });
          res.once('end', () => {
            answer.ended = true;
          });
          res.once('close', () => resolve(answer));
          res.once('error', () => undefined);
        },
      );
      req.once('error', () => resolve({ status: null, requestId: null, body: '', ended: false }));
      req.end(payload);
    });
  }

  /** What a client would take for a whole answer: the whole JSON, or a stream that reached [DONE]. */
  function complete(answer: Answer, stream: boolean): boolean {
    if (!answer.ended || answer.status !== 200) return false;
    if (stream) return answer.body.includes('data: [DONE]');
    try {
      return (JSON.parse(answer.body) as { choices: Array<{ message: { content: string } }> }).choices[0].message.content === FAKE_TEXT;
    } catch {
      return false;
    }
  }

  /** The api's settle call is waiting in Redis (held by CLIENT PAUSE). */
  async function settleBlocked(): Promise<boolean> {
    const list = String(await redis.call('CLIENT', 'LIST'));
    // EVALSHA, or EVAL when the script was not loaded yet (ioredis falls back on NOSCRIPT).
    return list.split('\n').some((line) => line.includes('name=aigateway-billing') && /flags=\S*b/.test(line) && /cmd=eval(sha)?\b/.test(line));
  }

  const events = () => world.events(shop);

  it('an api killed while a non-streamed answer waits for its settlement has sent none of it', async () => {
    const { child, port } = await spawnApi();
    try {
      const before = upstream.requests.length;
      upstream.next({ kind: 'ok', delayMs: 300 });
      const answer = ask(port, { model, messages: [{ role: 'user', content: 'hello' }] });
      // The hold went through (the upstream was called); now Redis holds every write.
      await eventually(() => upstream.requests.length > before, 'the upstream call');
      await redis.call('CLIENT', 'PAUSE', '10000', 'WRITE');
      await eventually(settleBlocked, 'the settle call to wait in Redis');
      await kill(child);
      const got = await answer;
      expect(complete(got, false)).toBe(false);
      expect(got.body).not.toContain(FAKE_TEXT);
    } finally {
      await redis.call('CLIENT', 'UNPAUSE');
      await kill(child);
    }
  }, 120_000);

  it('an api killed while a stream waits for its settlement has sent the text but not its end (finish, usage, [DONE])', async () => {
    const { child, port } = await spawnApi();
    try {
      upstream.next({ kind: 'ok', text: LONG_TEXT, chunkDelayMs: 50 });
      let paused: Promise<unknown> | null = null;
      const answer = ask(port, { model, messages: [{ role: 'user', content: 'hello' }], stream: true, stream_options: { include_usage: true } }, (body) => {
        // Once the stream is under way, Redis holds every write: its settle will wait.
        if (!paused && body.includes('word0')) paused = redis.call('CLIENT', 'PAUSE', '10000', 'WRITE');
      });
      await eventually(() => paused !== null, 'the stream to start');
      await paused;
      await eventually(settleBlocked, 'the settle call to wait in Redis');
      await kill(child);
      const got = await answer;
      // Every word of the text reached the client as it was generated...
      for (const word of LONG_TEXT.split(' ')) expect(got.body).toContain(word);
      // ...but not the end of the answer: no finish_reason, no usage chunk, no [DONE].
      expect(complete(got, true)).toBe(false);
      expect(got.body).not.toMatch(/"finish_reason":\s*"stop"/);
      expect(got.body).not.toContain('"usage"');
      expect(got.body).not.toContain('[DONE]');
    } finally {
      await redis.call('CLIENT', 'UNPAUSE');
      await kill(child);
    }
  }, 120_000);

  it('an api killed in the middle of a stream leaves the charge for what it delivered: the expired-holds sweep settles it, once', async () => {
    const { child, port } = await spawnApi({ INFERENCE_STREAM_CHECKPOINT_MS: '100' });
    const eventsBefore = (await events()).length;
    let got: Answer;
    let requestId: string | null = null;
    try {
      upstream.next({ kind: 'ok', text: LONG_TEXT, chunkDelayMs: 1000 });
      let started = false;
      const answer = ask(port, { model, messages: [{ role: 'user', content: 'hello' }], stream: true }, (body) => {
        if (body.includes('word2')) started = true;
      });
      await eventually(() => started, 'the stream to be under way');
      // A checkpoint of this stream is on its hold: what was delivered, priced, as a usage event.
      await eventually(async () => (await checkpoints()).some((c) => c.event.outputTokens > 0), 'a checkpoint on the hold');
      await kill(child);
      got = await answer;
      requestId = got.requestId;
    } finally {
      await kill(child);
    }
    expect(complete(got, true)).toBe(false);
    const mine = (await checkpoints()).filter((c) => c.event.httpRequestId === requestId);
    expect(mine).toHaveLength(1);
    const { event, amount } = mine[0];
    expect(event).toMatchObject({ status: 'error', errorCode: 'gateway_interrupted', stream: true, customerId: shop.users.alice.id });
    expect(BigInt(event.retailUnits)).toBeGreaterThan(0n);
    // Nothing is charged while the hold is open (the stream might still be running elsewhere).
    expect((await events()).slice(eventsBefore)).toEqual([]);

    // The sweep after the hold's expiry: every expired hold's amount goes back, and the
    // checkpointed one is charged what its stream delivered, exactly, with its usage event.
    const balanceKey = billingKeys.balance(shop.id, shop.users.alice.id);
    const balanceBefore = BigInt((await redis.get(balanceKey))!);
    const open = await openHolds();
    // (The worker's ledger job runs this for every tenant: ReconciliationService.releaseExpiredHolds.)
    const sweep = await admin.app.get(BalanceService).releaseExpiredHolds(shop.id, Date.now() + 24 * 3600_000);
    expect(sweep.checkpointsSettled).toBe(open.filter((h) => h.checkpointed).length);
    const returned = open.reduce((sum, h) => sum + h.amount, 0n);
    const charged = open.reduce((sum, h) => sum + h.cost, 0n);
    expect(sweep.units).toBe(returned);
    expect(sweep.chargedUnits).toBe(charged);
    expect(BigInt((await redis.get(balanceKey))!)).toBe(balanceBefore + returned - charged);
    expect(amount).toBeGreaterThanOrEqual(BigInt(event.retailUnits));
    const after = (await events()).slice(eventsBefore);
    expect(after.filter((e) => e.httpRequestId === requestId)).toEqual([expect.objectContaining({ retailUnits: event.retailUnits, errorCode: 'gateway_interrupted' })]);

    // A second sweep, or a late settlement of the same request, charges nothing more.
    expect((await admin.app.get(BalanceService).releaseExpiredHolds(shop.id, Date.now() + 24 * 3600_000)).chargedUnits).toBe(0n);
    expect(await redis.exists(billingKeys.settled(shop.id, event.requestId))).toBe(1);
    expect(BigInt((await redis.get(balanceKey))!)).toBe(balanceBefore + returned - charged);
  }, 120_000);

  /** The tenant's open holds: amount held, and the checkpoint's cost when a stream left one. */
  async function openHolds(): Promise<Array<{ amount: bigint; cost: bigint; checkpointed: boolean }>> {
    const ids = await redis.zrange(billingKeys.holds(shop.id), 0, -1);
    const holds = await Promise.all(ids.map((id) => redis.hgetall(billingKeys.hold(shop.id, id))));
    return holds.filter((h) => h.amt).map((h) => ({ amount: BigInt(h.amt), cost: h.ev ? BigInt(h.cost) : 0n, checkpointed: Boolean(h.ev) }));
  }

  async function checkpoints() {
    const ids = await redis.zrange(billingKeys.holds(shop.id), 0, -1);
    const holds = await Promise.all(ids.map((id) => redis.hgetall(billingKeys.hold(shop.id, id))));
    return holds.filter((h) => h.ev).map((h) => ({ event: decodeUsageEvent(h.ev), amount: BigInt(h.amt) }));
  }

  it('under load, killed while settlements wait: every answer a client received complete has its usage event', async () => {
    const { child, port } = await spawnApi();
    const answers: Array<Promise<{ answer: Answer; stream: boolean }>> = [];
    // Earlier tests left events in the stream: count this test's own.
    const eventsBefore = (await events()).length;
    try {
      let stop = false;
      // Eight clients asking one after another, streamed and not, until the api dies.
      const loops = Array.from({ length: 8 }, async (_, i) => {
        while (!stop) {
          const stream = i % 2 === 0;
          const pending = ask(port, { model, messages: [{ role: 'user', content: `load ${i}` }], stream, stream_options: stream ? { include_usage: true } : undefined }).then((answer) => ({ answer, stream }));
          answers.push(pending);
          if ((await pending).answer.status === null) return;
        }
      });
      await eventually(async () => (await events()).length - eventsBefore >= 40, 'some answered requests', 60_000);
      await redis.call('CLIENT', 'PAUSE', '10000', 'WRITE');
      await eventually(settleBlocked, 'settle calls to wait in Redis');
      await kill(child);
      stop = true;
      await Promise.all(loops);
    } finally {
      await redis.call('CLIENT', 'UNPAUSE');
      await kill(child);
    }
    const results = await Promise.all(answers);
    const whole = results.filter((r) => complete(r.answer, r.stream));
    // Some answers were cut by the kill (their settle was waiting), the others came whole.
    expect(results.length - whole.length).toBeGreaterThan(0);
    expect(whole.length).toBeGreaterThanOrEqual(40);
    const recorded = new Set((await events()).map((e) => e.httpRequestId));
    const unpaid = whole.filter((r) => !recorded.has(r.answer.requestId)).map((r) => r.answer.requestId);
    expect(unpaid).toEqual([]);
  }, 180_000);
});
