import { normalizeModelName } from '../scheduler/model-name';

/** Characters a model pattern may hold: those of model names (host/namespace/model:tag) plus `*` and `?`. */
const PATTERN = /^[A-Za-z0-9._:/*?-]{1,200}$/;

export function isModelPattern(pattern: string): boolean {
  return PATTERN.test(pattern);
}

/**
 * Whether a key's model pattern allows `model` (a normalised name, src/scheduler/model-name.ts), in any case.
 * Without a wildcard the pattern is a model name and is normalised like one, so `llama3` allows
 * `llama3:latest` and `Llama3`, but not `llama3:8b`. With one, `*` matches any run of characters (`/` and `:`
 * too) and `?` one character, over the normalised name: `llama3*` allows `llama3:latest` and `llama3.1:8b`.
 */
export function matchesModel(pattern: string, model: string): boolean {
  if (!/[*?]/.test(pattern)) return normalizeModelName(pattern) === model;
  const glob = pattern.trim().toLowerCase().replace(/^registry\.ollama\.ai\//, '').replace(/^library\//, '');
  return globMatch(glob, model);
}

/** Whether a key with these patterns may use `model`; no patterns: every model. */
export function modelAllowed(patterns: readonly string[] | undefined, model: string): boolean {
  return patterns === undefined || patterns.some((p) => matchesModel(p, model));
}

/**
 * `*` and `?` matching in O(pattern × text) at worst: on a mismatch only the last `*` is retried one character
 * further (a regular expression built from the pattern could backtrack exponentially on `*a*a*a…`).
 */
export function globMatch(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (g < glob.length && (glob[g] === '?' || glob[g] === text[t])) {
      g++;
      t++;
    } else if (g < glob.length && glob[g] === '*') {
      star = g++;
      resume = t;
    } else if (star >= 0) {
      g = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === '*') g++;
  return g === glob.length;
}
