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
}

const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const NUMBER_OR_DURATION = /(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?(?:[a-z]+[0-9]*)*)/y;
const VARIABLE = /\$(?:\{[^}]*\}|__[a-zA-Z_]+|[a-zA-Z_][a-zA-Z0-9_]*)/y;

/** Metric and function names of one PromQL expression. Throws on unbalanced brackets or strings. */
export function promqlNames(expr: string): PromQLNames {
  const metrics = new Set<string>();
  const functions = new Set<string>();
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
  const skipBlock = (open: '{' | '[') => {
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
    }
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
      skipBlock(c);
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
      else metrics.add(word);
    } else {
      i++; // operators, commas, @
    }
  }
  if (stack.length > 0) throw new Error(`unbalanced ( in: ${expr}`);
  return { metrics: [...metrics].sort(), functions: [...functions].sort() };
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

/** The chart rendered with everything on (alerts, KEDA, dashboards). */
export function chartQueries(): ChartQuery[] {
  return manifestQueries(render({ valuesFiles: [ALL_ON_VALUES] }));
}

/** Every series name the chart's queries use, as written (e.g. `..._bucket`), sorted. */
export function referencedSeriesNames(queries: ChartQuery[] = chartQueries()): string[] {
  return [...new Set(queries.flatMap((q) => promqlNames(q.expr).metrics))].sort();
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
