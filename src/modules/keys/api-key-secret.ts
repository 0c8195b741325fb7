import { createHash, randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 32 random bytes are at most 43 base62 digits; shorter encodings are left-padded to 43. */
const SECRET_DIGITS = 43;
export const SECRET_PREFIX = 'sk-';
/** How much of the secret is stored and shown to identify a key (`sk-` + 6 characters). */
const DISPLAY_LENGTH = SECRET_PREFIX.length + 6;
const SECRET_SHAPE = /^sk-[0-9A-Za-z]{43}$/;

function base62(bytes: Buffer): string {
  let n = BigInt(`0x${bytes.toString('hex')}`);
  let out = '';
  while (n > 0n) {
    out = BASE62[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out.padStart(SECRET_DIGITS, '0');
}

/** SHA-256 of a presented secret: what the database and the caches are keyed by. */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function looksLikeSecret(value: string): boolean {
  return SECRET_SHAPE.test(value);
}

/** A new secret (`sk-` + 256 random bits in base62), its hash, and the prefix kept for display. */
export function generateSecret(): { secret: string; hash: Buffer; prefix: string } {
  const secret = SECRET_PREFIX + base62(randomBytes(32));
  return { secret, hash: hashSecret(secret), prefix: secret.slice(0, DISPLAY_LENGTH) };
}
