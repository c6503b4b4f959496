import type { OllamaTagEntry } from './fleet.types';
import { normalizeModelName } from '../scheduler/model-name';

/** One entry per model name across nodes (the first node's entry wins; nodes are sorted by name). */
export function unionTags(perNode: OllamaTagEntry[][]): OllamaTagEntry[] {
  // One entry per model as Ollama matches names; the first node's spelling is the one listed.
  const byName = new Map<string, OllamaTagEntry>();
  for (const entries of perNode) {
    for (const e of entries) {
      const key = normalizeModelName(e.name);
      if (!byName.has(key)) byName.set(key, e);
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function parts(v: string): number[] {
  return v.replace(/^v/, '').split(/[.-]/).map((p) => Number.parseInt(p, 10)).map((n) => (Number.isFinite(n) ? n : 0));
}

export function compareVersions(a: string, b: string): number {
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The fleet answers with its oldest node's version: a client then only uses what every node supports. */
export function lowestVersion(versions: (string | undefined)[]): string | undefined {
  const known = versions.filter((v): v is string => typeof v === 'string' && v.length > 0);
  return known.sort(compareVersions)[0];
}
