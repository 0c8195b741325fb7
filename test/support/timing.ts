/**
 * Waiting in tests: for a condition, never for a fixed time, with deadlines that scale with the
 * machine (TEST_TIME_SCALE, see test/setup/time-scale.js). A deadline is how long a failing wait
 * may take: give the time a quiet machine needs, generously; the helpers multiply it.
 */
import { setTimeout as delay } from 'node:timers/promises';
const timeScaleModule = require('../setup/time-scale.js') as { timeScale(): number; scaled(ms: number): number };

/** How much slower than a quiet two-core machine this run is (at least 1). */
export function timeScale(): number {
  return timeScaleModule.timeScale();
}

/** `ms` on a quiet machine, scaled to this run: for deadlines and jest's per-test timeouts. */
export function scaled(ms: number): number {
  return timeScaleModule.scaled(ms);
}

export interface WaitOptions {
  /** Named in the error when the deadline passes. */
  what?: string;
  /** The deadline on a quiet machine (scaled); 10 s unless given. */
  timeoutMs?: number;
  /** Between two checks (not scaled: it only sets how soon a met condition is seen). */
  intervalMs?: number;
  /** A check that throws: not yet (the default; its last error is in the timeout's message), or fail at once. */
  onError?: 'retry' | 'throw';
}

/**
 * Checks until `check` returns a value other than undefined, null or false, and returns it.
 */
export async function waitUntil<T>(check: () => T | Promise<T>, options: WaitOptions = {}): Promise<Exclude<T, undefined | null | false>> {
  const timeoutMs = scaled(options.timeoutMs ?? 10_000);
  const deadline = Date.now() + timeoutMs;
  let last: { value?: unknown; error?: unknown } = {};
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value as Exclude<T, undefined | null | false>;
      last = { value };
    } catch (error) {
      if (options.onError === 'throw') throw error;
      last = { error };
    }
    if (Date.now() > deadline) {
      const seen = 'error' in last ? `: ${String(last.error)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what ?? 'the condition'}${seen}`);
    }
    await delay(options.intervalMs ?? 25);
  }
}

/**
 * For checks that something does NOT happen: waits `ms` (scaled, so a slow machine gets as much
 * chance to do the wrong thing as a quiet one). Prefer waiting for a positive sign (an event that
 * comes after the one that must not) where there is one.
 */
export function quietPeriod(ms: number): Promise<void> {
  return delay(scaled(ms));
}
