import { KeysRuntime, ResolvedApiKey } from './keys-runtime';
import { parseAllowlist } from './ip-allowlist';

/** check() is pure: the refusals, in the order the proxy reports them. */
describe('KeysRuntime.check', () => {
  const runtime = Object.create(KeysRuntime.prototype) as KeysRuntime;
  const base: ResolvedApiKey = {
    id: 'k',
    tenantId: 't',
    customerId: 'c',
    name: 'n',
    prefix: 'sk-abcdef',
    status: 'active',
    allowedModels: new Set(['a']),
    rpmLimit: null,
    tpmLimit: null,
    windowLimits: null,
    concurrencyLimit: null,
    spendLimitUnits: null,
    expiresAt: 10_000,
    ipAllowlist: parseAllowlist(['10.0.0.0/8']),
    customerStatus: 'active',
    tenantStatus: 'active',
    secretValidUntil: null,
  };
  const ok = { clientIp: '10.1.1.1', model: 'a', now: 5_000 };

  it('accepts a key within all its limits', () => {
    expect(runtime.check(base, ok)).toBeNull();
    expect(runtime.check({ ...base, allowedModels: null, ipAllowlist: null, expiresAt: null }, { now: 1e15 })).toBeNull();
  });

  it('names why a key is refused', () => {
    expect(runtime.check({ ...base, status: 'revoked' }, ok)).toBe('revoked');
    expect(runtime.check({ ...base, status: 'disabled' }, ok)).toBe('disabled');
    expect(runtime.check({ ...base, tenantStatus: 'disabled' }, ok)).toBe('tenant_disabled');
    expect(runtime.check({ ...base, customerStatus: 'disabled' }, ok)).toBe('customer_disabled');
    expect(runtime.check({ ...base, customerStatus: 'invited' }, ok)).toBe('customer_not_active');
    expect(runtime.check(base, { ...ok, now: 10_000 })).toBe('expired');
    expect(runtime.check({ ...base, secretValidUntil: 5_000 }, ok)).toBe('rotated');
    expect(runtime.check({ ...base, secretValidUntil: 5_001 }, ok)).toBeNull();
    expect(runtime.check(base, { ...ok, clientIp: '192.168.0.1' })).toBe('ip_not_allowed');
    expect(runtime.check(base, { ...ok, clientIp: null })).toBe('ip_not_allowed');
    expect(runtime.check(base, { ...ok, model: 'b' })).toBe('model_not_allowed');
  });
});
