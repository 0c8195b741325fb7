import Decimal from 'decimal.js';
import { FactorVersion, OverrideVersion, PriceBook, PriceBookData, PriceRulesData, PriceVersion, raiseToFloor, scalePrice } from './price-book';

/**
 * Which price wins for a customer (issue 26), for every combination of own price, markup, group
 * membership and multiplier, group override and customer override, with the wholesale floor.
 * Platform price 1 / 2 per million, discount 10%: wholesale 0.9 / 1.8.
 */
const at = (ms: number) => new Date(ms);
const pv = (id: string, input: string, output: string, from = 0): PriceVersion => ({
  id,
  model: 'm',
  price: { inputPerMillion: input, outputPerMillion: output },
  effectiveFrom: at(from),
  setBy: null,
  createdAt: at(0),
});
const fv = (id: string, factor: string | null, from = 0): FactorVersion => ({ id, factor, effectiveFrom: at(from) });
const ov = (id: string, input: string | null, output: string | null, from = 0): OverrideVersion => ({
  id,
  price: input === null ? null : { inputPerMillion: input, outputPerMillion: output! },
  effectiveFrom: at(from),
});

function book(opts: { own?: boolean; markup?: string | null; group?: 'none' | 'plain' | string; groupOverride?: boolean; customerOverride?: boolean; type?: 'reseller' | 'platform' }): PriceBook {
  const rules: PriceRulesData = { markup: [], groupFactors: new Map(), groupOverrides: new Map(), customerOverrides: new Map(), members: new Map() };
  if (opts.markup) rules.markup.push(fv('mk', opts.markup));
  if (opts.group && opts.group !== 'none') {
    rules.members.set('c', 'g');
    if (opts.group !== 'plain') rules.groupFactors.set('g', [fv('gf', opts.group)]);
  }
  // A group override exists whether or not the customer is in the group: it must win only for members.
  if (opts.groupOverride) rules.groupOverrides.set('g\u0000m', [ov('go', '2', '4')]);
  if (opts.customerOverride) rules.customerOverrides.set('c\u0000m', [ov('co', '3', '6')]);
  const data: PriceBookData = {
    tenantId: 't',
    tenantType: opts.type ?? 'reseller',
    platform: new Map([['m', [pv('p', '1', '2')]]]),
    own: new Map(opts.own ? [['m', [pv('own', '1.5', '3')]]] : []),
    hidden: new Set(),
    discountPercent: '10',
    rules,
  };
  return new PriceBook(data);
}

