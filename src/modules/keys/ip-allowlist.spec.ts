import { ipAllowed, normalizeCidr, parseAllowlist } from './ip-allowlist';

describe('ip allow-list', () => {
  it('normalises CIDRs and bare addresses, IPv4 and IPv6', () => {
    expect(normalizeCidr('10.0.0.0/8')).toBe('10.0.0.0/8');
    expect(normalizeCidr('192.168.1.7')).toBe('192.168.1.7/32');
    expect(normalizeCidr('2001:db8::/32')).toBe('2001:db8::/32');
    expect(normalizeCidr('2001:0db8:0000::/48')).toBe('2001:db8::/48');
    expect(normalizeCidr('::1')).toBe('::1/128');
  });

  it('refuses malformed entries and set host bits', () => {
    for (const bad of ['10.0.0.0/33', '10.1.2.3/24', '300.1.1.1', 'abc', '', '10.0.0/8', '2001:db8::/129', '1.2.3.4/-1', '010.1.1.1']) {
      expect({ bad, out: normalizeCidr(bad) }).toEqual({ bad, out: null });
    }
  });

  it('matches IPv4, IPv6 and IPv4-mapped IPv6 client addresses', () => {
    const ranges = parseAllowlist(['10.0.0.0/8', '2001:db8::/32']);
    expect(ipAllowed('10.2.3.4', ranges)).toBe(true);
    expect(ipAllowed('::ffff:10.2.3.4', ranges)).toBe(true);
    expect(ipAllowed('11.0.0.1', ranges)).toBe(false);
    expect(ipAllowed('2001:db8:1::5', ranges)).toBe(true);
    expect(ipAllowed('2001:db9::1', ranges)).toBe(false);
    expect(ipAllowed('garbage', ranges)).toBe(false);
    expect(ipAllowed(null, ranges)).toBe(false);
  });
});
