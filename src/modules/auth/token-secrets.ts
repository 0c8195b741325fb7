import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Opaque tokens handed to clients (refresh tokens, invitation and reset links): the tenant id, so
 * the server knows which scope to look in, and 32 random bytes. Only the SHA-256 digest is stored.
 */
export function newOpaqueToken(tenantId: string): { token: string; hash: Buffer } {
  const secret = randomBytes(32).toString('base64url');
  const token = `${tenantId}.${secret}`;
  return { token, hash: digest(token) };
}

export function parseOpaqueToken(token: unknown): { tenantId: string; hash: Buffer } | null {
  if (typeof token !== 'string' || token.length > 200) return null;
  const [tenantId, secret, extra] = token.split('.');
  if (extra !== undefined || !UUID.test(tenantId ?? '') || !/^[A-Za-z0-9_-]{43}$/.test(secret ?? '')) return null;
  return { tenantId: tenantId.toLowerCase(), hash: digest(token) };
}

export function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
