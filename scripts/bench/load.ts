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

export interface OpenLoopSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Requests per second, sent on a fixed schedule whatever the answers do. */
  rate: number;
  durationMs: number;
  stream: boolean;
  /** Seconds of the same schedule sent first and not measured (connections, JIT). */
  warmupMs?: number;
  /** Called when the warm-up is over and measuring starts. */
  onMeasureStart?: () => void;
  /** Requests in flight beyond which the target counts as not keeping up (the rest are not sent). */
  maxInFlight?: number;
}

export interface OpenLoopResult extends LoadResult {
  /** The offered rate. */
  rate: number;
  /** Scheduled requests not sent because `maxInFlight` were already waiting: the target did not sustain the rate. */
  shed: number;
  /** How late the generator sent, p99 (ms): when large, the machine, not the target, set the latencies. */
  sendLagP99Ms: number;
}

/**
 * An open-loop load generator (as wrk2 or k6's constant-arrival-rate): request i is due at
 * start + i / rate and is sent then, whatever the earlier ones are doing, so a slow answer does not
 * slow the offered load down (no coordinated omission). Latency and time to first byte are taken
 * from the DUE time, so the generator's own lateness counts against the target, as a client would
 * see it. undici pool with enough connections for the requests in flight.
 */
export async function runOpenLoop(spec: OpenLoopSpec): Promise<OpenLoopResult> {
  const target = new URL(spec.url);
  const maxInFlight = spec.maxInFlight ?? 256;
  const pool = new Pool(target.origin, { connections: maxInFlight, pipelining: 1, keepAliveTimeout: 30_000 });
  const interval = 1000 / spec.rate;
  const latencies: number[] = [];
  const ttfts: number[] = [];
  const lags: number[] = [];
  const errorStatuses: Record<string, number> = {};
  let errors = 0;
  let bytes = 0;
  let warmupOk = 0;
  let inFlight = 0;
  let shed = 0;

  const send = async (due: number, record: boolean): Promise<void> => {
    inFlight++;
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
        if (record) {
          errors++;
          errorStatuses[res.statusCode] = (errorStatuses[res.statusCode] ?? 0) + 1;
        }
        return;
      }
      if (!record) {
        warmupOk++;
        return;
      }
      bytes += size;
      latencies.push(end - due);
      if (spec.stream && first !== null) ttfts.push(first - due);
    } catch (error) {
      if (record) {
        errors++;
        const code = (error as { code?: string }).code ?? 'error';
        errorStatuses[code] = (errorStatuses[code] ?? 0) + 1;
      }
    } finally {
      inFlight--;
    }
  };

  const pending: Array<Promise<void>> = [];
  const phase = async (durationMs: number, record: boolean): Promise<number> => {
    const start = performance.now();
    const count = Math.floor((durationMs / 1000) * spec.rate);
    let i = 0;
    while (i < count) {
      const now = performance.now();
      // Everything due by now goes out (several at once when the timer fired late).
      while (i < count && start + i * interval <= now) {
        const due = start + i * interval;
        i++;
        if (inFlight >= maxInFlight) {
          if (record) shed++;
          continue;
        }
        if (record) lags.push(now - due);
        pending.push(send(due, record));
      }
      if (i < count) {
        const wait = start + i * interval - performance.now();
        // setTimeout sleeps at least 1 ms; closer than that, yield to I/O and look again.
        await new Promise<void>((r) => (wait >= 1.5 ? setTimeout(r, wait - 0.5) : setImmediate(r)));
      }
    }
    return (performance.now() - start) / 1000;
  };

  if ((spec.warmupMs ?? 1000) > 0) {
    await phase(spec.warmupMs ?? 1000, false);
    await Promise.all(pending.splice(0));
  }
  spec.onMeasureStart?.();
  const scheduleSeconds = await phase(spec.durationMs, true);
  await Promise.all(pending.splice(0));
  await pool.close();
  const sortedLags = Float64Array.from(lags).sort();
  const result = summarize({ requests: latencies.length, errors, errorStatuses, seconds: scheduleSeconds, bytes, warmupOk, stream: spec.stream }, latencies, ttfts);
  return { ...result, rate: spec.rate, shed, sendLagP99Ms: percentile(sortedLags, 99) };
}

/** One result of several open-loop runs at the same rate (the rounds of one target). */
export function mergeOpenLoops(runs: OpenLoopResult[]): OpenLoopResult {
  const merged = mergeLoads(runs);
  const lag = Math.max(...runs.map((r) => r.sendLagP99Ms));
  return { ...merged, rate: runs[0].rate, shed: runs.reduce((n, r) => n + r.shed, 0), sendLagP99Ms: lag };
}
