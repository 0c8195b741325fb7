import { newOpaqueToken, parseOpaqueToken } from './token-secrets';

describe('opaque tokens', () => {
  const tenantId = '0194d0c2-1111-7aaa-8bbb-123456789abc';

  it('round-trips the tenant id and the digest', () => {
    const { token, hash } = newOpaqueToken(tenantId);
    const parsed = parseOpaqueToken(token);
    expect(parsed?.tenantId).toBe(tenantId);
    expect(parsed?.hash.equals(hash)).toBe(true);
    expect(token).not.toContain(hash.toString('hex'));
  });

  it('rejects malformed tokens', () => {
    for (const bad of [undefined, 42, '', 'x.y', `${tenantId}.short`, `not-a-uuid.${'a'.repeat(43)}`, `${tenantId}.${'a'.repeat(43)}.extra`]) {
      expect(parseOpaqueToken(bad)).toBeNull();
    }
  });

  it('makes a different token each time', () => {
    expect(newOpaqueToken(tenantId).token).not.toBe(newOpaqueToken(tenantId).token);
  });
});
