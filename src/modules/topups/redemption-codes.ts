import { createHash, randomBytes } from 'node:crypto';

/** Crockford's base32: no I, L, O, U, so a code read aloud or typed cannot be confused. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** 25 characters of 5 random bits each: 125 bits, so guessing one of even millions of codes is hopeless. */
export const CODE_LENGTH = 25;

/** A new code, `XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`. */
export function generateCode(): string {
  const bytes = randomBytes(CODE_LENGTH);
  let chars = '';
  for (const byte of bytes) chars += ALPHABET[byte & 31];
  return chars.match(/.{5}/g)!.join('-');
}

/** What the customer typed, as stored: dashes and spaces dropped, uppercase, Crockford's look-alikes mapped. */
export function normalizeCode(input: string): string {
  return input
    .toUpperCase()
    .replace(/[\s-]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
}

/** The stored form: SHA-256 of the normalised code (125 random bits need no slow hash or salt). */
export function hashCode(input: string): Buffer {
  return createHash('sha256').update(normalizeCode(input), 'utf8').digest();
}

export function isWellFormed(input: string): boolean {
  const n = normalizeCode(input);
  return n.length === CODE_LENGTH && [...n].every((c) => ALPHABET.includes(c));
}
