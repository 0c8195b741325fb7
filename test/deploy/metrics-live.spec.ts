/**
 * The alerts, the SLO rules, the KEDA trigger and the dashboards query only what the processes
 * really export, under traffic: boots the api and the worker on a database and a Redis database of
 * their own, sends inference traffic through fake upstreams (answers, a stream, a failover, an
 * upstream failure that opens a breaker, a refusal), runs the metering and a channel health check,
 * then pauses their Redis so that a readiness probe answers 503 (the admin API's 5xx series), and
 * compares every referenced series, and every label value a query selects on, with the live
 * /metrics of api and worker.
 *
 * This is what fails when a query reads a series or a label value nobody exports: the KEDA trigger
 * on `aigateway_queue_jobs{queue="metering"}` (metering is a Redis stream, not a queue), or a 5xx
 * alert on http_requests_total, which never sees /v1.
 * Only EXTERNAL_METRICS (kube-state-metrics) may be missing.
 */
import Redis from 'ioredis';
import { Client } from 'pg';
import { billingKeys } from '../../libs/billing/src';
import { ChannelHealthProcessor } from '../../src/modules/channels/channel-health.processor';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { isolatedDatabase, uniqueSlug } from '../support/db';
import { FakeUpstream, startFakeOpenAI } from '../support/fakes/openai';
import { call } from '../support/http';
import { eventually, fakeChannel, InferenceWorld } from '../support/inference';
import { freePort, startRedis } from '../../scripts/local-infra';
import { scaled } from '../support/timing';
import { chartQueries, EXTERNAL_METRICS, missingSeries, referencedSeriesNames, unmatchedSelectors } from './metric-references';

const PRICE = { inputPerMillion: '0.5', outputPerMillion: '1.5' };

describe('metrics referenced by the chart are exported by api and worker under traffic', () => {
  let expositions: string[];

  beforeAll(async () => {
    const database = await isolatedDatabase();
    // A redis-server of its own: it is paused for a moment, and stopped at the end.
    const redisServer = await startRedis({ port: await freePort() });
    const redisUrl = redisServer.url;
    const env = { ...database, REDIS_URL: redisUrl, CHANNEL_ALLOW_PRIVATE_NETWORKS: 'true', CHANNEL_REFRESH_SECONDS: '3600' };
    const system = new Client({ connectionString: database.DATABASE_SYSTEM_URL });
    await system.connect();
    const redis = new Redis(redisUrl);
    const fakes: FakeUpstream[] = [];
    let api: RunningApp | undefined;
    let worker: RunningApp | undefined;
    try {
      // A breaker opens after two failures, and stays open for the scrape.
      api = await startTestApi({ ...env, CHANNEL_BREAKER_FAILURES: '2', CHANNEL_BREAKER_COOLDOWN_SECONDS: '3600' });
      worker = await startTestWorker({ ...env, METERING_TENANT_REFRESH_MS: '500' });
      const [good, flaky, sick] = await Promise.all([startFakeOpenAI(), startFakeOpenAI(), startFakeOpenAI()]);
      fakes.push(good, flaky, sick);
      const world = await new InferenceWorld(api, system, redis).init();
      const shop = await world.reseller(['alice', 'broke']);
      const model = uniqueSlug('live');
      const sickModel = uniqueSlug('live-sick');
      await world.price(world.platform, model, PRICE);
      await world.price(world.platform, sickModel, PRICE);
      // The flaky channel is tried first (higher priority); the good one takes over.
      await world.channel(fakeChannel(flaky.url, model, { priority: 2 }));
      await world.channel(fakeChannel(good.url, model, { priority: 1 }));
      await world.channel(fakeChannel(sick.url, sickModel, { retryBudget: 0 }));
      await world.credit(shop, 'alice', '10');
      const key = await world.key(shop, 'alice');
      const brokeKey = await world.key(shop, 'broke');

      const chat = (k: string, m: string, extra: Record<string, unknown> = {}) =>
        call(api!.baseUrl, 'POST', '/v1/chat/completions', { host: shop.domain, token: k, json: { model: m, messages: [{ role: 'user', content: 'hi' }], max_tokens: 16, ...extra } });
      flaky.next({ kind: 'status', status: 500 }); // the first request fails over to the good channel
      expect((await chat(key, model)).status).toBe(200);
      expect((await chat(key, model, { stream: true })).status).toBe(200); // time to first token
      sick.next({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
      for (let i = 0; i < 2; i++) expect((await chat(key, sickModel)).status).toBeGreaterThanOrEqual(500);
      expect((await chat(brokeKey, model)).status).toBe(402);
      // The admin API and the readiness probes, for the http_* and dependency series.
      for (const app of [api, worker]) expect((await fetch(`${app.baseUrl}/health/ready`)).status).toBe(200);
      await fetch(`${api.baseUrl}/no-such-route-${Date.now()}`);
      // The worker meters the events (backlog and lag gauges) and checks the channels once.
      await eventually(async () => (await redis.xlen(billingKeys.usageStream(shop.id))) === 0, 'the usage events metered', scaled(20_000));
      await worker.app.get(ChannelHealthProcessor).checkAll();
      // Scraped with Redis up (the queue gauges are read from Redis at each scrape), and once more after.
      const scrape = async () => {
        for (const app of [api!, worker!]) {
          const response = await fetch(app.metricsUrl);
          expect(response.status).toBe(200);
          expositions.push(await response.text());
        }
      };
      expositions = [];
      await scrape();
      // Redis stops answering: the api's readiness probe (2 s per dependency) answers 503, which the
      // admin API's 5xx queries select. Paused rather than stopped: a Redis restarted under a BullMQ
      // worker can leave the worker's close waiting for ever (see libs/queue/src/queue-shutdown.ts),
      // which hung this hook; a pause ends by itself and every client carries on.
      await redis.call('CLIENT', 'PAUSE', String(scaled(6_000)), 'ALL');
      expect((await fetch(`${api.baseUrl}/health/ready`, { signal: AbortSignal.timeout(scaled(20_000)) })).status).toBe(503);
      await scrape();
      await redis.ping(); // answered when the pause is over

    } finally {
      await Promise.allSettled([api?.close(), worker?.close(), ...fakes.map((f) => f.close())]);
      redis.disconnect();
      await redisServer.stop();
      await system.end();
    }
  }, scaled(120_000));

  it('every referenced series is in the live /metrics of api or worker', () => {
    const referenced = referencedSeriesNames().filter((name) => !(name in EXTERNAL_METRICS));
    expect(referenced.length).toBeGreaterThan(30);
    expect(missingSeries(referenced, expositions)).toEqual([]);
  });

  it('every selector of an alert, SLO rule, scaler or dashboard selects a live sample (label names and values exported)', () => {
    expect(unmatchedSelectors(chartQueries(), expositions, (series) => series in EXTERNAL_METRICS || series.includes(':'))).toEqual([]);
  });

  it('the traffic made the series the alerts need appear with samples', () => {
    const all = expositions.join('\n');
    expect(all).toMatch(/^aigateway_inference_responses_total\{endpoint="chat",code="5xx"\} [1-9]/m);
    expect(all).toMatch(/^aigateway_inference_failovers_total\{model="[^"]+"\} 1$/m);
    expect(all).toMatch(/^aigateway_channel_breaker_state\{[^}]*\} 2$/m);
    expect(all).toMatch(/^aigateway_metering_lag_seconds \d/m);
    expect(all).toMatch(/^http_requests_total\{[^}]*route="[^"]+"/m);
    expect(all).toMatch(/^http_requests_total\{[^}]*route="\/health\/ready",status_code="503"/m);
  });
});
