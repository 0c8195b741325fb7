import { createHmac, randomBytes } from 'node:crypto';

/**
 * The signing scheme of outgoing webhooks: Standard Webhooks (https://www.standardwebhooks.com),
 * so a receiver can verify with its libraries or with a few lines (docs/webhooks.md).
 *
 *   webhook-id:        the event id (the same on every retry and redelivery: receivers dedupe on it)
 *   webhook-timestamp: unix seconds when this attempt was signed
 *   webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<raw body>")>
 *                      (space-separated, one per secret: the current one first, then the
 *                      previous one while a rotation's grace period lasts)
 *
 * The secret is `whsec_<base64 of 32 random bytes>`; the HMAC key is those bytes.
 */
export const SECRET_PREFIX = 'whsec_';

export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

export function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('not a webhook secret');
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

export function signatureOf(secret: string, id: string, timestamp: number, body: string): string {
  return 'v1,' + createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
}

export function signedHeaders(secrets: string | readonly string[], id: string, body: string, now = new Date()): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': list.map((secret) => signatureOf(secret, id, timestamp, body)).join(' '),
  };
}
