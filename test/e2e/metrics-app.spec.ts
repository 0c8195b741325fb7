import { getToken, PrometheusController } from '@willsoto/nestjs-prometheus';
import { Client } from 'pg';
import { register } from 'prom-client';
import { MetricsServer } from '@app/observability';
import { RunningApp, startTestApi, startTestWorker } from '../support/app';
import { connectAs, seedTenant } from '../support/db';
import { call } from '../support/http';

/**
 * DESIGN.md, Stack: @willsoto/nestjs-prometheus, "metric providers through its module; served on
 * the metrics port by a small Nest app of its own, never on the traffic port", for api and worker.
 */
describe('the metrics app (e2e)', () => {
  let system: Client;
  let api: RunningApp;
  let worker: RunningApp;
  let domain: string;

  beforeAll(async () => {
    system = await connectAs('system');
    ({ domain } = await seedTenant(system));
    api = await startTestApi();
    worker = await startTestWorker();
  });

  afterAll(async () => {
    await Promise.allSettled([api?.close(), worker?.close()]);
    await system?.end();
  });

  it('serves /metrics from a Nest app of its own with PrometheusModule, for api and worker', async () => {
    for (const app of [api, worker]) {
      const metrics = app.app.get(MetricsServer).application;
      expect(metrics).toBeDefined();
      expect(metrics).not.toBe(app.app);
      expect(metrics!.get(PrometheusController)).toBeInstanceOf(PrometheusController);
      const res = await fetch(app.metricsUrl);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(register.contentType);
      expect(await res.text()).toMatch(/^# TYPE http_requests_total counter$/m);
      // Nothing else on that port.
      expect((await fetch(app.metricsUrl.replace(/\/metrics$/, '/health/live'))).status).toBe(404);
    }
  });

  it('never answers /metrics on the traffic port, at a tenant domain or elsewhere', async () => {
    expect((await call(api.baseUrl, 'GET', '/metrics', { host: domain })).status).toBe(404);
    expect((await call(api.baseUrl, 'GET', '/metrics')).status).toBe(404);
    expect((await call(worker.baseUrl, 'GET', '/metrics')).status).toBe(404);
  });

  it('registers the metrics as providers of the process modules (injectable by name)', () => {
    const apiMetrics = ['http_requests_total', 'http_request_duration_seconds', 'aigateway_dependency_up', 'aigateway_inference_requests_total', 'aigateway_channel_requests_total'];
    const workerMetrics = ['http_requests_total', 'aigateway_metering_events_total', 'aigateway_risk_flags_total', 'aigateway_webhook_attempts_total', 'aigateway_channel_up', 'aigateway_queue_jobs', 'aigateway_balance_drift'];
    for (const name of apiMetrics) expect({ name, api: api.app.get(getToken(name), { strict: false })?.name }).toEqual({ name, api: name });
    for (const name of workerMetrics) expect({ name, worker: worker.app.get(getToken(name), { strict: false })?.name }).toEqual({ name, worker: name });
  });
});
