import { isIP } from 'node:net';

/**
 * HERD_NODE_URL_ALLOW: which node URLs POST /herd/nodes and heartbeats may register.
 *
 * Entries (comma-separated):
 *   - an address range, `10.0.0.0/8`, `fd00::/8`, or one address, `10.0.0.11`, `::1`;
 *   - a host name, `gpu-1.lab.internal`, or every name under a domain, `*.lab.internal` (at any depth, not
 *     the domain itself).
 *
 * A URL's host is allowed when:
 *   - it is an IP address inside one of the ranges (host-name entries never match addresses);
 *   - it is a name equal to a host-name entry or under a `*.` entry: allowed as it is, without a lookup;
 *   - it is any other name and there are ranges: it is resolved (all addresses) and every address must be
 *     inside the ranges; a name that does not resolve is refused.
 * IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) count as the IPv4 address they carry.
 *
 * Everything here is pure except the lookup, which the caller passes in.
 */

export interface AddressRange {
  family: 4 | 6;
  /** The network as a number, host bits cleared. */
  network: bigint;
  prefix: number;
}

export interface NodeUrlAllow {
  ranges: readonly AddressRange[];
  /** Exact host names: lower case, no trailing dot. */
  names: readonly string[];
  /** Domains of `*.` entries, with the leading dot: `.lab.internal`. */
  suffixes: readonly string[];
}

export type NodeUrlVerdict = { allowed: true } | { allowed: false; reason: string };

/** Resolves a host name to every address it has (dns.lookup with `all: true`). */
export type HostLookup = (host: string) => Promise<string[]>;

export const NODE_URL_ALLOW_FORMAT = 'comma-separated address ranges (10.0.0.0/8, fd00::/8), addresses (10.0.0.11) or host names (gpu-1.lab.internal, *.lab.internal)';

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

interface Address {
  family: 4 | 6;
  value: bigint;
}

