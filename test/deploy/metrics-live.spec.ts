/**
 * The alerts, the KEDA trigger and the dashboards query only metrics the processes really export:
 * boots the api and the worker against the test PostgreSQL and Redis, makes one request so the
 * http_* series exist, and compares every referenced series with their live /metrics.
 * Only EXTERNAL_METRICS (kube-state-metrics) may be missing.
 */
import { startTestApi, startTestWorker } from '../support/app';
import { EXTERNAL_METRICS, missingSeries, referencedSeriesNames } from './metric-references';
import { scaled } from '../support/timing';

describe('metrics referenced by the chart are exported by api and worker', () => {
  let expositions: string[];

  beforeAll(async () => {
    const api = await startTestApi();
    const worker = await startTestWorker();
    try {
      // One routed request and one unmatched one, so the http_* series have samples.
      await fetch(`${api.baseUrl}/health/live`);
      await fetch(`${api.baseUrl}/no-such-route-${Date.now()}`);
      expositions = [];
      for (const app of [api, worker]) {
        const response = await fetch(app.metricsUrl);
        expect(response.status).toBe(200);
        expositions.push(await response.text());
      }
    } finally {
      await Promise.allSettled([api.close(), worker.close()]);
    }
  }, scaled(60_000));

  it('every referenced series is in the live /metrics of api or worker', () => {
    const referenced = referencedSeriesNames().filter((name) => !(name in EXTERNAL_METRICS));
    expect(referenced.length).toBeGreaterThan(10);
    expect(missingSeries(referenced, expositions)).toEqual([]);
  });

  it('the request made the http series appear with samples', () => {
    expect(expositions[0]).toMatch(/^http_requests_total\{[^}]*route="[^"]+"/m);
    expect(expositions[0]).toMatch(/^http_request_duration_seconds_bucket\{/m);
  });
});
