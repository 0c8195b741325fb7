import { createHash } from 'node:crypto';
import { generateSecret, hashSecret, looksLikeSecret } from './api-key-secret';

describe('API key secrets', () => {
  it('are sk- and 43 base62 characters (256 random bits), unique, stored as SHA-256 with a short prefix', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { secret, hash, prefix } = generateSecret();
      expect(secret).toMatch(/^sk-[0-9A-Za-z]{43}$/);
      expect(looksLikeSecret(secret)).toBe(true);
      expect(hash.equals(createHash('sha256').update(secret).digest())).toBe(true);
      expect(hashSecret(secret).equals(hash)).toBe(true);
      expect(prefix).toBe(secret.slice(0, 9));
      seen.add(secret);
    }
    expect(seen.size).toBe(200);
  });
});
