import { Controller, Get, Module } from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Public } from '@app/authorization';
import { DEFAULT_JOB_OPTIONS, MailJob, QueueName } from '@app/queue';
import { redisOptionsFromUrl } from '@app/redis';
import { Job, Queue } from 'bullmq';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, LocalRedis, startRedis } from '../../scripts/local-infra';
import { ApiModule } from '../../src/api.module';
import { createHttpApp } from '../../src/bootstrap/http-app';
import { RunningApp, startTestApi, testConfig } from '../support/app';
import { connectAs, seedTenant } from '../support/db';
import { call } from '../support/http';
import { MailSink, startMailSink } from '../support/mail';
import { scaled, waitUntil } from '../support/timing';

/**
 * Graceful shutdown as a rollout sees it: what is in flight when the process is told to stop
 * finishes, and the process then exits cleanly.
 */
describe('graceful shutdown', () => {
  describe('api', () => {
    /** Marks when the slow request reached its handler, and when the handler returned. */
    const slow = { entered: undefined as (() => void) | undefined, finishedAt: 0 };

    @Public()
    @Controller('__test')
    class SlowController {
      @Get('slow')
      async slow() {
        slow.entered?.();
        await new Promise((resolve) => setTimeout(resolve, scaled(800)));
        slow.finishedAt = Date.now();
        return { done: true };
      }
    }

    @Module({})
    class SlowApiModule {}

    let app: NestFastifyApplication;

    afterAll(async () => {
      // Already closed by the test; a second close is a no-op unless the test failed early.
      await app?.close().catch(() => undefined);
    });

    it('lets an in-flight request finish, refuses new ones, and only then resolves close()', async () => {
      // The real api module plus one slow route declared the way every controller is (a test
      // module, not a route on the raw Fastify instance), so the request runs through the same
      // Nest pipeline, request context and hooks as a real one.
      const config = testConfig();
      app = await createHttpApp(
        { module: SlowApiModule, imports: [ApiModule.forRoot(config)], controllers: [SlowController] },
        config,
        { resolveTenants: true },
      );
      await app.listen(0, '127.0.0.1');
      const address = app.getHttpServer().address();
      const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

      // Every route but health answers only at a tenant's domain.
      const system = await connectAs('system');
      const { domain } = await seedTenant(system).finally(() => system.end());

      const entered = new Promise<void>((resolve) => (slow.entered = resolve));
      const inFlight = call(baseUrl, 'GET', '/__test/slow', { host: domain }).then((res) => ({ ...res, at: Date.now() }));
      const early = await Promise.race([entered.then(() => undefined), inFlight]);
      if (early) throw new Error(`the slow route answered ${early.status} without running: ${early.text}`);

      const closed = app.close().then(() => Date.now());
      // The listener is closed at once: a new connection is refused (or answered 503) while the
      // slow request still runs.
      const late = await waitUntil(
        () =>
          call(baseUrl, 'GET', '/health/live').then(
            (res) => (res.status === 200 ? undefined : res.status),
            (error: NodeJS.ErrnoException) => error.code,
          ),
        { what: 'new requests to be refused', timeoutMs: 500, intervalMs: 10 },
      );
      expect(slow.finishedAt).toBe(0);
      expect([503, 'ECONNREFUSED', 'ECONNRESET']).toContain(late);

      const response = await inFlight;
      const closedAt = await closed;
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ done: true });
      expect(slow.finishedAt).toBeGreaterThan(0);
      expect(closedAt).toBeGreaterThanOrEqual(slow.finishedAt);
      // The client keeps its connection alive; closing must not wait for it to give up.
      expect(response.headers.connection).toBe('close');
      expect(closedAt - response.at).toBeLessThan(scaled(2000));
    });
  });

  describe('api while Redis is away', () => {
    let redis: LocalRedis | undefined;
    let api: RunningApp | undefined;

    afterAll(async () => {
      // Bounded: a close that failed half-way never finishes a second time.
      await Promise.race([api?.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, scaled(10_000)).unref())]);
      await redis?.stop();
    });

    // (A worker's close while Redis is away is bounded by BoundedWorkerClose and, past it, by
    // SHUTDOWN_GRACE_MS in the process: BullMQ's Worker.close can wait for ever, see queue-shutdown.ts.)
    it('closes completely, its HTTP listener included', async () => {
      redis = await startRedis({ port: await freePort() });
      api = await startTestApi({ REDIS_URL: redis.url });
      await redis.stop();
      // Closing used to reject here (BullMQ's QUIT refused on a producer connection without an
      // offline queue), which left the HTTP server and the other clients open.
      await expect(api.close()).resolves.toBeUndefined();
      await expect(fetch(`${api.baseUrl}/health/live`)).rejects.toThrow();
    });
  });

  describe('worker process', () => {
    const workerEntry = join(__dirname, '..', '..', 'dist', 'src', 'worker.js');
    const built = existsSync(workerEntry);
    if (!built) {
      // eslint-disable-next-line no-console
      console.warn(`skipping the worker process test: ${workerEntry} is missing (npm test builds it; or run npm run build)`);
    }
    const maybe = built ? it : it.skip;

    let sink: MailSink;
    let redis: LocalRedis;
    let queue: Queue<MailJob> | undefined;
    let worker: ChildProcess | undefined;
    let output = '';

    beforeAll(async () => {
      if (!built) return;
      // A Redis of its own, so no other test's worker can take the job.
      [sink, redis] = await Promise.all([startMailSink({ delayMs: 1500 }), startRedis({ port: await freePort() })]);
    });

    afterAll(async () => {
      if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
      await queue?.close();
      await redis?.stop();
      await sink?.close();
    });

    maybe('finishes the job in flight on SIGTERM, then exits 0', async () => {
      const workerPort = await freePort();
      worker = spawn(process.execPath, [workerEntry], {
        env: {
          ...process.env,
          NODE_ENV: 'test',
          LOG_LEVEL: 'info',
          REDIS_URL: redis.url,
          SMTP_URL: sink.url,
          WORKER_PORT: String(workerPort),
          METRICS_PORT: '0',
          SHUTDOWN_GRACE_MS: '15000',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      worker.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      worker.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
        worker!.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
      );

      try {
        await waitUntilReady(`http://127.0.0.1:${workerPort}/health/ready`, () => worker!.exitCode !== null);

        queue = new Queue<MailJob>(QueueName.Mail, { connection: redisOptionsFromUrl(redis.url), defaultJobOptions: DEFAULT_JOB_OPTIONS });
        const subject = `Shutdown test ${Date.now()}`;
        const job = await queue.add('shutdown-test', {
          tenantId: '00000000-0000-7000-8000-000000000000',
          to: 'someone@example.test',
          subject,
          text: 'sent while the worker was told to stop',
          kind: 'test',
        });

        // The sink has the message and holds its reply: the job is in flight right now.
        await sink.waitFor((m) => m.subject === subject, 15_000);
        const signalledAt = Date.now();
        worker.kill('SIGTERM');
        const exit = await exited;

        expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
        // It waited for the held reply rather than dropping the job.
        expect(exit.at - signalledAt).toBeGreaterThanOrEqual(1000);
        expect(sink.messages.filter((m) => m.subject === subject)).toHaveLength(1);
        const finished = await Job.fromId<MailJob>(queue, job.id!);
        expect(await finished!.getState()).toBe('completed');
        expect(finished!.failedReason).toBeFalsy();
        expect(finished!.stalledCounter).toBe(0);
        expect(finished!.returnvalue).toEqual({ messageId: expect.any(String) });
      } catch (error) {
        // The worker's own log says why, when it is not the test's fault.
        (error as Error).message += `\n--- worker output ---\n${output.slice(-4000)}`;
        throw error;
      }
    });
  });
});

async function waitUntilReady(url: string, gaveUp: () => boolean, quietTimeoutMs = 20_000): Promise<void> {
  const timeoutMs = scaled(quietTimeoutMs);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gaveUp()) throw new Error('the worker exited before it was ready');
    const status = await fetch(url).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} was not ready within ${timeoutMs} ms`);
}
