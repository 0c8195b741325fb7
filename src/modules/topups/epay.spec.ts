import { createHash } from 'node:crypto';
import { epayPayUrl, epaySign, epayVerify } from './epay';
import { generateCode, hashCode, isWellFormed, normalizeCode } from './redemption-codes';
import { toMinorUnits } from './stripe-gateway';

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

describe('Epay signature', () => {
  const key = 'merchant-key';
  const params = { pid: '1001', type: 'alipay', out_trade_no: 'A1', name: '充值', money: '10.00', sign: 'ignored', sign_type: 'MD5', param: '' };

  it('signs the non-empty parameters but sign and sign_type, sorted by name, with the key appended, MD5 lowercase', () => {
    expect(epaySign(params, key)).toBe(md5(`money=10.00&name=充值&out_trade_no=A1&pid=1001&type=alipay${key}`));
  });

  it('verifies only an untouched notification signed with the same key', () => {
    const signed = { ...params, sign: epaySign(params, key) };
    expect(epayVerify(signed, key)).toBe(true);
    expect(epayVerify({ ...signed, sign: signed.sign.toUpperCase() }, key)).toBe(true);
    expect(epayVerify({ ...signed, money: '100.00' }, key)).toBe(false);
    expect(epayVerify(signed, 'other-key')).toBe(false);
    expect(epayVerify({ ...signed, sign: undefined }, key)).toBe(false);
    expect(epayVerify({ ...signed, sign: 'not-hex' }, key)).toBe(false);
  });

  it('builds a submit.php URL whose parameters verify', () => {
    const url = new URL(epayPayUrl('https://pay.example.com/base', '1001', key, { outTradeNo: 'A1', money: '10.00', name: 'Top-up', notifyUrl: 'https://a/n', returnUrl: 'https://a/r' }));
    expect(url.pathname).toBe('/base/submit.php');
    const q = Object.fromEntries(url.searchParams);
    expect(q.type).toBeUndefined();
    expect(q.sign_type).toBe('MD5');
    expect(epayVerify(q, key)).toBe(true);
  });
});

describe('prepaid codes', () => {
  it('have 25 Crockford base32 characters (125 bits) and are told apart', () => {
    const codes = new Set(Array.from({ length: 1000 }, generateCode));
    expect(codes.size).toBe(1000);
    for (const code of codes) expect(isWellFormed(code)).toBe(true);
  });

  it('hash the same however they are typed', () => {
    const code = generateCode();
    expect(hashCode(` ${code.toLowerCase().replace(/-/g, ' ')} `)).toEqual(hashCode(code));
    expect(normalizeCode('abcde-fghio-l')).toBe('ABCDEFGH101');
    expect(isWellFormed('short')).toBe(false);
  });
});

describe('Stripe minor units', () => {
  it.each([
    ['25.99', 'usd', 2599],
    ['1', 'eur', 100],
    ['500', 'jpy', 500],
    ['500.5', 'jpy', null],
    ['0.001', 'usd', null],
  ])('%s %s -> %s', (amount, currency, minor) => {
    expect(toMinorUnits(amount, currency)).toBe(minor);
  });
});
