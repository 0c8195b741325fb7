/**
 * The Grafana dashboards show what the issue asks for and work with any Prometheus datasource,
 * and the chart README documents every value (and nothing that is not a value).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { CHART_DIR } from './helm';

const DASHBOARD_DIR = path.join(CHART_DIR, 'dashboards');

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Array<{ expr: string; datasource?: { uid: string } }>;
}

const dashboards = Object.fromEntries(
  fs
    .readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f, JSON.parse(fs.readFileSync(path.join(DASHBOARD_DIR, f), 'utf8'))]),
);

describe('Grafana dashboards', () => {
  it('have unique uids and titles, a datasource variable, and query only through it', () => {
    const uids = Object.values(dashboards).map((d: any) => d.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const [file, dashboard] of Object.entries<any>(dashboards)) {
      expect(dashboard.title).toMatch(/^AIGateway \/ /);
      expect(dashboard.templating.list.find((v: any) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
      const ids = (dashboard.panels as Panel[]).map((p) => p.id);
      expect({ file, unique: new Set(ids).size === ids.length }).toEqual({ file, unique: true });
      for (const panel of dashboard.panels as Panel[]) {
        if (panel.type === 'row') continue;
        expect({ file, panel: panel.title, uid: panel.datasource?.uid }).toEqual({ file, panel: panel.title, uid: '${datasource}' });
        expect(panel.gridPos.w).toBeGreaterThan(0);
        for (const target of panel.targets ?? []) expect(target.datasource?.uid).toBe('${datasource}');
      }
    }
  });

  const panelExprs = (file: string): string[] => (dashboards[file].panels as Panel[]).flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const titles = (file: string): string[] => (dashboards[file].panels as Panel[]).map((p) => p.title);

  it('API overview: requests/s, p50 and p99 latency, error rate by route and by tenant', () => {
    const exprs = panelExprs('api-overview.json');
    expect(exprs.some((e) => /^sum\(rate\(http_requests_total\{/.test(e))).toBe(true);
    expect(exprs.some((e) => e.includes('histogram_quantile(0.5,') && e.includes('http_request_duration_seconds_bucket'))).toBe(true);
    expect(exprs.some((e) => e.includes('histogram_quantile(0.99,') && e.includes('http_request_duration_seconds_bucket'))).toBe(true);
    expect(exprs.some((e) => /sum by \(method, route\).*status_code=~"5\.\."/.test(e))).toBe(true);
    expect(exprs.some((e) => /sum by \(tenant\).*status_code=~"5\.\."/.test(e))).toBe(true);
    expect(titles('api-overview.json')).toEqual(expect.arrayContaining(['5xx ratio by route', '5xx ratio by tenant']));
  });

  it('Process health: CPU, memory, event-loop lag, GC', () => {
    const exprs = panelExprs('process-health.json').join('\n');
    for (const metric of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_gc_duration_seconds_sum']) {
      expect(exprs).toContain(metric);
    }
  });

  it('Dependencies: PostgreSQL and Redis readiness, connection pool use', () => {
    const exprs = panelExprs('dependencies.json').join('\n');
    expect(exprs).toContain('dependency="postgres"');
    expect(exprs).toContain('dependency="redis"');
    expect(exprs).toContain('aigateway_db_pool_connections');
    expect(exprs).toContain('state="waiting"');
  });

  it('Queues: depth, active and failed per queue', () => {
    const exprs = panelExprs('queues.json').join('\n');
    for (const state of ['waiting', 'active', 'failed']) expect(exprs).toContain(`max by (queue) (aigateway_queue_jobs{namespace="$namespace",job="worker",queue=~"$queue",state="${state}"})`);
  });

  it('Inference: /v1 answers by status class, 5xx ratio, p99 latency and time to first token per model, failovers, spool', () => {
    const exprs = panelExprs('inference.json').join('\n');
    expect(exprs).toContain('sum by (code) (rate(aigateway_inference_responses_total{');
    expect(exprs).toMatch(/histogram_quantile\(0\.99, sum by \(model, le\) \(rate\(aigateway_inference_duration_seconds_bucket\{/);
    expect(exprs).toMatch(/histogram_quantile\(0\.99, sum by \(model, le\) \(rate\(aigateway_inference_ttft_seconds_bucket\{/);
    for (const metric of ['aigateway_inference_failovers_total', 'aigateway_inference_spooled_settlements', 'aigateway_inference_refused_total']) expect(exprs).toContain(metric);
    expect(exprs).not.toContain('http_requests_total'); // never sees /v1
  });

  it('Channels: success ratio, errors by kind, time to first byte, breakers and health checks per channel', () => {
    const exprs = panelExprs('channels.json').join('\n');
    expect(exprs).toMatch(/sum by \(channel\) \(rate\(aigateway_channel_requests_total\{[^}]*outcome="ok"/);
    for (const metric of ['aigateway_channel_errors_total', 'aigateway_channel_latency_seconds_bucket', 'aigateway_channel_breaker_state', 'aigateway_channel_up']) expect(exprs).toContain(metric);
  });

  it('Revenue: charged by reseller and by model, and the billing pipeline (metering backlog and lag, drift)', () => {
    const exprs = panelExprs('revenue.json').join('\n');
    expect(exprs).toContain('sum by (tenant) (rate(aigateway_inference_charged_total{');
    expect(exprs).toContain('sum by (model) (rate(aigateway_inference_charged_total{');
    for (const metric of ['aigateway_metering_backlog_events', 'aigateway_metering_lag_seconds', 'aigateway_balance_drift']) expect(exprs).toContain(metric);
  });

  it("Reseller: every panel is one reseller's (tenant variable)", () => {
    expect(dashboards['reseller.json'].templating.list.map((v: any) => v.name)).toContain('tenant');
    for (const expr of panelExprs('reseller.json')) expect(expr).toContain('tenant="$tenant"');
  });
});

/** Dotted paths of the leaves of a values tree (scalars, lists and empty maps are leaves). */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}

describe('chart README', () => {
  const readme = fs.readFileSync(path.join(CHART_DIR, 'README.md'), 'utf8');
  const valuesSection = readme.slice(readme.indexOf('\n## Values\n'));
  const documented = [...valuesSection.matchAll(/^\| `([A-Za-z0-9_.]+)` \|/gm)].map((m) => m[1]);
  const values = parse(fs.readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8'));

  it('documents every value (itself or a parent key) in the values table', () => {
    expect(documented.length).toBeGreaterThan(100);
    const undocumented = leafPaths(values).filter((leaf) => !documented.some((d) => leaf === d || leaf.startsWith(`${d}.`)));
    expect(undocumented).toEqual([]);
  });

  it('documents no key that values.yaml does not have', () => {
    const exists = (dotted: string) => dotted.split('.').reduce<any>((node, key) => (node && typeof node === 'object' && key in node ? node[key] : undefined), values) !== undefined;
    expect(documented.filter((d) => !exists(d))).toEqual([]);
  });
});
