/**
 * Which metrics the chart's alerts, KEDA trigger and Grafana dashboards query, so they can be
 * compared with what the processes really export (metrics-live.spec.ts compares them with a live
 * /metrics; metric-references.spec.ts with the metrics declared in the source).
 *
 * The PromQL reader is deliberately small but exact about what is a metric name: an identifier
 * that is neither a function/aggregation (followed by `(`), nor a keyword, nor a label name
 * (inside `{...}` or a `by/without/on/ignoring/group_left/group_right (...)` list), nor part of a
 * string, a duration or a range/subquery `[...]`. Grafana variables (`$__rate_interval`, `$job`,
 * `${datasource}`) are skipped.
 */
import { ALL_ON_VALUES, K8sObject, render } from './helm';

/** Metrics the queries may use although the application does not export them, and who does. */
export const EXTERNAL_METRICS: Readonly<Record<string, string>> = {
  kube_pod_container_status_restarts_total: 'kube-state-metrics (pod restarts)',
};

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool', 'atan2', 'inf', 'nan']);
/** Keywords followed by a parenthesised list of label names. */
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

export const PROMQL_AGGREGATIONS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk',
  'quantile', 'limitk', 'limit_ratio',
]);
export const PROMQL_FUNCTIONS = new Set([
  'abs', 'absent', 'absent_over_time', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'avg_over_time',
  'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'cos', 'cosh', 'count_over_time', 'day_of_month',
  'day_of_week', 'day_of_year', 'days_in_month', 'deg', 'delta', 'deriv', 'double_exponential_smoothing',
  'exp', 'floor', 'histogram_avg', 'histogram_count', 'histogram_fraction', 'histogram_quantile',
  'histogram_stddev', 'histogram_stdvar', 'histogram_sum', 'holt_winters', 'hour', 'idelta', 'increase',
  'info', 'irate', 'label_join', 'label_replace', 'last_over_time', 'ln', 'log10', 'log2', 'mad_over_time',
  'max_over_time', 'min_over_time', 'minute', 'month', 'pi', 'predict_linear', 'present_over_time',
  'quantile_over_time', 'rad', 'rate', 'resets', 'round', 'scalar', 'sgn', 'sin', 'sinh', 'sort',
  'sort_by_label', 'sort_by_label_desc', 'sort_desc', 'sqrt', 'stddev_over_time', 'stdvar_over_time',
  'sum_over_time', 'tan', 'tanh', 'time', 'timestamp', 'vector', 'year', 'start', 'end',
]);

export interface PromQLNames {
  /** Metric names as written (e.g. `http_request_duration_seconds_bucket`). */
  metrics: string[];
  /** Functions and aggregations called. */
  functions: string[];
  /** Each vector selector with its label matchers (`__name__` left out), in order of appearance. */
  selectors: SeriesSelector[];
}

export type MatchOp = '=' | '!=' | '=~' | '!~';
export interface LabelMatcher {
  label: string;
  op: MatchOp;
  value: string;
}
export interface SeriesSelector {
  metric: string;
  matchers: LabelMatcher[];
}

const MATCHER = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*(,|$)/y;

/** The matchers inside a selector's braces (text between `{` and `}`). Throws on anything else. */
export function parseMatchers(body: string): LabelMatcher[] {
  const matchers: LabelMatcher[] = [];
  let i = 0;
  while (i < body.length && body.slice(i).trim()) {
    MATCHER.lastIndex = i;
    const m = MATCHER.exec(body);
    if (!m) throw new Error(`cannot read label matchers: {${body}}`);
    const quoted = m[3];
    const value = quoted[0] === '`' ? quoted.slice(1, -1) : quoted[0] === "'" ? JSON.parse(`"${quoted.slice(1, -1).replace(/"/g, '\\"')}"`) : JSON.parse(quoted);
    matchers.push({ label: m[1], op: m[2] as MatchOp, value });
    i = MATCHER.lastIndex;
  }
  return matchers;
}

const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const NUMBER_OR_DURATION = /(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?(?:[a-z]+[0-9]*)*)/y;
const VARIABLE = /\$(?:\{[^}]*\}|__[a-zA-Z_]+|[a-zA-Z_][a-zA-Z0-9_]*)/y;

