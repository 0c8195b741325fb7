import { maxStreamId } from './metering.processor';

describe('maxStreamId', () => {
  it('picks the highest stream entry id, by time then sequence, whatever the order', () => {
    expect(maxStreamId(['1700000000000-5', '1700000000001-0', '1700000000000-12'])).toBe('1700000000001-0');
    expect(maxStreamId(['1700000000000-9', '1700000000000-10'])).toBe('1700000000000-10');
    expect(maxStreamId(['999-1', '1000-0'])).toBe('1000-0');
    // Beyond 2^53 (a sequence of a huge burst, or a hand-made id) still compares exactly.
    expect(maxStreamId(['1-9007199254740993', '1-9007199254740992'])).toBe('1-9007199254740993');
    expect(maxStreamId([])).toBe('0-0');
  });
});
