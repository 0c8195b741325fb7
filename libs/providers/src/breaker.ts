export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Opens after this many failures in a row. */
  consecutiveFailures: number;
  /** ...or when at least `minRequests` in the window failed at `failureRate` or more. */
  failureRate: number;
  minRequests: number;
  windowMs: number;
  /** How long it stays open before letting one probe through. */
  cooldownMs: number;
}

export const DEFAULT_BREAKER_OPTIONS: BreakerOptions = { consecutiveFailures: 5, failureRate: 0.5, minRequests: 20, windowMs: 60_000, cooldownMs: 30_000 };

/**
 * A circuit breaker for one channel on one instance. Closed: everything passes. Open: nothing
 * passes until the cool-down ends. Half-open: exactly one request (the probe) passes; its success
 * closes the breaker, its failure opens it again for another cool-down.
 */
export class CircuitBreaker {
  private stateNow: BreakerState = 'closed';
  private consecutive = 0;
  private openedAt = 0;
  private probeInFlight = false;
  private outcomes: Array<{ at: number; ok: boolean }> = [];

  constructor(
    private readonly options: BreakerOptions = DEFAULT_BREAKER_OPTIONS,
    private readonly now: () => number = Date.now,
    private readonly onChange: (state: BreakerState) => void = () => undefined,
  ) {}

  /** The state, moving open -> half-open when the cool-down has passed. */
  get state(): BreakerState {
    if (this.stateNow === 'open' && this.now() - this.openedAt >= this.options.cooldownMs) this.set('half_open');
    return this.stateNow;
  }

  /** Whether a request may go now, without taking the probe (for ordering candidates). */
  get available(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half_open' && !this.probeInFlight);
  }

  /** Takes permission for one request; in half-open only the first caller gets it. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'half_open' && !this.probeInFlight) {
      this.probeInFlight = true;
      return true;
    }
    return false;
  }

  success(): void {
    this.record(true);
    this.consecutive = 0;
    if (this.stateNow !== 'closed') {
      this.probeInFlight = false;
      this.outcomes = [];
      this.set('closed');
    }
  }

  failure(): void {
    this.record(false);
    this.consecutive += 1;
    if (this.stateNow === 'half_open') return this.open();
    if (this.stateNow !== 'closed') return;
    if (this.consecutive >= this.options.consecutiveFailures) return this.open();
    const failures = this.outcomes.filter((o) => !o.ok).length;
    if (this.outcomes.length >= this.options.minRequests && failures / this.outcomes.length >= this.options.failureRate) this.open();
  }

  /** A request that got permission but neither succeeded nor failed on the channel's account (client went away). */
  release(): void {
    this.probeInFlight = false;
  }

  private open(): void {
    this.openedAt = this.now();
    this.probeInFlight = false;
    this.set('open');
  }

  private record(ok: boolean): void {
    const now = this.now();
    this.outcomes.push({ at: now, ok });
    const from = now - this.options.windowMs;
    let drop = 0;
    while (drop < this.outcomes.length && this.outcomes[drop].at < from) drop += 1;
    if (drop) this.outcomes.splice(0, drop);
    if (this.outcomes.length > 10_000) this.outcomes.splice(0, this.outcomes.length - 10_000);
  }

  private set(state: BreakerState): void {
    if (this.stateNow === state) return;
    this.stateNow = state;
    this.onChange(state);
  }
}
