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

/** Time slots the failure-rate window is counted in. */
const WINDOW_SLOTS = 60;

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
  /**
   * Outcomes in the window, counted in WINDOW_SLOTS time slots (a ring): recording is O(1) and
   * allocates nothing, whatever the request rate (a list of outcomes cost a copy per request once
   * it was full, and 10,000 live objects).
   */
  private readonly slotMs: number;
  private readonly slotEpoch = new Float64Array(WINDOW_SLOTS).fill(-1);
  private readonly slotOk = new Uint32Array(WINDOW_SLOTS);
  private readonly slotFailed = new Uint32Array(WINDOW_SLOTS);

  constructor(
    private readonly options: BreakerOptions = DEFAULT_BREAKER_OPTIONS,
    private readonly now: () => number = Date.now,
    private readonly onChange: (state: BreakerState) => void = () => undefined,
  ) {
    this.slotMs = Math.max(1, Math.ceil(options.windowMs / WINDOW_SLOTS));
  }

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
      this.slotEpoch.fill(-1);
      this.set('closed');
    }
  }

  failure(): void {
    this.record(false);
    this.consecutive += 1;
    if (this.stateNow === 'half_open') return this.open();
    if (this.stateNow !== 'closed') return;
    if (this.consecutive >= this.options.consecutiveFailures) return this.open();
    const { total, failed } = this.windowCounts();
    if (total >= this.options.minRequests && failed / total >= this.options.failureRate) this.open();
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
    const epoch = Math.floor(this.now() / this.slotMs);
    const slot = epoch % WINDOW_SLOTS;
    if (this.slotEpoch[slot] !== epoch) {
      this.slotEpoch[slot] = epoch;
      this.slotOk[slot] = 0;
      this.slotFailed[slot] = 0;
    }
    if (ok) this.slotOk[slot] += 1;
    else this.slotFailed[slot] += 1;
  }

  /** Requests and failures recorded in the window (the slots of the last `windowMs`). */
  private windowCounts(): { total: number; failed: number } {
    const oldest = Math.floor(this.now() / this.slotMs) - WINDOW_SLOTS + 1;
    let total = 0;
    let failed = 0;
    for (let i = 0; i < WINDOW_SLOTS; i++) {
      if (this.slotEpoch[i] < oldest) continue;
      total += this.slotOk[i] + this.slotFailed[i];
      failed += this.slotFailed[i];
    }
    return { total, failed };
  }

  private set(state: BreakerState): void {
    if (this.stateNow === state) return;
    this.stateNow = state;
    this.onChange(state);
  }
}
