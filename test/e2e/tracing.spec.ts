/**
 * OpenTelemetry tracing of /v1 (issue 28): off by default, nothing created and only the client's
 * own traceparent passed upstream; on, a request continues the client's trace with spans for the
 * key check, the hold, each upstream attempt (whose traceparent the upstream receives) and the
 * settlement, exported here to an in-memory exporter.
 */
import { InMemorySpanExporter, ReadableSpan } from '@opentelemetry/sdk-trace';
import Redis from 'ioredis';
import { Client } from 'pg';
import { PinoLogger } from 'nestjs-pino';
import { storage, Store } from 'nestjs-pino/storage';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { runWithTraceLogs } from '../../libs/observability/src/trace-logs';
import { contextFromTraceparent, Tracing, useSpanExporterForTests } from '../../libs/observability/src/tracing';
import { RunningApp, startTestApi, startTestWorker, testConfig } from '../support/app';
import { connectAs, uniqueSlug } from '../support/db';
import { FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { call } from '../support/http';
import { fakeChannel, InferenceWorld } from '../support/inference';
import { isolatedRedisUrl } from '../support/redis';
import { scaled } from '../support/timing';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;

describe('tracing of /v1 (OpenTelemetry)', () => {
  const exporter = new InMemorySpanExporter();
  let traced: RunningApp;
  let untraced: RunningApp;
  let worker: RunningApp;
  let system: Client;
  let redis: Redis;
  let fake: FakeUpstream;
  let world: InferenceWorld;
  let domain: string;
  let shopId: string;
  let key: string;
  const model = uniqueSlug('traced');

  beforeAll(async () => {
    const redisUrl = await isolatedRedisUrl();
    useSpanExporterForTests(exporter);
    traced = await startTestApi({ REDIS_URL: redisUrl, TRACING_ENABLED: 'true', CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true' });
    worker = await startTestWorker({ REDIS_URL: redisUrl, TRACING_ENABLED: 'true', OTEL_SERVICE_NAME: 'traced-worker' });
    useSpanExporterForTests(null);
    untraced = await startTestApi({ REDIS_URL: redisUrl, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true' });
    system = await connectAs('system');
    redis = new Redis(redisUrl);
    fake = await startFakeOpenAI();
    world = await new InferenceWorld(traced, system, redis).init();
    const shop = await world.reseller(['alice']);
    domain = shop.domain;
    shopId = shop.id;
    await world.price(world.platform, model, { inputPerMillion: '0.5', outputPerMillion: '1.5' });
    await world.channel(fakeChannel(fake.url, model));
    await world.credit(shop, 'alice', '5');
    key = await world.key(shop, 'alice');
  });

  afterAll(async () => {
    useSpanExporterForTests(null);
    await Promise.allSettled([traced?.close(), untraced?.close(), worker?.close(), fake?.close()]);
    redis?.disconnect();
    await system?.end();
  });

  const chat = (app: RunningApp, headers: Record<string, string> = {}) =>
    call(app.baseUrl, 'POST', '/v1/chat/completions', { host: domain, token: key, headers, json: { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 } });

  it('continues the client trace: server span, key check, hold, upstream and settle, and the upstream receives the trace', async () => {
    exporter.reset();
    const before = fake.requests.length;
    expect((await chat(traced, { traceparent: TRACEPARENT })).status).toBe(200);
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === TRACE_ID);
    const byName = (name: string) => spans.find((s) => s.name === name) as ReadableSpan;
    const server = byName('POST /v1 chat');
    expect(server).toBeDefined();
    expect(server.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    for (const name of ['key_check', 'hold', 'upstream', 'settle']) {
      expect({ name, parent: byName(name)?.parentSpanContext?.spanId }).toEqual({ name, parent: server.spanContext().spanId });
    }
    const upstream = byName('upstream');
    expect(upstream.attributes['aigateway.model']).toBe(model);
    // The upstream was called as a child of the upstream span.
    const sent = fake.requests.slice(before).map((r) => r.headers.traceparent);
    expect(sent).toEqual([`00-${TRACE_ID}-${upstream.spanContext().spanId}-01`]);
  });

  it('starts a trace of its own when the client sends none, and ignores a malformed traceparent', async () => {
    exporter.reset();
    expect((await chat(traced, { traceparent: '00-zz-not-a-trace-01' })).status).toBe(200);
    const servers = exporter.getFinishedSpans().filter((s) => s.name === 'POST /v1 chat');
    expect(servers).toHaveLength(1);
    expect(servers[0].parentSpanContext).toBeUndefined();
    expect(servers[0].spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('off by default: no span, and only the client traceparent goes upstream, unchanged', async () => {
    exporter.reset();
    const before = fake.requests.length;
    expect((await chat(untraced, { traceparent: TRACEPARENT })).status).toBe(200);
    expect((await chat(untraced)).status).toBe(200);
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(fake.requests.slice(before).map((r) => r.headers.traceparent)).toEqual([TRACEPARENT, undefined]);
  });

  it('meters each batch in a root span of its own (tenant, events, duration) in the worker', async () => {
    exporter.reset();
    expect((await chat(traced, { traceparent: TRACEPARENT })).status).toBe(200);
    const deadline = Date.now() + scaled(15_000);
    let batch: ReadableSpan | undefined;
    while (!batch && Date.now() < deadline) {
      batch = exporter.getFinishedSpans().find((s) => s.name === 'metering.batch' && s.attributes['aigateway.tenant_id'] === shopId);
      if (!batch) await new Promise((r) => setTimeout(r, 50));
    }
    expect(batch).toBeDefined();
    expect(batch!.parentSpanContext).toBeUndefined();
    expect(batch!.spanContext().traceId).not.toBe(TRACE_ID);
    expect(batch!.attributes['aigateway.events']).toBeGreaterThanOrEqual(1);
    expect(batch!.attributes['aigateway.tenants']).toBe(1);
    expect(typeof batch!.attributes['aigateway.duration_ms']).toBe('number');
    expect(batch!.resource.attributes['service.name']).toBe('traced-worker');
  });

  it('puts the trace and span ids on the log lines written inside a traced unit of work, and only there', async () => {
    const scope = traced.app.get(Tracing).start('log-test')!;
    const lines: Array<Record<string, unknown>> = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().trim().split('\n').map((l) => JSON.parse(l))));
    const logger = new PinoLogger({ pinoHttp: {} });
    await storage.run(new Store(pino(stream)), async () => {
      logger.info('before');
      await runWithTraceLogs(scope, async () => {
        await new Promise((r) => setImmediate(r));
        logger.warn('inside');
      });
      logger.info('after');
    });
    scope.span.end();
    await new Promise((r) => setImmediate(r));
    const { traceId, spanId } = scope.span.spanContext();
    expect(lines.map((l) => [l.msg, l.traceId, l.spanId])).toEqual([
      ['before', undefined, undefined],
      ['inside', traceId, spanId],
      ['after', undefined, undefined],
    ]);
  });

  it('samples new traces at TRACING_SAMPLE_RATIO and follows a sampled client trace', async () => {
    const none = new Tracing(testConfig({ TRACING_ENABLED: 'true', TRACING_SAMPLE_RATIO: '0' }), 'api');
    try {
      expect(none.start('new trace')!.span.isRecording()).toBe(false);
      expect(none.start('client trace', contextFromTraceparent(TRACEPARENT))!.span.isRecording()).toBe(true);
    } finally {
      await none.onApplicationShutdown();
    }
  });
});
