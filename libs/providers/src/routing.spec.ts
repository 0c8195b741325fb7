import { CircuitBreaker } from './breaker';
import { openAIError, UpstreamError } from './errors';
import { failover } from './failover';
import { ModelMap } from './model-map';
import { Candidate, ChannelRouter, RoutingChannel, seededRng } from './router';

function channel(id: string, overrides: Partial<RoutingChannel> = {}): RoutingChannel {
  return {
    id,
    name: id,
    provider: 'openai',
    baseUrl: 'https://upstream.example/v1',
    models: [{ public: 'gpt-x', upstream: 'gpt-x-upstream' }],
    priority: 0,
    weight: 1,
    pool: 'standard',
    connectTimeoutMs: 1000,
    firstByteTimeoutMs: 1000,
    totalTimeoutMs: 5000,
    retryBudget: 2,
    status: 'enabled',
    keys: [{ id: `${id}-k1`, secret: 'sk-1', last4: '1', status: 'active' }],
    version: '1',
    ...overrides,
  };
}

const failure = (kind: UpstreamError['kind'], status = 502) => new UpstreamError(kind, status, openAIError('x', 'api_error', null));

describe('ChannelRouter', () => {
  it('puts higher priorities first and, within one, picks by weight (fixed seed, chi-square within bounds)', () => {
    const router = new ChannelRouter({ rng: seededRng(42) });
    router.replace([channel('a', { weight: 1 }), channel('b', { weight: 3 }), channel('c', { weight: 6 }), channel('backup', { priority: -1, weight: 100 })]);
    const firsts: Record<string, number> = { a: 0, b: 0, c: 0 };
    const draws = 20_000;
    for (let i = 0; i < draws; i += 1) {
      const order = router.pick('gpt-x').map((c) => c.channel.id);
      expect(order).toHaveLength(4);
      expect(order[3]).toBe('backup');
      firsts[order[0]] += 1;
    }
    const expected = { a: 0.1 * draws, b: 0.3 * draws, c: 0.6 * draws };
    const chiSquare = (Object.keys(expected) as Array<keyof typeof expected>).reduce((sum, k) => sum + (firsts[k] - expected[k]) ** 2 / expected[k], 0);
    // 2 degrees of freedom: 13.8 is the 0.999 quantile.
    expect(chiSquare).toBeLessThan(13.8);
    for (const k of Object.keys(expected) as Array<keyof typeof expected>) expect(Math.abs(firsts[k] / draws - expected[k] / draws)).toBeLessThan(0.015);
  });

  it('is reproducible with the same seed', () => {
    const orders = [1, 2].map(() => {
      const router = new ChannelRouter({ rng: seededRng(7) });
      router.replace([channel('a'), channel('b'), channel('c')]);
      return Array.from({ length: 50 }, () => router.pick('gpt-x').map((c) => c.channel.id).join(','));
    });
    expect(orders[0]).toEqual(orders[1]);
  });

  it('keeps a sticky key on one channel, spreads different keys by weight, and moves only that key when its channel goes', () => {
    const router = new ChannelRouter({ rng: seededRng(1) });
    router.replace([channel('a', { weight: 1 }), channel('b', { weight: 1 }), channel('c', { weight: 2 })]);
    const first = router.pick('gpt-x', 'standard', 'user-123')[0].channel.id;
    for (let i = 0; i < 20; i += 1) expect(router.pick('gpt-x', 'standard', 'user-123')[0].channel.id).toBe(first);
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    const assignment = new Map<string, string>();
    for (let u = 0; u < 4000; u += 1) {
      const id = router.pick('gpt-x', 'standard', `user-${u}`)[0].channel.id;
      counts[id] += 1;
      assignment.set(`user-${u}`, id);
    }
    expect(counts.c / 4000).toBeGreaterThan(0.45);
    expect(counts.c / 4000).toBeLessThan(0.55);
    // Channel b leaves: users of a and c stay where they were.
    router.replace([channel('a', { weight: 1 }), channel('c', { weight: 2 })]);
    for (const [user, id] of assignment) if (id !== 'b') expect(router.pick('gpt-x', 'standard', user)[0].channel.id).toBe(id);
  });

  it('skips disabled, auto-disabled, keyless, zero-weight, other-pool and open-circuit channels, and maps models', () => {
    const router = new ChannelRouter({ rng: seededRng(3), breaker: { consecutiveFailures: 1, failureRate: 1, minRequests: 100, windowMs: 1000, cooldownMs: 60_000 } });
    router.replace([
      channel('ok', { models: [{ public: 'claude-*', upstream: 'anthropic/claude-*' }] }),
      channel('off', { status: 'disabled', models: [{ public: 'claude-*' }] }),
      channel('auto', { status: 'auto_disabled', models: [{ public: 'claude-*' }] }),
      channel('nokeys', { keys: [{ id: 'x', secret: 's', last4: 's', status: 'disabled' }], models: [{ public: 'claude-*' }] }),
      channel('zero', { weight: 0, models: [{ public: 'claude-*' }] }),
      channel('spot', { pool: 'spot', models: [{ public: 'claude-*' }] }),
      channel('broken', { models: [{ public: 'claude-*' }] }),
    ]);
    router.breaker('broken').failure();
    const picked = router.pick('claude-sonnet-4');
    expect(picked.map((c) => c.channel.id)).toEqual(['ok']);
    expect(picked[0].upstreamModel).toBe('anthropic/claude-sonnet-4');
    expect(router.pick('claude-sonnet-4', 'spot').map((c) => c.channel.id)).toEqual(['spot']);
    expect(router.pick('gpt-4o')).toEqual([]);
    expect(router.serves('claude-x')).toBe(true);
    expect(router.serves('gpt-4o')).toBe(false);
  });

  it('hands out keys round-robin and skips a key disabled locally', () => {
    const router = new ChannelRouter();
    const c = channel('a', {
      keys: [
        { id: 'k1', secret: 's1', last4: '1', status: 'active' },
        { id: 'k2', secret: 's2', last4: '2', status: 'active' },
        { id: 'k3', secret: 's3', last4: '3', status: 'disabled' },
      ],
    });
    router.replace([c]);
    expect([1, 2, 3, 4].map(() => router.nextKey(c)!.id)).toEqual(['k1', 'k2', 'k1', 'k2']);
    router.disableKeyLocally('k1');
    expect([1, 2, 3].map(() => router.nextKey(c)!.id)).toEqual(['k2', 'k2', 'k2']);
    router.disableKeyLocally('k2');
    expect(router.nextKey(c)).toBeNull();
    expect(router.pick('gpt-x')).toEqual([]);
  });
});

