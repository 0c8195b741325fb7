import { isIP } from 'node:net';
import { isPublicAddress } from '@app/providers';

export const MAX_URL_LENGTH = 2048;

/**
 * Why a webhook URL is refused when saved, or null. Only a first filter: the real SSRF check is at
 * connect time, on the resolved address (a name can resolve anywhere, and change).
 */
export function webhookUrlProblem(value: unknown, allowPrivateNetworks: boolean): string | null {
  if (typeof value !== 'string' || value.length === 0) return 'url must be a string';
  if (value.length > MAX_URL_LENGTH) return `url must be at most ${MAX_URL_LENGTH} characters`;
  if (/[\s\u0000-\u001f\u007f]/.test(value)) return 'url must not contain spaces or control characters';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'url must be an absolute http or https URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'url must use http or https';
  if (url.username || url.password || /^[a-z]+:\/\/[^/?#]*@/i.test(value)) return 'url must not contain credentials';
  if (url.hash || value.includes('#')) return 'url must not contain a fragment';
  if (!url.hostname) return 'url must name a host';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivateNetworks && isIP(host) && !isPublicAddress(host)) return 'url must not point to a private, loopback or link-local address';
  return null;
}
