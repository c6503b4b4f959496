/**
 * The values of a Redis hash of JSON documents, parsed. A corrupt entry is skipped rather than failing the whole
 * read (one bad write must not take the fleet down); the next write of that field replaces it.
 */
export function parseJsonHash<T>(hash: Record<string, string>): Map<string, T> {
  const out = new Map<string, T>();
  for (const [k, v] of Object.entries(hash)) {
    try {
      out.set(k, JSON.parse(v) as T);
    } catch {
      // skipped: see above
    }
  }
  return out;
}
