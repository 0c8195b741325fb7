import * as ipaddr from 'ipaddr.js';

export type IpRange = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Parses one allow-list entry (a CIDR, or a bare address meaning /32 or /128) into its canonical
 * network form (`10.1.2.0/24`, `2001:db8::/32`); null if malformed or if host bits are set in a
 * way that is ambiguous (`10.1.2.3/24` is refused rather than silently widened).
 */
export function normalizeCidr(entry: string): string | null {
  if (typeof entry !== 'string' || entry.length > 64) return null;
  const [text, bitsText, ...rest] = entry.split('/');
  if (rest.length > 0 || (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText))) return null;
  // Only the four-part dotted form of IPv4 (inet_aton's `10.1` or `010.1.1.1` are ambiguous).
  if (!ipaddr.IPv6.isValid(text) && !ipaddr.IPv4.isValidFourPartDecimal(text)) return null;
  const address = ipaddr.parse(text);
  const max = address.kind() === 'ipv4' ? 32 : 128;
  const bits = bitsText === undefined ? max : Number(bitsText);
  if (bits > max) return null;
  const network = address.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(`${text}/${bits}`) : ipaddr.IPv6.networkAddressFromCIDR(`${text}/${bits}`);
  if (network.toNormalizedString() !== address.toNormalizedString()) return null;
  return `${network.toString()}/${bits}`;
}

export function parseAllowlist(cidrs: readonly string[]): IpRange[] {
  return cidrs.map((cidr) => ipaddr.parseCIDR(cidr));
}

/** True if `ip` (IPv4, IPv6 or IPv4-mapped IPv6, as a socket reports it) is in one of the ranges. */
export function ipAllowed(ip: string | null | undefined, ranges: readonly IpRange[]): boolean {
  if (!ip || !ipaddr.isValid(ip)) return false;
  let address = ipaddr.parse(ip);
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) address = (address as ipaddr.IPv6).toIPv4Address();
  return ranges.some(([network, bits]) => network.kind() === address.kind() && address.match([network, bits] as never));
}
