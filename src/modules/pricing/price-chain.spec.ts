import { FactorVersion, PriceBook, PriceBookData, PriceVersion } from './price-book';

const v = (id: string, from: number, input: string, output = input): PriceVersion => ({
  id,
  model: 'm',
  price: { inputPerMillion: input, outputPerMillion: output },
  effectiveFrom: new Date(from),
  setBy: null,
  createdAt: new Date(0),
});
const f = (id: string, from: number, factor: string | null): FactorVersion => ({ id, factor, effectiveFrom: new Date(from) });

const book = (over: Partial<PriceBookData> & Pick<PriceBookData, 'tenantId' | 'tenantType'>, parent: PriceBook | null = null) =>
  new PriceBook({ platform: new Map([['m', [v('p1', 0, '2', '4'), v('p2', 5000, '10', '20')]]]), own: new Map(), hidden: new Set(), discountPercent: '0', ...over }, parent);

/** Sub-resellers and spot prices in the compiled book (issue 26 B). */
describe('price chain', () => {
  // Platform 2 / 4 (10 / 20 from t=5000); A pays 20% off and sells at 3 / 6; B pays A's list less 10%.
  const a = book({ tenantId: 'A', tenantType: 'reseller', discountPercent: '20', own: new Map([['m', [v('a1', 0, '3', '6')]]]) });
  const b = book({ tenantId: 'B', tenantType: 'reseller', discountPercent: '10', parentId: 'A' }, a);

  it("prices a sub-reseller at its parent's list less its discount, with every level's cost", () => {
    const price = b.effective('m', 1000)!;
    expect(price.retail).toMatchObject({ inputPerMillion: '3', outputPerMillion: '6' });
    expect(price.wholesale).toMatchObject({ inputPerMillion: '2.7', outputPerMillion: '5.4' });
    expect(price.levels).toEqual([expect.objectContaining({ tenantId: 'A', wholesale: expect.objectContaining({ inputPerMillion: '1.6', outputPerMillion: '3.2' }) })]);
    expect(price.rule.winner).toBe('inherited');
    // Memoised: the same object for the same versions (nothing allocated per request).
    expect(b.effective('m', 2000)).toBe(price);
    expect(b.chain()).toEqual(['B', 'A']);
  });

  it("never lets a child's price fall below what its parent pays, when the platform raises its price later", () => {
    // From t=5000 A's cost is 8 / 16 while A still lists 3 / 6: B's price is raised to A's cost.
    const later = b.effective('m', 6000)!;
    expect(later.levels[0].wholesale).toMatchObject({ inputPerMillion: '8', outputPerMillion: '16' });
    expect(later.wholesale).toMatchObject({ inputPerMillion: '8', outputPerMillion: '16' });
    expect(later.retail).toMatchObject({ inputPerMillion: '8', outputPerMillion: '16' });
    expect(later.rule.floorApplied).toEqual(expect.arrayContaining(['inputPerMillion', 'outputPerMillion']));
    // The earlier request's price is unchanged (versions by time).
    expect(b.effective('m', 1000)!.wholesale.inputPerMillion).toBe('2.7');
  });

  it('hides from a child what its parent hides', () => {
    const hiding = book({ tenantId: 'A', tenantType: 'reseller', hidden: new Set(['m']) });
    const child = book({ tenantId: 'B', tenantType: 'reseller', parentId: 'A' }, hiding);
    expect(child.effective('m', 1000)!.hidden).toBe(true);
    expect(child.listedModels(1000)).toEqual([]);
  });

  it('applies spot factors down the chain: the platform list, the inherited factor, the floor', () => {
    const platformSpot = new Map([['m', [f('ps', 0, '0.5')]]]);
    const platform = book({ tenantId: 'P', tenantType: 'platform', spot: platformSpot });
    expect(platform.effective('m', 1000, null, 'spot')!.retail).toMatchObject({ inputPerMillion: '1', outputPerMillion: '2' });
    const top = book({ tenantId: 'A', tenantType: 'reseller', discountPercent: '20', own: new Map([['m', [v('a1', 0, '3', '6')]]]), platformSpot });
    const topSpot = top.effective('m', 1000, null, 'spot')!;
    // A inherits 0.5: sells at 1.5 / 3, pays 20% off the platform's spot 1 / 2.
    expect(topSpot).toMatchObject({ pool: 'spot', spotFactor: '0.5', retail: { inputPerMillion: '1.5', outputPerMillion: '3' }, wholesale: { inputPerMillion: '0.8', outputPerMillion: '1.6' } });
    // B's own 0.4 would be 1.2 / 2.4, below its spot cost 1.35 / 2.7 (A's spot list less 10%): raised.
    const child = book({ tenantId: 'B', tenantType: 'reseller', discountPercent: '10', parentId: 'A', spot: new Map([['m', [f('b1', 0, '0.4'), f('b2', 3000, null)]]]) }, top);
    const spot = child.effective('m', 1000, null, 'spot')!;
    expect(spot.wholesale).toMatchObject({ inputPerMillion: '1.35', outputPerMillion: '2.7' });
    expect(spot.retail).toMatchObject({ inputPerMillion: '1.35', outputPerMillion: '2.7' });
    expect(spot.levels[0].wholesale).toMatchObject({ inputPerMillion: '0.8', outputPerMillion: '1.6' });
    // Its factor cleared at t=3000: A's 0.5 applies again (1.5 / 3).
    expect(child.effective('m', 4000, null, 'spot')!).toMatchObject({ spotFactor: '0.5', retail: { inputPerMillion: '1.5', outputPerMillion: '3' } });
    // The standard price is untouched by spot factors.
    expect(child.effective('m', 1000)!.retail).toMatchObject({ inputPerMillion: '3', outputPerMillion: '6' });
  });

  it('answers a spot request with the standard price object when no factor applies anywhere', () => {
    expect(b.effective('m', 1000, null, 'spot')).toBe(b.effective('m', 1000));
    expect(a.effective('m', 1000, null, 'spot')).toBe(a.effective('m', 1000));
  });
});
