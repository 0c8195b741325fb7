import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** One encryption key: `kid` names it in every ciphertext, `k` is 32 bytes, base64url (a JWK of kty "oct"). */
export interface EncryptionKey {
  kid: string;
  k: string;
}

export class SecretBoxError extends Error {}

const PREFIX = 'v1';

/**
 * AES-256-GCM for upstream API keys at rest. The first key encrypts, every key decrypts, so a new
 * key is rotated in first and `cli reencrypt-channel-keys` moves the rows to it. The ciphertext is
 * bound to its context (the channel) as additional data, so it cannot be moved to another row.
 * Format: `v1.<kid>.<iv>.<tag>.<ciphertext>` (base64url parts).
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  readonly currentKid: string;

  constructor(keys: readonly EncryptionKey[]) {
    if (!keys.length) throw new SecretBoxError('at least one encryption key is needed');
    for (const key of keys) {
      const bytes = Buffer.from(key.k, 'base64url');
      if (bytes.length !== 32) throw new SecretBoxError(`encryption key ${key.kid} must be 32 bytes`);
      if (this.keys.has(key.kid)) throw new SecretBoxError(`encryption key id ${key.kid} is used twice`);
      this.keys.set(key.kid, bytes);
    }
    this.currentKid = keys[0].kid;
  }

  static generateKey(kid = `k${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`): EncryptionKey {
    return { kid, k: randomBytes(32).toString('base64url') };
  }

  encrypt(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentKid)!, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [PREFIX, this.currentKid, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
  }

  decrypt(sealed: string, context: string): string {
    const [prefix, kid, iv, tag, ciphertext] = sealed.split('.');
    const key = this.keys.get(kid ?? '');
    if (prefix !== PREFIX || !key || !iv || !tag || ciphertext === undefined) throw new SecretBoxError(`cannot decrypt: unknown key id or format`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('cannot decrypt: the ciphertext or its context does not match');
    }
  }

  /** The key id a ciphertext was sealed with. */
  static kidOf(sealed: string): string {
    return sealed.split('.')[1] ?? '';
  }
}

/** What may be shown of a secret once saved: its last four characters. */
export function last4(secret: string): string {
  return secret.slice(-4);
}
