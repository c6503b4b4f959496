/** Checks on request bodies as a node receives them (pure; used by the fuzz e2e test's recording node). */

export const FORBIDDEN_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

const FORBIDDEN_KEY_TEXT = /"(?:__proto__|constructor|prototype)"\s*:/;
const MAX_PATH = 120;

/**
 * Where a JSON text has a `__proto__`, `constructor` or `prototype` key, at any depth, however it is spelled
 * (`"\u005f_proto__"` included: the text is parsed, and JSON.parse keeps such keys as own properties).
 * Text that does not parse is searched as text. At most `limit` paths.
 */
export function forbiddenKeyPaths(text: string, limit = 5): string[] {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return FORBIDDEN_KEY_TEXT.test(text) ? ['(unparsed text)'] : [];
  }
  const found: string[] = [];
  const stack: Array<{ value: unknown; path: string }> = [{ value: root, path: '$' }];
  while (stack.length > 0 && found.length < limit) {
    const { value, path } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    const keys = Array.isArray(value) ? [] : Object.keys(value);
    for (const key of keys) {
      const at = path.length > MAX_PATH ? path : `${path}.${key}`;
      if (FORBIDDEN_KEYS.includes(key)) found.push(at);
      stack.push({ value: (value as Record<string, unknown>)[key], path: at });
    }
    if (Array.isArray(value)) value.forEach((v, i) => stack.push({ value: v, path: path.length > MAX_PATH ? path : `${path}[${i}]` }));
  }
  return found;
}

/** Whether a JSON object text has a top-level `priority` field (Herd's own field, which it must strip). */
export function hasTopLevelPriority(text: string): boolean {
  try {
    const body = JSON.parse(text) as unknown;
    return body !== null && typeof body === 'object' && !Array.isArray(body) && Object.prototype.hasOwnProperty.call(body, 'priority');
  } catch {
    return /^\s*\{[\s\S]*"priority"\s*:/.test(text);
  }
}

/** Whether an address is a loopback IP literal (127.0.0.0/8 or ::1). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (h === '::1') return true;
  const parts = h.split('.');
  return parts.length === 4 && parts[0] === '127' && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** The URL if it is plain http:// to a loopback address; otherwise throws saying why. */
export function loopbackUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:') throw new Error(`refusing ${raw}: only http:// is supported`);
  if (!isLoopbackHost(url.hostname)) throw new Error(`refusing ${raw}: the fuzzer only sends to a loopback address (127.0.0.0/8 or [::1]), e.g. http://127.0.0.1:3000`);
  if (url.username || url.password) throw new Error(`refusing ${raw}: no credentials in the URL`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) throw new Error(`refusing ${raw}: give Herd's base URL only (no path or query)`);
  return url;
}
