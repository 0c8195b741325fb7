import { quietPeriod, scaled, timeScale, waitUntil } from '../support/timing';
const { measureTimeScale } = require('./time-scale.js') as { measureTimeScale(): { scale: number; cpu: number; load: number } };

/** TEST_TIME_SCALE: measured once per run (or given), and applied by every waiting helper. */
describe('the time scale of a test run', () => {
  const given = process.env.TEST_TIME_SCALE;
  afterEach(() => {
    process.env.TEST_TIME_SCALE = given;
  });

  it('was measured when jest read its configuration and handed to this worker', () => {
    expect(Number(given)).toBeGreaterThanOrEqual(1);
    expect(timeScale()).toBe(Number(given));
    expect(timeScale()).toBeGreaterThanOrEqual(1);
  });

  it('measures at least 1 and at most 10, from the CPU calibration or the load, whichever is larger', () => {
    const measured = measureTimeScale();
    expect(measured.scale).toBeGreaterThanOrEqual(1);
    expect(measured.scale).toBeLessThanOrEqual(10);
    expect(measured.scale).toBeGreaterThanOrEqual(Math.min(10, Math.max(measured.cpu, measured.load)));
  });

  it('takes a given TEST_TIME_SCALE as is and refuses one below 1 or not a number', () => {
    process.env.TEST_TIME_SCALE = '2.5';
    expect(scaled(1000)).toBe(2500);
    for (const bad of ['0.5', 'fast', '-1']) {
      process.env.TEST_TIME_SCALE = bad;
      expect(() => timeScale()).toThrow(/TEST_TIME_SCALE must be a number of at least 1/);
    }
  });

  it('waitUntil returns the first value that is not undefined, null or false', async () => {
    let calls = 0;
    const value = await waitUntil(() => (++calls < 3 ? false : { calls }), { intervalMs: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  it('waitUntil gives up after the scaled deadline, naming what it waited for and the last error', async () => {
    process.env.TEST_TIME_SCALE = '3';
    const started = Date.now();
    await expect(
      waitUntil(
        () => {
          throw new Error('not there');
        },
        { what: 'the thing', timeoutMs: 100, intervalMs: 10 },
      ),
    ).rejects.toThrow('timed out after 300 ms waiting for the thing: Error: not there');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('waitUntil fails at once on an error when asked to', async () => {
    let calls = 0;
    const failing = () => {
      calls++;
      throw new Error('broken');
    };
    await expect(waitUntil(failing, { onError: 'throw', timeoutMs: 60_000 })).rejects.toThrow('broken');
    expect(calls).toBe(1);
  });

  it('a quiet period lasts the scaled time', async () => {
    process.env.TEST_TIME_SCALE = '2';
    const started = Date.now();
    await quietPeriod(50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(99);
  });
});