/** Metric and function names of one PromQL expression. Throws on unbalanced brackets or strings. */
export function promqlNames(expr: string): PromQLNames {
  const metrics = new Set<string>();
  const functions = new Set<string>();
  const selectors: SeriesSelector[] = [];
  let i = 0;
  const stack: string[] = [];
  const closing: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

  const skipSpace = () => {
    while (i < expr.length) {
      if (/\s/.test(expr[i])) i++;
      else if (expr[i] === '#') while (i < expr.length && expr[i] !== '\n') i++;
      else break;
    }
  };
  const skipString = () => {
    const quote = expr[i++];
    while (i < expr.length && expr[i] !== quote) i += expr[i] === '\\' && quote !== '`' ? 2 : 1;
    if (i >= expr.length) throw new Error(`unterminated string in: ${expr}`);
    i++;
  };
  /**
   * Skips a {...} or [...] block (nested brackets allowed, for Grafana's `[[var]]` inside a range);
   * inside braces, `__name__="x"` names a metric.
   */
  const skipBlock = (open: '{' | '['): string | undefined => {
    const start = i;
    const close = closing[open];
    let depth = 0;
    do {
      if (expr[i] === '"' || expr[i] === "'" || expr[i] === '`') {
        skipString();
        continue;
      }
      if (expr[i] === open) depth++;
      else if (expr[i] === close) depth--;
      i++;
    } while (i < expr.length && depth > 0);
    if (depth > 0) throw new Error(`unbalanced ${open} in: ${expr}`);
    if (open === '{') {
      const nameMatcher = /__name__\s*=\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"/.exec(expr.slice(start, i));
      if (nameMatcher) metrics.add(nameMatcher[1]);
      return expr.slice(start + 1, i - 1);
    }
    return undefined;
  };
  const skipLabelList = () => {
    skipSpace();
    if (expr[i] !== '(') return; // group_left without labels
    const end = expr.indexOf(')', i);
    if (end < 0) throw new Error(`unbalanced ( in: ${expr}`);
    i = end + 1;
  };
  const match = (re: RegExp): string | undefined => {
    re.lastIndex = i;
    const m = re.exec(expr);
    if (!m) return undefined;
    i += m[0].length;
    return m[0];
  };

  while (i < expr.length) {
    skipSpace();
    if (i >= expr.length) break;
    const c = expr[i];
    if (c === '"' || c === "'" || c === '`') {
      skipString();
    } else if (c === '$') {
      if (!match(VARIABLE)) i++;
    } else if (c === '{' || c === '[') {
      const body = skipBlock(c);
      if (body !== undefined) {
        // A selector without a metric name before it: `{__name__="x", job="y"}`.
        const matchers = parseMatchers(body);
        const name = matchers.find((m) => m.label === '__name__' && m.op === '=');
        if (name) selectors.push({ metric: name.value, matchers: matchers.filter((m) => m.label !== '__name__') });
      }
    } else if (c === '(') {
      stack.push(')');
      i++;
    } else if (c === ')') {
      if (stack.pop() !== ')') throw new Error(`unbalanced ) in: ${expr}`);
      i++;
    } else if (c === '}' || c === ']') {
      throw new Error(`unbalanced ${c} in: ${expr}`);
    } else if (/[0-9.]/.test(c)) {
      if (!match(NUMBER_OR_DURATION)) i++;
    } else if (/[a-zA-Z_:]/.test(c)) {
      const word = match(IDENT)!;
      const lower = word.toLowerCase();
      if (LABEL_LIST_KEYWORDS.has(lower)) {
        skipLabelList();
        continue;
      }
      if (KEYWORDS.has(lower)) continue;
      skipSpace();
      // An aggregation may put its `by (...)` before the parenthesis: `sum by (le) (...)`.
      if (expr[i] === '(' || PROMQL_AGGREGATIONS.has(lower)) functions.add(word);
      else {
        metrics.add(word);
        const body = expr[i] === '{' ? skipBlock('{') : undefined;
        selectors.push({ metric: word, matchers: body === undefined ? [] : parseMatchers(body) });
      }
    } else {
      i++; // operators, commas, @
    }
  }
  if (stack.length > 0) throw new Error(`unbalanced ( in: ${expr}`);
  return { metrics: [...metrics].sort(), functions: [...functions].sort(), selectors };
}

/** The metric family of a series name: histogram `_bucket/_sum/_count` suffixes removed. */
export function metricFamily(series: string): string {
  for (const suffix of HISTOGRAM_SUFFIXES) if (series.endsWith(suffix)) return series.slice(0, -suffix.length);
  return series;
}

/** A query of the chart, with where it comes from. */
export interface ChartQuery {
  source: string;
  expr: string;
}

