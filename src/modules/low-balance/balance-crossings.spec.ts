import { toUnits } from '@app/money';
import { balanceCrossings } from './balance-crossings';

const u = (v: string) => toUnits(v);

describe('balanceCrossings', () => {
  it('publishes low_balance when the balance crosses down to or below the threshold', () => {
    expect(balanceCrossings(u('1.5'), u('0.5'), u('1'))).toEqual(['billing.low_balance']);
    expect(balanceCrossings(u('1.000000001'), u('1'), u('1'))).toEqual(['billing.low_balance']);
  });

  it('publishes depleted when the balance reaches zero or below, and both when one change crosses both', () => {
    expect(balanceCrossings(u('0.5'), u('0'), u('1'))).toEqual(['billing.balance_depleted']);
    expect(balanceCrossings(u('0.5'), u('-0.2'), u('1'))).toEqual(['billing.balance_depleted']);
    expect(balanceCrossings(u('5'), u('-1'), u('1'))).toEqual(['billing.low_balance', 'billing.balance_depleted']);
  });

  it('publishes nothing while the balance stays on one side, or moves up', () => {
    expect(balanceCrossings(u('5'), u('2'), u('1'))).toEqual([]);
    expect(balanceCrossings(u('0.8'), u('0.3'), u('1'))).toEqual([]);
    expect(balanceCrossings(u('1'), u('0.5'), u('1'))).toEqual([]);
    expect(balanceCrossings(u('0'), u('-3'), u('1'))).toEqual([]);
    expect(balanceCrossings(u('-3'), u('-4'), u('1'))).toEqual([]);
    expect(balanceCrossings(u('0.5'), u('5'), u('1'))).toEqual([]);
  });

  it('treats a threshold of 0 as "low balance off" (depleted still fires)', () => {
    expect(balanceCrossings(u('5'), u('0'), 0n)).toEqual(['billing.balance_depleted']);
    expect(balanceCrossings(u('5'), u('0.1'), 0n)).toEqual([]);
  });
});