function ipv4Value(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6Value(text: string): bigint {
  let s = text;
  // An IPv4 tail (::ffff:10.0.0.1) becomes two hextets.
  const dot = s.lastIndexOf('.');
  if (dot >= 0) {
    const colon = s.lastIndexOf(':');
    const v4 = ipv4Value(s.slice(colon + 1));
    s = `${s.slice(0, colon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const headParts = head ? head.split(':') : [];
  const tailParts = tail === undefined ? [] : tail ? tail.split(':') : [];
  const missing = 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailParts];
  return parts.reduce((acc, part) => (acc << 16n) | BigInt(parseInt(part, 16)), 0n);
}

/** An IP address (IPv6 with or without brackets) as a number; undefined for anything else (names, zone ids). */
function parseIp(text: string): Address | undefined {
  const s = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (s.includes('%')) return undefined;
  const kind = isIP(s);
  if (kind === 4) return { family: 4, value: ipv4Value(s) };
  if (kind === 6) return { family: 6, value: ipv6Value(s) };
  return undefined;
}

const MAPPED_PREFIX = 0xffffn; // ::ffff:0:0/96, bits 32-47 set, everything above zero

function isMapped(a: Address): boolean {
  return a.family === 6 && a.value >> 32n === MAPPED_PREFIX;
}

/** The address to compare: IPv4-mapped IPv6 addresses become their IPv4 address. */
export function parseAddress(text: string): Address | undefined {
  const a = parseIp(text);
  if (a && isMapped(a)) return { family: 4, value: a.value & 0xffffffffn };
  return a;
}

function bits(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

function maskTo(value: bigint, family: 4 | 6, prefix: number): bigint {
  const shift = BigInt(bits(family) - prefix);
  return (value >> shift) << shift;
}

export function inRange(range: AddressRange, address: Address): boolean {
  return range.family === address.family && maskTo(address.value, address.family, range.prefix) === range.network;
}

/** Lower case, no trailing dot, no brackets around an IPv6 literal. */
export function normalizeHost(host: string): string {
  const h = host.trim().toLowerCase().replace(/\.$/, '');
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function isHostName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  // A last label of digits only would be read as an IPv4 address by URL parsers.
  return labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1]);
}

function parseRange(entry: string): AddressRange | string {
  const slash = entry.lastIndexOf('/');
  const addrText = slash >= 0 ? entry.slice(0, slash) : entry;
  const raw = parseIp(addrText);
  if (!raw) return `"${entry}": ${addrText} is not an IPv4 or IPv6 address`;
  const max = bits(raw.family);
  let prefix = max;
  if (slash >= 0) {
    const p = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return `"${entry}": the prefix length must be 0-${max}`;
    prefix = Number(p);
  }
  // ::ffff:10.0.0.0/104 is the IPv4 range 10.0.0.0/8 (addresses are compared as IPv4 once unmapped).
  if (isMapped(raw) && prefix >= 96) return { family: 4, network: maskTo(raw.value & 0xffffffffn, 4, prefix - 96), prefix: prefix - 96 };
  return { family: raw.family, network: maskTo(raw.value, raw.family, prefix), prefix };
}

/**
 * Parses HERD_NODE_URL_ALLOW. Every bad entry is a problem (nothing is dropped silently); `allow` is set only
 * when there is none.
 */
export function parseNodeUrlAllow(raw: string): { allow?: NodeUrlAllow; problems: string[] } {
  const problems: string[] = [];
  const ranges: AddressRange[] = [];
  const names: string[] = [];
  const suffixes: string[] = [];
  const entries = raw.split(',').map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) problems.push('no entries (leave it unset to allow every node URL)');
  for (const entry of entries) {
    const lower = entry.toLowerCase().replace(/\.$/, '');
    if (/^[a-z][a-z0-9+.-]*:\/\//.test(lower) || (/:\d+$/.test(lower) && !lower.includes('::') && lower.split(':').length === 2)) {
      problems.push(`"${entry}": give an address range or a host name, without scheme or port`);
    } else if (lower === '*') {
      problems.push(`"${entry}": to allow every node URL leave HERD_NODE_URL_ALLOW unset`);
    } else if (lower.startsWith('*.')) {
      if (isHostName(lower.slice(2))) suffixes.push(lower.slice(1));
      else problems.push(`"${entry}": after "*." must come a domain name like lab.internal`);
    } else if (entry.includes('/') || entry.includes(':') || /^[\d.]+$/.test(entry)) {
      const r = parseRange(entry);
      if (typeof r === 'string') problems.push(r);
      else ranges.push(r);
    } else if (isHostName(lower)) {
      names.push(lower);
    } else {
      problems.push(`"${entry}": not an address range, an address or a host name`);
    }
  }
  return problems.length ? { problems } : { allow: { ranges, names, suffixes }, problems };
}

/** Parses a list known to be valid (validated config, tests); throws with the problems otherwise. */
export function nodeUrlAllow(raw: string): NodeUrlAllow {
  const { allow, problems } = parseNodeUrlAllow(raw);
  if (!allow) throw new Error(`HERD_NODE_URL_ALLOW: ${problems.join('; ')}`);
  return allow;
}

/** True when a host name (normalized) is listed itself or under a `*.` domain. */
export function nameAllowed(allow: NodeUrlAllow, host: string): boolean {
  const name = normalizeHost(host);
  return allow.names.includes(name) || allow.suffixes.some((s) => name.endsWith(s) && name.length > s.length);
}

/** True when an IP address is inside one of the ranges. */
export function addressAllowed(allow: NodeUrlAllow, address: string): boolean {
  const a = parseAddress(normalizeHost(address));
  return a !== undefined && allow.ranges.some((r) => inRange(r, a));
}

/**
 * Decides whether a node URL may be registered. `lookup` is called only for a host name that no host-name
 * entry covers and only when there are ranges to check its addresses against.
 */
export async function checkNodeUrl(allow: NodeUrlAllow, url: string, lookup: HostLookup): Promise<NodeUrlVerdict> {
  let host: string;
  try {
    host = normalizeHost(new URL(url).hostname);
  } catch {
    return { allowed: false, reason: `${url} is not a valid URL` };
  }
  if (parseAddress(host)) {
    return addressAllowed(allow, host) ? { allowed: true } : { allowed: false, reason: `${host} is not in an address range of HERD_NODE_URL_ALLOW` };
  }
  if (nameAllowed(allow, host)) return { allowed: true };
  if (allow.ranges.length === 0) return { allowed: false, reason: `${host} is not a host name HERD_NODE_URL_ALLOW lists` };
  let addresses: string[];
  try {
    addresses = await lookup(host);
  } catch (err) {
    return { allowed: false, reason: `${host} does not resolve (${(err as { code?: string }).code ?? (err as Error).message}), so it cannot be checked against HERD_NODE_URL_ALLOW` };
  }
  if (addresses.length === 0) return { allowed: false, reason: `${host} does not resolve, so it cannot be checked against HERD_NODE_URL_ALLOW` };
  const outside = addresses.filter((a) => !addressAllowed(allow, a));
  if (outside.length) return { allowed: false, reason: `${host} resolves to ${outside.join(', ')}, outside the address ranges of HERD_NODE_URL_ALLOW` };
  return { allowed: true };
}
