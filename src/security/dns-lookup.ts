import { lookup } from 'node:dns/promises';
import type { HostLookup } from './node-url-allow';

/** Every address the system resolver gives for a name (as a connection to it would), or an error after timeoutMs. */
export function systemLookup(timeoutMs: number): HostLookup {
  return async (host) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`lookup timed out after ${timeoutMs} ms`), { code: 'ETIMEOUT' })), timeoutMs);
    });
    try {
      const found = await Promise.race([lookup(host, { all: true, verbatim: true }), timeout]);
      return found.map((a) => a.address);
    } finally {
      clearTimeout(timer);
    }
  };
}
