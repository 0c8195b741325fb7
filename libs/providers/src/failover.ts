import { openAIError, UpstreamError } from './errors';
import { Candidate } from './router';

export interface FailoverOptions {
  /** Extra candidates tried after the first failure (0: no failover). */
  retryBudget: number;
  /** Absolute time (ms since epoch) after which no new attempt starts. */
  deadline: number;
  now?: () => number;
  signal?: AbortSignal;
  /** Told about every failed attempt (metrics, breaker, key disabling). */
  onFailure?: (candidate: Candidate, error: UpstreamError, attempt: number) => void;
}

export interface FailoverResult<T> {
  value: T;
  candidate: Candidate;
  /** Attempts made, this one included. */
  attempts: number;
  /** The failures before the success, in order. */
  failures: Array<{ candidate: Candidate; error: UpstreamError }>;
}

export function noChannelError(): UpstreamError {
  return new UpstreamError('connect', 503, openAIError('No upstream is available for this model right now; retry shortly.', 'api_error', 'no_available_channel'));
}

/**
 * Tries `attempt` on the candidates in order until one succeeds. Only a retryable failure (connect
 * error, timeout before the first byte, 5xx, 429, an upstream refusing its key) moves on, and only
 * within the retry budget and the deadline; anything else is final. `attempt` must settle as soon
 * as the upstream answered (status line, or the first event of a stream) and before anything
 * reached the client: once it resolved, there is no failover.
 */
export async function failover<T>(candidates: readonly Candidate[], attempt: (candidate: Candidate, index: number) => Promise<T>, options: FailoverOptions): Promise<FailoverResult<T>> {
  const now = options.now ?? Date.now;
  const failures: Array<{ candidate: Candidate; error: UpstreamError }> = [];
  // A channel at its own limits was never called: skipping it spends none of the retry budget.
  const limit = 1 + Math.max(0, options.retryBudget);
  let tried = 0;
  let last: UpstreamError | null = null;
  for (let index = 0; index < candidates.length && tried < limit; index += 1) {
    if (index > 0 && (now() >= options.deadline || options.signal?.aborted)) break;
    const candidate = candidates[index];
    try {
      const value = await attempt(candidate, index);
      return { value, candidate, attempts: index + 1, failures };
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      if (error.kind !== 'capacity') tried += 1;
      // The client learns why from a channel that was called, before one that was only skipped.
      if (!last || error.kind !== 'capacity' || last.kind === 'capacity') last = error;
      failures.push({ candidate, error });
      options.onFailure?.(candidate, error, index + 1);
      if (!error.retryable) throw error;
    }
  }
  throw last ?? noChannelError();
}
