import { isValidTenantDomain, normalizeHost } from './host';

describe('normalizeHost', () => {
  it.each([
    ['API.Example.com', 'api.example.com'],
    ['api.example.com:8443', 'api.example.com'],
    ['api.example.com.', 'api.example.com'],
    ['localhost:3000', 'localhost'],
  ])('%s -> %s', (raw, expected) => expect(normalizeHost(raw)).toBe(expected));

  it.each([[''], ['[::1]:3000'], ['a b.com'], ['x.com:port'], ['-bad.com'], ['a'.repeat(64) + '.com'], ["evil.com'--"]])(
    'rejects %p',
    (raw) => expect(normalizeHost(raw)).toBeNull(),
  );
});

describe('isValidTenantDomain', () => {
  it('accepts DNS names', () => {
    expect(isValidTenantDomain('api.reseller.example')).toBe(true);
    expect(isValidTenantDomain('demo.localhost')).toBe(true);
  });
  it('rejects hosts with ports, upper case or no dot', () => {
    expect(isValidTenantDomain('Api.example.com')).toBe(false);
    expect(isValidTenantDomain('example.com:80')).toBe(false);
    expect(isValidTenantDomain('intranet')).toBe(false);
  });
});
