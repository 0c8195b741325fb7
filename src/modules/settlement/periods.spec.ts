import { csvCell, csvRow } from './csv';
import { periodEndAfter, periodStartOf } from './periods';

const at = (iso: string) => new Date(iso);

describe('settlement periods (UTC)', () => {
  it('starts days at midnight, weeks on Monday, months on the 1st', () => {
    expect(periodStartOf(at('2026-03-04T23:59:59.999Z'), 'day').toISOString()).toBe('2026-03-04T00:00:00.000Z');
    // 2026-03-08 is a Sunday: its week started on Monday the 2nd.
    expect(periodStartOf(at('2026-03-08T12:00:00Z'), 'week').toISOString()).toBe('2026-03-02T00:00:00.000Z');
    expect(periodStartOf(at('2026-03-09T00:00:00Z'), 'week').toISOString()).toBe('2026-03-09T00:00:00.000Z');
    expect(periodStartOf(at('2026-03-31T23:00:00Z'), 'month').toISOString()).toBe('2026-03-01T00:00:00.000Z');
  });

  it('ends a period at the next boundary, across month and year ends', () => {
    expect(periodEndAfter(at('2026-12-31T00:00:00Z'), 'day').toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(periodEndAfter(at('2026-12-28T00:00:00Z'), 'week').toISOString()).toBe('2027-01-04T00:00:00.000Z');
    expect(periodEndAfter(at('2026-02-01T00:00:00Z'), 'month').toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(periodEndAfter(at('2024-02-01T00:00:00Z'), 'month').toISOString()).toBe('2024-03-01T00:00:00.000Z');
  });

  it('bridges an unaligned start (the period kind changed) to the next boundary', () => {
    expect(periodEndAfter(at('2026-03-05T00:00:00Z'), 'month').toISOString()).toBe('2026-04-01T00:00:00.000Z');
    expect(periodEndAfter(at('2026-03-05T00:00:00Z'), 'week').toISOString()).toBe('2026-03-09T00:00:00.000Z');
  });
});

describe('statement CSV cells', () => {
  it('neutralises cells a spreadsheet would run as formulas', () => {
    expect(csvCell('=HYPERLINK("http://evil")')).toBe(`"'=HYPERLINK(""http://evil"")"`);
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-1+2')).toBe("'-1+2");
    expect(csvCell('-0.500000000')).toBe('-0.500000000');
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tx')).toBe("'\tx");
  });

  it('quotes commas, quotes and line breaks, and leaves plain values alone', () => {
    expect(csvCell('gpt-4o, mini')).toBe('"gpt-4o, mini"');
    expect(csvCell('a\nb')).toBe('"a\nb"');
    expect(csvCell('12.500000000')).toBe('12.500000000');
    expect(csvCell(null)).toBe('');
    expect(csvRow(['a', 1, null])).toBe('a,1,\r\n');
  });
});