describe('price rules: which price wins', () => {
  const cases: Array<{ own: boolean; markup: string | null; group: string; groupOverride: boolean; customerOverride: boolean }> = [];
  for (const own of [false, true])
    for (const markup of [null, '1.25', '0.5'])
      for (const group of ['none', 'plain', '1.2', '0.5'])
        for (const groupOverride of [false, true]) for (const customerOverride of [false, true]) cases.push({ own, markup, group, groupOverride, customerOverride });

  it.each(cases)('own=$own markup=$markup group=$group groupOverride=$groupOverride customerOverride=$customerOverride', (c) => {
    const price = book(c).effective('m', 1000, 'c')!;
    const inGroup = c.group !== 'none';
    const multiplier = inGroup && c.group !== 'plain' ? c.group : null;
    // The expectation, stated plainly rather than computed by the code under test.
    let winner: string;
    let input: Decimal;
    let floored = false;
    if (c.customerOverride) [winner, input, floored] = ['customer_override', new Decimal(3), true];
    else if (c.groupOverride && inGroup) [winner, input, floored] = ['group_override', new Decimal(2), true];
    else {
      if (c.own) [winner, input] = ['own', new Decimal('1.5')];
      else if (c.markup) [winner, input, floored] = ['markup', new Decimal('0.9').times(c.markup), true];
      else [winner, input] = ['inherited', new Decimal(1)];
      if (multiplier) [input, floored] = [input.times(multiplier), true];
    }
    const raised = floored && input.lessThan('0.9');
    if (raised) input = new Decimal('0.9');
    expect(price.rule.winner).toBe(winner);
    expect(price.rule.groupId).toBe(inGroup ? 'g' : null);
    expect(price.rule.multiplier).toBe(winner === 'customer_override' || winner === 'group_override' ? null : multiplier);
    expect(price.rule.markup).toBe(winner === 'markup' ? c.markup : null);
    expect(new Decimal(price.retail.inputPerMillion).equals(input)).toBe(true);
    // The floor holds for every computed price; the explanation names the buckets it raised.
    if (floored) expect(new Decimal(price.retail.inputPerMillion).greaterThanOrEqualTo('0.9')).toBe(true);
    expect(price.rule.floorApplied.includes('inputPerMillion')).toBe(raised);
    expect(price.wholesale.inputPerMillion).toBe('0.9');
    // The compiled price (what hold and settlement charge) is the resolved one.
    expect(price.compiledRetail.inputPerMillionUnits).toBe(BigInt(input.times(1e9).toFixed(0)));
  });

  it('without a customer, prices the tenant list (own, markup or inherited), ignoring groups and overrides', () => {
    expect(book({ markup: '1.25', customerOverride: true }).effective('m', 1000)!.rule.winner).toBe('markup');
    expect(book({ markup: '1.25' }).effective('m', 1000)!.retail.inputPerMillion).toBe('1.125');
    expect(book({ own: true, markup: '1.25' }).effective('m', 1000)!.rule.winner).toBe('own');
    expect(book({ group: '2', groupOverride: true }).effective('m', 1000)!.retail.inputPerMillion).toBe('1');
  });

  it('the platform tenant has no markup: its list is its retail price', () => {
    const price = book({ type: 'platform', markup: '3' }).effective('m', 1000, 'c')!;
    expect(price.rule.winner).toBe('own');
    expect(price.retail.inputPerMillion).toBe('1');
  });

  it('a scheduled multiplier takes effect at its time and a clearing version removes it; overrides likewise', () => {
    const b = book({ group: 'plain' });
    b.data.rules!.groupFactors.set('g', [fv('g1', '2', 5000), fv('g2', null, 9000)]);
    b.data.rules!.customerOverrides.set('c\u0000m', [ov('c1', '5', '5', 6000), ov('c2', null, null, 7000)]);
    expect(b.effective('m', 4999, 'c')!.retail.inputPerMillion).toBe('1');
    expect(b.effective('m', 5000, 'c')!.retail.inputPerMillion).toBe('2');
    expect(b.effective('m', 6500, 'c')!.rule.winner).toBe('customer_override');
    expect(b.effective('m', 7000, 'c')!.retail.inputPerMillion).toBe('2');
    expect(b.effective('m', 9000, 'c')!.retail.inputPerMillion).toBe('1');
    expect(b.effective('m', 5000, 'c')!.retailEffectiveFrom.getTime()).toBe(5000);
  });

  it('a multiplier rounds each bucket up to 9 decimals; the floor makes fallback buckets explicit', () => {
    expect(scalePrice({ inputPerMillion: '0.000000001', outputPerMillion: '1', cacheReadPerMillion: '0.1' }, '1.5')).toEqual({
      inputPerMillion: '0.000000002',
      outputPerMillion: '1.5',
      cacheReadPerMillion: '0.15',
      cacheWritePerMillion: undefined,
      cacheWrite1hPerMillion: undefined,
      reasoningPerMillion: undefined,
      perRequest: undefined,
    });
    // Retail cache reads fall back to input (0.5) but wholesale prices them at 0.6: raised, explicitly.
    const floored = raiseToFloor({ inputPerMillion: '1', outputPerMillion: '2', cacheReadPerMillion: '0.5' }, { inputPerMillion: '0.9', outputPerMillion: '1.8', cacheReadPerMillion: '0.6', perRequest: '0.01' });
    expect(floored.raised).toEqual(['cacheReadPerMillion', 'perRequest']);
    expect(floored.price).toMatchObject({ inputPerMillion: '1', cacheReadPerMillion: '0.6', perRequest: '0.01', cacheWritePerMillion: '1' });
  });
});