interface DashboardPanel {
  title?: string;
  targets?: Array<{ expr?: string }>;
  panels?: DashboardPanel[];
}
interface Dashboard {
  title: string;
  panels?: DashboardPanel[];
  templating?: { list?: Array<{ name: string; type: string; query?: string | { query?: string } }> };
}

/**
 * The PromQL inside a Grafana query variable. `label_values(selector, label)` queries the selector;
 * `label_values(label)` and `metrics(regex)` name no metric; `query_result(expr)` is PromQL.
 */
export function variableQueryExpr(query: string): string | undefined {
  const q = query.trim();
  const labelValues = /^label_values\(([\s\S]*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$/.exec(q);
  if (labelValues) return labelValues[1];
  if (/^label_values\(\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$/.test(q) || /^(metrics|label_names)\(/.test(q)) return undefined;
  const queryResult = /^query_result\(([\s\S]*)\)$/.exec(q);
  return queryResult ? queryResult[1] : q;
}

export function dashboardQueries(name: string, dashboard: Dashboard): ChartQuery[] {
  const queries: ChartQuery[] = [];
  const visit = (panels: DashboardPanel[] = []) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        if (target.expr) queries.push({ source: `dashboard ${name} / ${panel.title}`, expr: target.expr });
      }
      visit(panel.panels);
    }
  };
  visit(dashboard.panels);
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== 'query' || variable.query === undefined) continue;
    const text = typeof variable.query === 'string' ? variable.query : variable.query.query ?? '';
    const expr = variableQueryExpr(text);
    if (expr) queries.push({ source: `dashboard ${name} / variable ${variable.name}`, expr });
  }
  return queries;
}

/** Every PromQL query in rendered manifests: PrometheusRule, KEDA prometheus triggers, dashboards. */
export function manifestQueries(objects: K8sObject[]): ChartQuery[] {
  const queries: ChartQuery[] = [];
  for (const object of objects) {
    const spec = object.spec as Record<string, any> | undefined;
    if (object.kind === 'PrometheusRule') {
      for (const group of spec?.groups ?? []) {
        for (const rule of group.rules ?? []) {
          queries.push({ source: `rule ${rule.alert ?? rule.record}`, expr: String(rule.expr) });
        }
      }
    } else if (object.kind === 'ScaledObject') {
      for (const trigger of spec?.triggers ?? []) {
        if (trigger.type === 'prometheus') queries.push({ source: `ScaledObject trigger ${trigger.name ?? ''}`, expr: trigger.metadata.query });
      }
    } else if (object.kind === 'ConfigMap' && object.metadata.labels?.grafana_dashboard) {
      for (const [file, json] of Object.entries((object as unknown as { data: Record<string, string> }).data)) {
        queries.push(...dashboardQueries(file, JSON.parse(json) as Dashboard));
      }
    }
  }
  return queries;
}

/** Series the chart's PrometheusRules record (`record:`): made by Prometheus, not exported by a process. */
export function recordedSeries(objects: K8sObject[]): string[] {
  const names = new Set<string>();
  for (const object of objects) {
    if (object.kind !== 'PrometheusRule') continue;
    for (const group of (object.spec as any)?.groups ?? []) for (const rule of group.rules ?? []) if (rule.record) names.add(String(rule.record));
  }
  return [...names].sort();
}

let allOn: K8sObject[] | undefined;
/** The chart rendered with everything on (alerts, SLO rules, KEDA, dashboards), once per file. */
function allOnObjects(): K8sObject[] {
  allOn ??= render({ valuesFiles: [ALL_ON_VALUES] });
  return allOn;
}

export function chartQueries(): ChartQuery[] {
  return manifestQueries(allOnObjects());
}

export function chartRecordedSeries(): string[] {
  return recordedSeries(allOnObjects());
}

/**
 * Every series name the chart's queries use, as written (e.g. `..._bucket`), sorted; the series
 * the chart's own recording rules make are left out (a name that looks recorded, `a:b:c`, but is
 * recorded by no rule stays in, and fails the comparison with the processes' metrics).
 */
export function referencedSeriesNames(queries: ChartQuery[] = chartQueries(), recorded: string[] = chartRecordedSeries()): string[] {
  const made = new Set(recorded);
  return [...new Set(queries.flatMap((q) => promqlNames(q.expr).metrics))].filter((name) => !made.has(name)).sort();
}

/**
 * Labels Prometheus attaches at scrape time (ServiceMonitor target labels) and labels whose value
 * is a Grafana variable: a process cannot be asked to export them.
 */
