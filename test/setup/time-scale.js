/**
 * How much slower than a quiet two-core machine this test run is (TEST_TIME_SCALE, at least 1).
 * Every wait of the suite that has a deadline multiplies it by this: jest's per-test timeout
 * (jest.config.js) and the shared helpers of test/support/timing.ts. A deadline only bounds how
 * long a failing wait takes, so a generous one costs nothing when the condition comes quickly.
 *
 * Set TEST_TIME_SCALE to fix it. Otherwise it is measured once, when jest reads its
 * configuration, and handed to the test workers through the environment: the larger of
 *  - a CPU calibration: a fixed piece of work, timed five times (median), against its time on a
 *    quiet two-core machine (so a slower or a shared CPU both count), and
 *  - the one-minute load average per core (how many processes want each core),
 * capped at 10. Plain CommonJS so that jest.config.js can read it too.
 */
const { availableParallelism, cpus, loadavg } = require('node:os');

/** The calibration's median time on a quiet two-core CI machine (this repository's, in 2026). */
const REFERENCE_MS = 26;
const MAX_SCALE = 10;

/** A fixed mix of arithmetic, allocation, strings and JSON (what the suite's processes do). */
function calibrationWork() {
  let h = 0;
  for (let round = 0; round < 20; round++) {
    const parts = [];
    for (let i = 0; i < 200_000; i++) {
      h = (h * 31 + i) | 0;
      if (i % 100 === 0) parts.push({ i, s: String(h) });
    }
    h += JSON.stringify(parts).length;
  }
  return h;
}

function measureTimeScale() {
  calibrationWork(); // compiled and warm before it is timed
  const samples = [];
  for (let i = 0; i < 5; i++) {
    const started = process.hrtime.bigint();
    calibrationWork();
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  samples.sort((a, b) => a - b);
  const cpu = samples[2] / REFERENCE_MS;
  const cores = typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
  const load = loadavg()[0] / cores;
  // One decimal, rounded up: the scale is a generous bound, not a measurement to report.
  return { scale: Math.min(MAX_SCALE, Math.max(1, Math.ceil(Math.max(cpu, load) * 10) / 10)), cpu, load, medianMs: samples[2] };
}

/** The run's scale: TEST_TIME_SCALE when set (validated), measured once otherwise. */
function timeScale() {
  const given = process.env.TEST_TIME_SCALE;
  if (given !== undefined && given !== '') {
    const value = Number(given);
    if (!Number.isFinite(value) || value < 1) throw new Error(`TEST_TIME_SCALE must be a number of at least 1 (got ${JSON.stringify(given)})`);
    return value;
  }
  const measured = measureTimeScale();
  process.env.TEST_TIME_SCALE = String(measured.scale);
  process.env.TEST_TIME_SCALE_BASIS = `calibration ${measured.medianMs.toFixed(0)} ms (x${measured.cpu.toFixed(1)}), load ${measured.load.toFixed(1)} per core`;
  return measured.scale;
}

/** `ms` on a quiet machine, scaled to this run. */
function scaled(ms) {
  return Math.round(ms * timeScale());
}

module.exports = { timeScale, scaled, measureTimeScale };
