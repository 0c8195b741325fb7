import { addDecimals, compareDecimals, formatMoney, normalizeDecimal, subtractDecimals } from './money';

describe('console money formatting (decimal strings, never numbers)', () => {
  it('shows amounts exactly, beyond what a double holds', () => {
    expect(formatMoney('123456789012345.123456789', 'USD', 'en')).toBe('$123,456,789,012,345.123456789');
    expect(formatMoney('0.000000001', 'USD', 'en')).toBe('$0.000000001');
    expect(formatMoney('-0.001250000', 'USD', 'en')).toBe('-$0.00125');
    expect(formatMoney('20', 'USD', 'en')).toBe('$20.00');
  });

  it("uses the tenant's currency and the viewer's language", () => {
    expect(formatMoney('1234.5', 'CNY', 'zh-CN')).toBe('¥1,234.50');
    expect(formatMoney('1234.5', 'EUR', 'en')).toBe('€1,234.50');
    expect(formatMoney(null, 'USD', 'en')).toBe('—');
  });

  it('normalises and refuses what is not a decimal', () => {
    expect(normalizeDecimal('007.100')).toBe('7.10');
    expect(normalizeDecimal('-0.000')).toBe('0.00');
    expect(() => normalizeDecimal('1e3')).toThrow(/not a decimal/);
  });

  it('adds, subtracts and compares exactly (running balances)', () => {
    expect(addDecimals('0.1', '0.2')).toBe('0.300000000');
    expect(subtractDecimals('20', '0.000041500')).toBe('19.999958500');
    expect(subtractDecimals('0', '1.5')).toBe('-1.500000000');
    expect(addDecimals('9007199254740993.000000001', '0.000000001')).toBe('9007199254740993.000000002');
    expect(compareDecimals('0.000000001', '0')).toBe(1);
    expect(compareDecimals('-1', '0')).toBe(-1);
    expect(compareDecimals('2.50', '2.5')).toBe(0);
  });
});
