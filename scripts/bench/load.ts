/**
 * A closed-loop load generator: `concurrency` clients each send the same request again as soon as
 * the previous one ended, for `durationMs`. Measures every request's latency (to the last byte)
 * and, for streams, the time to the first content event. undici, keep-alive, one connection per
 * client.
 */
import { Pool } from 'undici';

export interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  concurrency: number;
  durationMs: number;
  stream: boolean;
  /** Requests sent first and not measured (connections, JIT). */
  warmupRequests?: number;
  /** Called when the warm-up is over and measuring starts. */
  onMeasureStart?: () => void;
}

export interface LoadResult {
  requests: number;
  errors: number;
  /** Status codes of failed requests, counted. */
  errorStatuses: Record<string, number>;
  seconds: number;
  rps: number;
  latencyMs: { p50: number; p99: number; mean: number };
  ttftMs: { p50: number; p99: number } | null;
  /** Bytes of every successful answer, to check that all targets answered alike. */
  bytes: number;
  /** Successful warm-up requests (not measured, but billed by the gateway). */
  warmupOk: number;
  /** Every measured latency and time to first byte (ms), to merge runs (mergeLoads). */
  samples: { latencies: number[]; ttfts: number[] };
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const target = new URL(spec.url);
  const pool = new Pool(target.origin, { connections: spec.concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies: number[] = [];
  const ttfts: number[] = [];
  const errorStatuses: Record<string, number> = {};
  let errors = 0;
  let bytes = 0;
  let warmupOk = 0;

  const once = async (record: boolean): Promise<void> => {
    const start = performance.now();
    try {
      const res = await pool.request({ method: 'POST', path: target.pathname + target.search, headers: spec.headers, body: spec.body });
      let first: number | null = null;
      let size = 0;
      for await (const chunk of res.body) {
        if (first === null) first = performance.now();
        size += (chunk as Buffer).length;
      }
      const end = performance.now();
      if (res.statusCode !== 200) {
        errors += record ? 1 : 0;
        if (record) errorStatuses[res.statusCode] = (errorStatuses[res.statusCode] ?? 0) + 1;
        return;
      }
      if (!record) {
        warmupOk++;
        return;
      }
      bytes += size;
      latencies.push(end - start);
      if (spec.stream && first !== null) ttfts.push(first - start);
    } catch (error) {
      if (record) {
        errors++;
        const code = (error as { code?: string }).code ?? 'error';
        errorStatuses[code] = (errorStatuses[code] ?? 0) + 1;
      }
    }
  };

  for (let i = 0; i < (spec.warmupRequests ?? spec.concurrency * 20); i += spec.concurrency) {
    await Promise.all(Array.from({ length: spec.concurrency }, () => once(false)));
  }
  spec.onMeasureStart?.();
  const started = performance.now();
  const stopAt = started + spec.durationMs;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (performance.now() < stopAt) await once(true);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return summarize({ requests: latencies.length, errors, errorStatuses, seconds, bytes, warmupOk, stream: spec.stream ?? false }, latencies, ttfts);
}

function summarize(
  counts: Pick<LoadResult, 'requests' | 'errors' | 'errorStatuses' | 'seconds' | 'bytes' | 'warmupOk'> & { stream: boolean },
  latencies: number[],
  ttfts: number[],
): LoadResult {
  const sorted = Float64Array.from(latencies).sort();
  const sortedTtft = Float64Array.from(ttfts).sort();
  const { stream, ...rest } = counts;
  return {
    ...rest,
    rps: counts.requests / counts.seconds,
    latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length) },
    ttftMs: stream ? { p50: percentile(sortedTtft, 50), p99: percentile(sortedTtft, 99) } : null,
    samples: { latencies, ttfts },
  };
}

/** One result of several runs of the same load (the rounds of one target): counts added, percentiles over all samples. */
export function mergeLoads(runs: LoadResult[]): LoadResult {
  const errorStatuses: Record<string, number> = {};
  for (const r of runs) for (const [k, n] of Object.entries(r.errorStatuses)) errorStatuses[k] = (errorStatuses[k] ?? 0) + n;
  const sum = (pick: (r: LoadResult) => number) => runs.reduce((total, r) => total + pick(r), 0);
  return summarize(
    {
      requests: sum((r) => r.requests),
      errors: sum((r) => r.errors),
      errorStatuses,
      seconds: sum((r) => r.seconds),
      bytes: sum((r) => r.bytes),
      warmupOk: sum((r) => r.warmupOk),
      stream: runs.some((r) => r.ttftMs !== null),
    },
    runs.flatMap((r) => r.samples.latencies),
    runs.flatMap((r) => r.samples.ttfts),
  );
}
