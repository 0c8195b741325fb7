import Decimal from 'decimal.js';
import { compilePrice, compiledCostUnits, costUnits, fromUnits, isDecimalString, toUnits, trimDecimal } from './money';

describe('money', () => {
  it('converts decimal strings to nano-units and back without floats', () => {
    expect(toUnits('1.5')).toBe(1_500_000_000n);
    expect(toUnits('0.000000001')).toBe(1n);
    expect(fromUnits(1n)).toBe('0.000000001');
    expect(fromUnits(-2_500_000_000n)).toBe('-2.500000000');
    expect(trimDecimal(fromUnits(1_500_000_000n))).toBe('1.5');
    expect(() => toUnits('0.0000000001')).toThrow(RangeError);
  });

  it('formats nano-units exactly by digits, as Decimal division would, for any sign and size', () => {
    const D60 = Decimal.clone({ precision: 60 });
    const decimal = (u: bigint) => new D60(u.toString()).dividedBy(1e9).toFixed(9);
    const samples = [0n, 1n, -1n, 999_999_999n, 1_000_000_000n, -1_000_000_001n, 123_456_789_012_345_678n, -(2n ** 63n), 2n ** 70n];
    let seed = 42n;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n;
      samples.push((seed % 2n ** 62n) - 2n ** 61n, seed % 10_000n);
    }
    for (const u of samples) {
      expect(fromUnits(u)).toBe(decimal(u));
      expect(fromUnits(u.toString())).toBe(decimal(u));
    }
    expect(fromUnits(-0)).toBe('0.000000000');
    expect(fromUnits(42)).toBe('0.000000042');
    // a fraction of a nano-unit (never produced by the code, but accepted) still goes through Decimal
    expect(fromUnits('1.5')).toBe('0.000000002');
  });

  it('accepts only plain decimal strings', () => {
    for (const ok of ['0', '1', '0.15', '-3.25', '123456789.123456789']) expect(isDecimalString(ok)).toBe(true);
    for (const bad of ['1e3', ' 1', '1.', '.5', '01', 'NaN', '', '+1', 1, null]) expect(isDecimalString(bad)).toBe(false);
  });

  it('prices one token of the cheapest model at one nano-unit, never zero', () => {
    const cheapest = { inputPerMillion: '0.001', outputPerMillion: '0.001' };
    expect(costUnits({ input: 1, output: 0 }, cheapest)).toBe(1n);
    // below one nano-unit per token still costs one unit per request (rounded up once)
    expect(costUnits({ input: 1, output: 0 }, { inputPerMillion: '0.0001', outputPerMillion: '0' })).toBe(1n);
    expect(costUnits({ input: 0, output: 0 }, cheapest)).toBe(0n);
  });

  it('rounds once per request, up, over the exact sum of buckets', () => {
    const price = { inputPerMillion: '0.15', outputPerMillion: '0.6', cacheReadPerMillion: '0.075', perRequest: '0.0001' };
    // 1000*0.15 + 500*0.6 + 200*0.075 = 150 + 300 + 15 = 465 per million -> 0.000465 + 0.0001
    expect(costUnits({ input: 1000, output: 500, cacheRead: 200 }, price)).toBe(565_000n);
    // 1 * 0.0000015 per million = 1.5e-12 -> ceil to 1 nano-unit
    expect(costUnits({ input: 1, output: 0 }, { inputPerMillion: '0.0000015', outputPerMillion: '0' })).toBe(1n);
  });

  it('applies the per-request price once per billable unit (rerank search units), the same compiled or decimal', () => {
    const price = { inputPerMillion: '1', outputPerMillion: '1', perRequest: '0.002' };
    expect(costUnits({ input: 0, output: 0 }, price)).toBe(2_000_000n);
    expect(costUnits({ input: 1500, output: 0, requests: 2 }, price)).toBe(5_500_000n);
    expect(compiledCostUnits({ input: 1500, output: 0, requests: 2 }, compilePrice(price))).toBe(5_500_000n);
    expect(compiledCostUnits({ input: 0, output: 0, requests: 0 }, compilePrice(price))).toBe(0n);
  });

  it('gives the same result with compiled integer prices as with decimals', () => {
    const prices = [
      { inputPerMillion: '0.15', outputPerMillion: '0.6' },
      { inputPerMillion: '2.5', outputPerMillion: '10', cacheReadPerMillion: '1.25', cacheWritePerMillion: '3.125', perRequest: '0.001' },
      { inputPerMillion: '0.000000001', outputPerMillion: '0.000000007' },
      { inputPerMillion: '3', outputPerMillion: '15', cacheReadPerMillion: '0.3', cacheWritePerMillion: '3.75', cacheWrite1hPerMillion: '6', reasoningPerMillion: '20' },
    ];
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (const price of prices) {
      const compiled = compilePrice(price);
      for (let i = 0; i < 500; i++) {
        const cacheWrite = rand(3000);
        const output = rand(50_000);
        const usage = { input: rand(200_000), output, cacheRead: rand(10_000), cacheWrite, cacheWrite1h: rand(cacheWrite + 1), reasoning: rand(output + 1) };
        expect(compiledCostUnits(usage, compiled)).toBe(costUnits(usage, price));
      }
    }
  });

  it('bills one-hour cache writes and reasoning apart, each at its own price, a token in one bucket only', () => {
    const price = { inputPerMillion: '3', outputPerMillion: '15', cacheWritePerMillion: '3.75', cacheWrite1hPerMillion: '6', reasoningPerMillion: '20' };
    // 1000 input * 3 + (400 - 100) output * 15 + 100 reasoning * 20 + (500 - 300) 5m writes * 3.75 + 300 1h writes * 6
    // = 3000 + 4500 + 2000 + 750 + 1800 = 12050 per million -> 0.01205
    const usage = { input: 1000, output: 400, reasoning: 100, cacheWrite: 500, cacheWrite1h: 300 };
    expect(costUnits(usage, price)).toBe(12_050_000n);
    expect(compiledCostUnits(usage, compilePrice(price))).toBe(12_050_000n);
    // Unpriced: a 1h write costs twice input (Anthropic's rate), reasoning costs output.
    const plain = { inputPerMillion: '3', outputPerMillion: '15' };
    expect(costUnits({ input: 0, output: 10, reasoning: 10, cacheWrite: 1000, cacheWrite1h: 1000 }, plain)).toBe(6_150_000n);
    expect(compiledCostUnits({ input: 0, output: 10, reasoning: 10, cacheWrite: 1000, cacheWrite1h: 1000 }, compilePrice(plain))).toBe(6_150_000n);
    // A sub-bucket larger than its total is capped by it (a token is never billed twice).
    expect(costUnits({ input: 0, output: 0, cacheWrite: 10, cacheWrite1h: 50 }, price)).toBe(costUnits({ input: 0, output: 0, cacheWrite: 10, cacheWrite1h: 10 }, price));
  });
});