export const TARGET_LABELS = new Set(['namespace', 'service', 'pod', 'job', 'instance', 'container', 'endpoint']);

type Sample = Record<string, string>;

/** The label sets of every sample of a Prometheus text exposition, by series name. */
export function parseSamples(text: string): Map<string, Sample[]> {
  const samples = new Map<string, Sample[]>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+/.exec(line);
    if (!m) continue;
    const labels: Sample = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = JSON.parse(`"${pair[2]}"`);
    const list = samples.get(m[1]) ?? [];
    list.push(labels);
    samples.set(m[1], list);
  }
  return samples;
}

function matches(sample: Sample, matcher: LabelMatcher): boolean {
  const value = sample[matcher.label] ?? '';
  switch (matcher.op) {
    case '=':
      return value === matcher.value;
    case '!=':
      return value !== matcher.value;
    case '=~':
      return new RegExp(`^(?:${matcher.value})$`).test(value);
    case '!~':
      return !new RegExp(`^(?:${matcher.value})$`).test(value);
  }
}

/**
 * The selectors of the chart's queries that select no sample of the live expositions, described
 * for the failure message. A selector selects a sample when the sample satisfies all its matchers
 * on labels the process exports (TARGET_LABELS and matchers on Grafana variables left out), and a
 * matcher counts only where its label is present on the sample: `code!="closed"` on a counter
 * without a `code` label selects nothing a process meant. A selector with no such matcher needs one
 * sample of its series (so a labelled counter that traffic never increments fails too).
 */
export function unmatchedSelectors(queries: ChartQuery[], expositions: string[], skip: (series: string) => boolean): string[] {
  const samples = new Map<string, Sample[]>();
  for (const text of expositions) for (const [name, list] of parseSamples(text)) samples.set(name, [...(samples.get(name) ?? []), ...list]);
  const defects = new Set<string>();
  for (const { source, expr } of queries) {
    for (const selector of promqlNames(expr).selectors) {
      if (skip(selector.metric)) continue;
      const checked = selector.matchers.filter((m) => !TARGET_LABELS.has(m.label) && !m.value.includes('$'));
      const ofSeries = samples.get(selector.metric) ?? [];
      const selected = ofSeries.some((sample) => checked.every((m) => (m.op === '=' && m.value === '' ? true : m.label in sample) && matches(sample, m)));
      if (!selected) {
        const shown = checked.map((m) => `${m.label}${m.op}${JSON.stringify(m.value)}`).join(',');
        defects.add(`${source}: ${selector.metric}{${shown}} selects no sample (${ofSeries.length} samples of the series)`);
      }
    }
  }
  return [...defects].sort();
}

/**
 * Every metric the chart's alerts, KEDA trigger and dashboards use, as metric families: histogram
 * suffixes `_bucket/_sum/_count` are stripped to the base name, sorted. Includes the
 * EXTERNAL_METRICS the chart uses; filter them out before comparing with the application.
 */
export function referencedMetricNames(queries: ChartQuery[] = chartQueries()): string[] {
  return [...new Set(referencedSeriesNames(queries).map(metricFamily))].sort();
}

/** Families declared (`# TYPE`) and sample names present in a Prometheus text exposition. */
export function parseExposition(text: string): { types: Map<string, string>; samples: Set<string> } {
  const types = new Map<string, string>();
  const samples = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)/.exec(line);
    if (type) types.set(type[1], type[2]);
    else if (line && !line.startsWith('#')) {
      const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
      if (sample) samples.add(sample[1]);
    }
  }
  return { types, samples };
}

/**
 * The series names (as written in queries) that an exposition does not provide. A name is provided
 * when it is a sample, a declared counter/gauge/untyped family (which may have no sample yet), or
 * a `_bucket/_sum/_count` series of a declared histogram (`_sum/_count` of a summary).
 */
export function missingSeries(seriesNames: string[], expositions: string[]): string[] {
  const types = new Map<string, string>();
  const samples = new Set<string>();
  for (const text of expositions) {
    const parsed = parseExposition(text);
    parsed.types.forEach((v, k) => types.set(k, v));
    parsed.samples.forEach((s) => samples.add(s));
  }
  return seriesNames.filter((name) => {
    if (samples.has(name)) return false;
    const type = types.get(name);
    if (type && type !== 'histogram' && type !== 'summary') return false;
    const family = metricFamily(name);
    if (family !== name) {
      const familyType = types.get(family);
      if (familyType === 'histogram') return false;
      if (familyType === 'summary' && !name.endsWith('_bucket')) return false;
    }
    return true;
  });
}
