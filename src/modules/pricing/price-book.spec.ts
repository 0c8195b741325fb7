import { compiledCostUnits, compiledForImage, compilePrice, imagePriceOf } from '@app/money';
import { belowFloor, imagesBelowFloor, marginOf, PriceBook, PriceVersion, raiseToFloor, scalePrice, versionAt, wholesaleOf } from './price-book';

const v = (id: string, from: number, input: string, output = input): PriceVersion => ({
  id,
  model: 'm',
  price: { inputPerMillion: input, outputPerMillion: output },
  effectiveFrom: new Date(from),
  setBy: null,
  createdAt: new Date(0),
});

describe('price book', () => {
  it('picks the version in effect at a time', () => {
    const versions = [v('a', 1000, '1'), v('b', 2000, '2')];
    expect(versionAt(versions, 999)).toBeNull();
    expect(versionAt(versions, 1000)?.id).toBe('a');
    expect(versionAt(versions, 1999)?.id).toBe('a');
    expect(versionAt(versions, 2000)?.id).toBe('b');
  });

  it('derives wholesale from the discount, rounding up to 9 decimals', () => {
    expect(wholesaleOf({ inputPerMillion: '0.15', outputPerMillion: '0.6' }, '10')).toEqual({
      inputPerMillion: '0.135',
      outputPerMillion: '0.54',
      cacheReadPerMillion: undefined,
      cacheWritePerMillion: undefined,
      perRequest: undefined,
    });
    expect(wholesaleOf({ inputPerMillion: '0.000000001', outputPerMillion: '1' }, '50').inputPerMillion).toBe('0.000000001');
    expect(wholesaleOf({ inputPerMillion: '1', outputPerMillion: '1' }, '33.33').inputPerMillion).toBe('0.6667');
  });

  it('names every bucket below the floor, cache buckets falling back to input', () => {
    expect(belowFloor({ inputPerMillion: '1', outputPerMillion: '2' }, { inputPerMillion: '1', outputPerMillion: '2' })).toEqual([]);
    expect(belowFloor({ inputPerMillion: '1', outputPerMillion: '2', cacheReadPerMillion: '0.4' }, { inputPerMillion: '1', outputPerMillion: '2', cacheReadPerMillion: '0.5' })).toEqual([
      { field: 'cacheReadPerMillion', floor: '0.5' },
    ]);
    expect(belowFloor({ inputPerMillion: '1', outputPerMillion: '2' }, { inputPerMillion: '1', outputPerMillion: '2', perRequest: '0.01' })).toEqual([{ field: 'perRequest', floor: '0.01' }]);
    expect(marginOf({ inputPerMillion: '1.2', outputPerMillion: '2' }, { inputPerMillion: '1', outputPerMillion: '2' }).inputPerMillion).toBe('0.2');
  });

  it('inherits the platform price, prefers the own one in effect, and knows no model the platform does not price', () => {
    const book = new PriceBook({
      tenantId: 't',
      tenantType: 'reseller',
      platform: new Map([['m', [v('p1', 0, '1')]]]),
      own: new Map([['m', [v('o1', 5000, '2')]], ['x', [v('o2', 0, '9')]]]),
      hidden: new Set(),
      discountPercent: '0',
    });
    expect(book.effective('m', 100)).toMatchObject({ retailSource: 'inherited', retailVersionId: 'p1' });
    expect(book.effective('m', 5000)).toMatchObject({ retailSource: 'own', retailVersionId: 'o1', wholesaleVersionId: 'p1' });
    expect(book.effective('x', 5000)).toBeNull();
    expect(book.effective('m', 5000)).toBe(book.effective('m', 6000));
  });
});

describe('image prices by size and quality (issue 24)', () => {
  const platform = { inputPerMillion: '0', outputPerMillion: '0', perRequest: '0.04', unit: 'image' as const, imagePrices: { '1024x1024/hd': '0.08', '1792x1024': '0.12' } };

  it('picks the size/quality price, then the size price, then perRequest; compiled the same way', () => {
    expect(imagePriceOf(platform, '1024x1024', 'hd')).toBe('0.08');
    expect(imagePriceOf(platform, '1792x1024', 'standard')).toBe('0.12');
    expect(imagePriceOf(platform, '1024x1024', 'standard')).toBe('0.04');
    expect(imagePriceOf(platform, null, null)).toBe('0.04');
    const compiled = compilePrice(platform);
    expect(compiledCostUnits({ input: 0, output: 0, requests: 2 }, compiledForImage(compiled, '1024x1024', 'hd'))).toBe(160_000_000n);
    expect(compiledCostUnits({ input: 0, output: 0, requests: 1 }, compiledForImage(compiled, '1792x1024', undefined))).toBe(120_000_000n);
    expect(compiledCostUnits({ input: 0, output: 0, requests: 1 }, compiledForImage(compiled, '512x512', 'hd'))).toBe(40_000_000n);
  });

  it('discounts, scales and floors the table entry by entry, keeping the unit', () => {
    const wholesale = wholesaleOf(platform, '25');
    expect(wholesale).toMatchObject({ unit: 'image', perRequest: '0.03', imagePrices: { '1024x1024/hd': '0.06', '1792x1024': '0.09' } });
    expect(scalePrice(wholesale, '2')).toMatchObject({ unit: 'image', imagePrices: { '1024x1024/hd': '0.12' } });
    // A retail price without the table is below the floor where the floor's table is dearer than its perRequest.
    const retail = { inputPerMillion: '0', outputPerMillion: '0', perRequest: '0.05', unit: 'image' as const };
    expect(imagesBelowFloor(retail, wholesale)).toEqual([
      { key: '1024x1024/hd', floor: '0.06' },
      { key: '1792x1024', floor: '0.09' },
    ]);
    expect(imagesBelowFloor({ ...retail, imagePrices: { '1024x1024/hd': '0.07', '1792x1024': '0.2' } }, wholesale)).toEqual([]);
    const floored = raiseToFloor(retail, wholesale);
    expect(floored.price).toMatchObject({ unit: 'image', perRequest: '0.05', imagePrices: { '1024x1024/hd': '0.06', '1792x1024': '0.09' } });
    expect(imagesBelowFloor(floored.price, wholesale)).toEqual([]);
  });
});
