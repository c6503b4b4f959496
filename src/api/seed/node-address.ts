import { isIP } from 'node:net';

/** A node URL's host as Ollama Connector splits it: an IPv4 or IPv6 address (else a host name), and the port. */
export interface NodeAddress {
  ipv4: string | null;
  ipv6: string | null;
  /** Set only when the URL names a host instead of an address. */
  hostname: string | null;
  port: number | null;
}

export function nodeAddress(url: string): NodeAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ipv4: null, ipv6: null, hostname: null, port: null };
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const family = isIP(host);
  const port = parsed.port ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
  return { ipv4: family === 4 ? host : null, ipv6: family === 6 ? host : null, hostname: family === 0 ? host : null, port };
}
