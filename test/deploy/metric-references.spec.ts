/**
 * The PromQL reader, and an offline comparison of the chart's queries with the metrics the source
 * declares (prom-client `new Counter/Gauge/Histogram/Summary({ name })` in src/ and libs/, plus
 * prom-client's default metrics). metrics-live.spec.ts makes the same comparison with a live
 * /metrics of a running api and worker.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ROOT } from './helm';
import {
  ChartQuery,
  EXTERNAL_METRICS,
  PROMQL_AGGREGATIONS,
  PROMQL_FUNCTIONS,
  chartQueries,
  metricFamily,
  missingSeries,
  parseMatchers,
  promqlNames,
  recordedSeries,
  referencedMetricNames,
  referencedSeriesNames,
  unmatchedSelectors,
  variableQueryExpr,
} from './metric-references';

describe('promqlNames', () => {
  it('finds metric names, not functions, keywords, label names, strings or durations', () => {
    const expr = `
      sum by (le, route) (rate(http_request_duration_seconds_bucket{job="api", route!~"/v1/.*|unmatched"}[5m] offset 1h))
        / on (route) group_left(tenant)
      sum without (instance) (irate(http_requests_total{status_code=~"5.."}[$__rate_interval]))
        > bool 0.05
      or label_replace(up{job="worker"}, "dst", "$1", "src", "(.*)")
      unless absent(aigateway_dependency_up) and vector(1) * 1e3 + count(nodejs_heap_size_used_bytes) by (pod)
      # a comment naming not_a_metric
      + max(deriv(process_resident_memory_bytes[10m:1m])) - topk(5, {__name__="from_name_matcher", job="x"})`;
    const names = promqlNames(expr);
    expect(names.metrics).toEqual([
      'aigateway_dependency_up',
      'from_name_matcher',
      'http_request_duration_seconds_bucket',
      'http_requests_total',
      'nodejs_heap_size_used_bytes',
      'process_resident_memory_bytes',
      'up',
    ]);
    expect(names.functions).toEqual(['absent', 'count', 'deriv', 'irate', 'label_replace', 'max', 'rate', 'sum', 'topk', 'vector']);
  });

  it('reads bare metric names and Grafana variables', () => {
    expect(promqlNames('process_start_time_seconds').metrics).toEqual(['process_start_time_seconds']);
    expect(promqlNames('time() - process_start_time_seconds{pod=~"$pod"}').metrics).toEqual(['process_start_time_seconds']);
    expect(promqlNames('sum(rate(x_total{namespace="${namespace}"}[$__interval])) by (job)').metrics).toEqual(['x_total']);
    expect(promqlNames('rate(a_total[[[interval]]])').metrics).toEqual(['a_total']);
  });

  it('reads each selector with its label matchers', () => {
    const { selectors } = promqlNames(
      'sum by (model) (rate(a_total{job="api", code!="closed",model=~"gpt-.*|o1"}[5m])) / b{le=\'2.5\'} + c + {__name__="d", x!~`y|z`}',
    );
    expect(selectors).toEqual([
      { metric: 'a_total', matchers: [{ label: 'job', op: '=', value: 'api' }, { label: 'code', op: '!=', value: 'closed' }, { label: 'model', op: '=~', value: 'gpt-.*|o1' }] },
      { metric: 'b', matchers: [{ label: 'le', op: '=', value: '2.5' }] },
      { metric: 'c', matchers: [] },
      { metric: 'd', matchers: [{ label: 'x', op: '!~', value: 'y|z' }] },
    ]);
    expect(() => parseMatchers('job="a" code')).toThrow(/label matchers/);
  });

  it('rejects unbalanced expressions', () => {
    expect(() => promqlNames('sum(rate(x[5m])')).toThrow(/unbalanced/);
    expect(() => promqlNames('x{job="a"')).toThrow(/unbalanced/);
    expect(() => promqlNames('x{job="a}')).toThrow(/unterminated|unbalanced/);
    expect(() => promqlNames('sum(x))')).toThrow(/unbalanced/);
  });

  it('maps histogram series to their family', () => {
    expect(['a_bucket', 'a_sum', 'a_count', 'b_total', 'c'].map(metricFamily)).toEqual(['a', 'a', 'a', 'b_total', 'c']);
  });

  it('reads the PromQL of Grafana query variables', () => {
    expect(variableQueryExpr('label_values(aigateway_dependency_up{job="api"}, namespace)')).toBe('aigateway_dependency_up{job="api"}');
    expect(variableQueryExpr('label_values(namespace)')).toBeUndefined();
    expect(variableQueryExpr('query_result(max(up))')).toBe('max(up)');
    expect(variableQueryExpr('metrics(aigateway_.*)')).toBeUndefined();
  });
});

describe('unmatchedSelectors', () => {
  const exposition = [
    '# TYPE r_total counter',
    'r_total{endpoint="chat",code="2xx"} 3',
    'r_total{endpoint="chat",code="5xx"} 1',
    '# TYPE h histogram',
    'h_bucket{model="m",le="2.5"} 1',
    'h_bucket{model="m",le="+Inf"} 1',
    '# TYPE q_total counter',
  ].join('\n');
  const check = (expr: string) => unmatchedSelectors([{ source: 'rule X', expr }], [exposition], () => false);

  it('accepts selectors some live sample satisfies, ignoring target labels and Grafana variables', () => {
    expect(check('r_total{namespace="ns",job="api",code="5xx"} / r_total{code!="closed",endpoint=~"chat|embeddings"}')).toEqual([]);
    expect(check('h_bucket{model=~"$model",le="2.5"} + r_total')).toEqual([]);
  });

  it('reports a label value no sample has, a label the series lacks, a bucket bound that does not exist and a series without samples', () => {
    expect(check('r_total{code="5XX"}')).toEqual(['rule X: r_total{code="5XX"} selects no sample (2 samples of the series)']);
    expect(check('r_total{status!="ok"}')).toEqual(['rule X: r_total{status!="ok"} selects no sample (2 samples of the series)']);
    expect(check('h_bucket{le="3"}')).toEqual(['rule X: h_bucket{le="3"} selects no sample (2 samples of the series)']);
    expect(check('q_total{job="api"}')).toEqual(['rule X: q_total{} selects no sample (0 samples of the series)']);
    // Each matcher alone finds a sample; together they find none.
    expect(check('r_total{endpoint="chat",code="4xx"}')).toHaveLength(1);
  });
});

describe('missingSeries', () => {
  const exposition = [
    '# HELP h A histogram',
    '# TYPE h histogram',
    'h_bucket{le="1"} 0',
    '# TYPE c_total counter',
    '# TYPE g gauge',
    'g{x="1"} 1',
    '# TYPE s summary',
  ].join('\n');
  it('accepts samples, declared families without samples yet, and histogram/summary series', () => {
    expect(missingSeries(['h_bucket', 'h_sum', 'h_count', 'c_total', 'g', 's_sum', 's_count'], [exposition])).toEqual([]);
  });
  it('reports names that are not exported, histogram bases used as series, and buckets of summaries', () => {
    expect(missingSeries(['nope', 'h', 's_bucket', 'g_bucket', 'c'], [exposition])).toEqual(['nope', 'h', 's_bucket', 'g_bucket', 'c']);
  });
});

/** prom-client metrics declared in the application source, as a synthetic exposition. */
async function declaredMetricsExposition(): Promise<string> {
  const lines: string[] = [];
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const metric of await registry.getMetricsAsJSON()) lines.push(`# TYPE ${metric.name} ${metric.type}`);
  // Metric providers registered through @willsoto/nestjs-prometheus (the application's way), with
  // the name as a literal or a constant of the same file (`METRIC.x`, `NAME.x`); prom-client's own
  // constructors are still read, should one remain.
  const declaration =
    /(?:new\s+(Counter|Gauge|Histogram|Summary)\s*(?:<[^>]*>)?\(|make(Counter|Gauge|Histogram|Summary)Provider\(|tallied(Counter)Provider\()\s*\{\s*name:\s*(?:['"]([a-zA-Z_:][a-zA-Z0-9_:]*)['"]|\w+\.(\w+))/g;
  const constants = (text: string) => new Map([...text.matchAll(/^\s*(\w+):\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)',?$/gm)].map((m) => [m[1], m[2]]));
  const walk = (dir: string): string[] =>
    fs.existsSync(dir)
      ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [path.join(dir, e.name)] : []))
      : [];
  for (const file of [...walk(path.join(ROOT, 'src')), ...walk(path.join(ROOT, 'libs'))]) {
    const text = fs.readFileSync(file, 'utf8');
    const named = constants(text);
    for (const m of text.matchAll(declaration)) {
      const type = (m[1] ?? m[2] ?? m[3]).toLowerCase();
      const name = m[4] ?? named.get(m[5]);
      if (!name) throw new Error(`${file}: the metric name ${m[5]} is not a constant of the file`);
      lines.push(`# TYPE ${name} ${type}`);
    }
  }
  return lines.join('\n');
}

describe('the chart queries', () => {
  let queries: ChartQuery[];
  beforeAll(() => {
    queries = chartQueries();
  });

  it('come from every alert, the KEDA trigger and every dashboard', () => {
    const sources = new Set(queries.map((q) => q.source.split(' / ')[0]));
    // 20 alert names (each burn-rate alert has a fast and a slow rule) and 12 SLO recording rules.
    expect([...sources].filter((s) => s.startsWith('rule ')).length).toBe(20 + 12);
    expect([...sources].some((s) => s.startsWith('ScaledObject'))).toBe(true);
    expect([...sources].filter((s) => s.startsWith('dashboard ')).sort()).toEqual([
      'dashboard api-overview.json', 'dashboard channels.json', 'dashboard dependencies.json', 'dashboard inference.json',
      'dashboard process-health.json', 'dashboard queues.json', 'dashboard reseller.json', 'dashboard revenue.json',
    ]);
  });

  it('parse, and call only PromQL functions and aggregations', () => {
    for (const { source, expr } of queries) {
      const { functions, metrics } = promqlNames(expr);
      expect({ source, unknown: functions.filter((f) => !PROMQL_FUNCTIONS.has(f) && !PROMQL_AGGREGATIONS.has(f)) }).toEqual({ source, unknown: [] });
      expect({ source, metrics: metrics.length > 0 }).toEqual({ source, metrics: true });
    }
  });

  it('leave out the series the chart records itself, but not a recorded-looking name no rule records', () => {
    const rule = { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'r' }, spec: { groups: [{ name: 'g', rules: [{ record: 'a:b:rate5m', expr: 'rate(b_total[5m])' }] }] } };
    expect(recordedSeries([rule])).toEqual(['a:b:rate5m']);
    const queries = [{ source: 'rule A', expr: 'a:b:rate5m > 1 and a:c:rate5m > 1' }];
    expect(referencedSeriesNames(queries, ['a:b:rate5m'])).toEqual(['a:c:rate5m']);
  });

  it('referencedMetricNames() lists the metric families, histogram suffixes stripped', () => {
    const names = referencedMetricNames(queries);
    expect(names).toEqual(expect.arrayContaining(['http_request_duration_seconds', 'http_requests_total', 'aigateway_dependency_up', 'aigateway_db_pool_connections', 'aigateway_queue_jobs', 'nodejs_gc_duration_seconds']));
    expect(names.some((n) => /_(bucket|sum|count)$/.test(n))).toBe(false);
    expect(referencedSeriesNames(queries)).toContain('http_request_duration_seconds_bucket');
  });

  it('are declared as providers through @willsoto/nestjs-prometheus (pinned), never with prom-client constructors', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.dependencies['@willsoto/nestjs-prometheus']).toMatch(/^\d+\.\d+\.\d+$/);
    const walk = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [path.join(dir, e.name)] : []));
    const constructed = [...walk(path.join(ROOT, 'src')), ...walk(path.join(ROOT, 'libs'))].filter((file) =>
      /new\s+(Counter|Gauge|Histogram|Summary)\s*(<[^>]*>)?\(/.test(fs.readFileSync(file, 'utf8')),
    );
    expect(constructed.map((file) => path.relative(ROOT, file))).toEqual([]);
  });

  it('use only metrics the source declares (or the allow-listed kube-state-metrics series)', async () => {
    const exposition = await declaredMetricsExposition();
    const used = referencedSeriesNames(queries).filter((name) => !(name in EXTERNAL_METRICS));
    expect(missingSeries(used, [exposition])).toEqual([]);
    for (const external of Object.keys(EXTERNAL_METRICS)) expect(exposition).not.toContain(`# TYPE ${external} `);
  });
});