describe('ModelMap', () => {
  it('prefers exact names, then the most specific wildcard, and substitutes the match', () => {
    const map = new ModelMap([{ public: '*' }, { public: 'gpt-4o*', upstream: 'azure-gpt-4o*' }, { public: 'gpt-4o-mini', upstream: 'mini-2024' }]);
    expect(map.resolve('gpt-4o-mini')).toBe('mini-2024');
    expect(map.resolve('gpt-4o-2024-08-06')).toBe('azure-gpt-4o-2024-08-06');
    expect(map.resolve('anything')).toBe('anything');
    expect(new ModelMap([{ public: 'a-*-z', upstream: 'b-*' }]).resolve('a-mid-z')).toBe('b-mid');
    expect(new ModelMap([{ public: 'a-*-z' }]).resolve('a-z')).toBeNull();
  });
});

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures, lets one probe through after the cool-down, closes on its success', () => {
    let now = 0;
    const states: string[] = [];
    const breaker = new CircuitBreaker({ consecutiveFailures: 3, failureRate: 1, minRequests: 1000, windowMs: 10_000, cooldownMs: 5000 }, () => now, (s) => states.push(s));
    breaker.failure();
    breaker.failure();
    breaker.success(); // resets the run
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe('closed');
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
    now += 4999;
    expect(breaker.tryAcquire()).toBe(false);
    now += 1;
    expect(breaker.state).toBe('half_open');
    expect(breaker.tryAcquire()).toBe(true); // the probe
    expect(breaker.tryAcquire()).toBe(false); // only one
    expect(breaker.available).toBe(false);
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(breaker.tryAcquire()).toBe(true);
    expect(states).toEqual(['open', 'half_open', 'closed']);
  });

  it('re-opens when the probe fails, and opens on a failure rate over the window', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ consecutiveFailures: 100, failureRate: 0.5, minRequests: 10, windowMs: 1000, cooldownMs: 100 }, () => now);
    for (let i = 0; i < 5; i += 1) {
      breaker.success();
      breaker.failure();
    }
    expect(breaker.state).toBe('open');
    now += 100;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
    // Outcomes older than the window do not count.
    const fresh = new CircuitBreaker({ consecutiveFailures: 100, failureRate: 0.5, minRequests: 10, windowMs: 1000, cooldownMs: 100 }, () => now);
    for (let i = 0; i < 9; i += 1) fresh.failure();
    now += 2000;
    for (let i = 0; i < 9; i += 1) fresh.success();
    fresh.failure();
    expect(fresh.state).toBe('closed');
  });
});

describe('failover', () => {
  const candidates: Candidate[] = ['a', 'b', 'c', 'd'].map((id) => ({ channel: channel(id), upstreamModel: 'm' }));

  it('tries candidates in order on retryable failures and stops at the first success', async () => {
    const tried: string[] = [];
    const result = await failover(
      candidates,
      async (c) => {
        tried.push(c.channel.id);
        if (c.channel.id === 'a') throw failure('connect');
        if (c.channel.id === 'b') throw failure('http_429', 429);
        return 'answer';
      },
      { retryBudget: 5, deadline: Date.now() + 10_000 },
    );
    expect(tried).toEqual(['a', 'b', 'c']);
    expect(result).toMatchObject({ value: 'answer', attempts: 3 });
    expect(result.candidate.channel.id).toBe('c');
    expect(result.failures.map((f) => f.error.kind)).toEqual(['connect', 'http_429']);
  });

  it('stops at the retry budget, on a non-retryable error, and at the deadline', async () => {
    const tried: string[] = [];
    await expect(
      failover(candidates, async (c) => {
        tried.push(c.channel.id);
        throw failure('http_5xx');
      }, { retryBudget: 1, deadline: Date.now() + 10_000 }),
    ).rejects.toMatchObject({ kind: 'http_5xx' });
    expect(tried).toEqual(['a', 'b']);

    tried.length = 0;
    await expect(
      failover(candidates, async (c) => {
        tried.push(c.channel.id);
        throw failure('http_4xx', 400);
      }, { retryBudget: 3, deadline: Date.now() + 10_000 }),
    ).rejects.toMatchObject({ kind: 'http_4xx' });
    expect(tried).toEqual(['a']);

    tried.length = 0;
    let now = 0;
    await expect(
      failover(candidates, async (c) => {
        tried.push(c.channel.id);
        now += 600;
        throw failure('timeout_first_byte', 504);
      }, { retryBudget: 3, deadline: 1000, now: () => now }),
    ).rejects.toMatchObject({ kind: 'timeout_first_byte' });
    expect(tried).toEqual(['a', 'b']);
  });
});
