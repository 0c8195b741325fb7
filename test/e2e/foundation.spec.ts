import { Client } from 'pg';
import { connectAs, SeededTenant, seedTenant } from '../support/db';
import { RunningApp, startTestApi } from '../support/app';
import { call } from '../support/http';

describe('api foundation (e2e)', () => {
  let api: RunningApp;
  let system: Client;
  let tenant: SeededTenant;

  beforeAll(async () => {
    system = await connectAs('system');
    tenant = await seedTenant(system);
    api = await startTestApi();
  });

  afterAll(async () => {
    await api?.close();
    await system?.end();
  });

  it('answers liveness and readiness with PostgreSQL and Redis up', async () => {
    const live = await fetch(`${api.baseUrl}/health/live`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${api.baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ok', info: { postgres: { status: 'up' }, redis: { status: 'up' } } });
  });

  it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
    const echoed = await fetch(`${api.baseUrl}/health/live`, { headers: { 'x-request-id': 'trace-123.abc' } });
    expect(echoed.headers.get('x-request-id')).toBe('trace-123.abc');
    const replaced = await fetch(`${api.baseUrl}/health/live`, { headers: { 'x-request-id': 'bad id\twith spaces' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const generated = await fetch(`${api.baseUrl}/health/live`);
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown routes with problem+json and a stable code', async () => {
    const res = await call(api.baseUrl, 'GET', '/api/v1/nope', { host: tenant.domain, headers: { 'x-request-id': 'req-404' } });
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status: 404, code: 'route_not_found', requestId: 'req-404' });
  });

  it('answers the inference API in the OpenAI error shape', async () => {
    const res = await call(api.baseUrl, 'GET', '/v1/nope', { host: tenant.domain });
    expect(res.status).toBe(404);
    const body = res.body;
    expect(body).toEqual({ error: { message: expect.any(String), type: 'not_found_error', param: null, code: 'route_not_found' } });
  });

  it('exports process and HTTP metrics labelled by route template', async () => {
    await fetch(`${api.baseUrl}/health/ready`);
    const text = await (await fetch(api.metricsUrl)).text();
    expect(text).toMatch(/process_cpu_user_seconds_total/);
    expect(text).toMatch(/nodejs_eventloop_lag_p99_seconds/);
    expect(text).toMatch(/http_request_duration_seconds_bucket\{[^}]*method="GET"[^}]*route="\/health\/ready"[^}]*status_code="200"/);
    expect(text).toMatch(/http_requests_total\{[^}]*route="unmatched"/);
    expect(text).toMatch(/aigateway_dependency_up\{dependency="postgres"\} 1/);
    expect(text).toMatch(/aigateway_db_pool_connections\{pool="app",state="total"\}/);
  });

  it('labels requests with the tenant of their Host', async () => {
    const res = await call(api.baseUrl, 'GET', '/api/v1/anything', { host: tenant.domain });
    expect(res.status).toBe(404);
    const text = await (await fetch(api.metricsUrl)).text();
    expect(text).toContain(`tenant="${tenant.slug}"`);
  });

  it('answers body errors as problems naming the cause, never a stack', async () => {
    const res = await call(api.baseUrl, 'POST', '/api/v1/anything', {
      headers: { 'content-type': 'application/json' },
      body: '{"broken":',
    });
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.text).not.toMatch(/at .*\.(js|ts):\d+/);
  });
});
