const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Normalises a Host header to the form domains are stored in: lower case, no port, no trailing
 * dot. Returns null for anything that is not a DNS name (IP literals and garbage never match a
 * tenant, and never reach the database).
 */
export function normalizeHost(raw: string | undefined | null): string | null {
  if (!raw) return null;
  let host = raw.trim().toLowerCase();
  if (host.startsWith('[')) return null;
  const colon = host.lastIndexOf(':');
  if (colon !== -1) {
    if (!/^\d{1,5}$/.test(host.slice(colon + 1))) return null;
    host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return HOSTNAME.test(host) ? host : null;
}

/** True when `domain` is acceptable as a tenant domain (a DNS name with at least one dot, or *.localhost). */
export function isValidTenantDomain(domain: string): boolean {
  return normalizeHost(domain) === domain && (domain.includes('.') || domain === 'localhost');
}
