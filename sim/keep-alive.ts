/** Ollama's keep_alive: a Go duration string ("10m", "1h30m", "0"), or a number of seconds; negative = forever. */

export const DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;
/** A Go time.Duration holds at most 2^63 ns (about 292 years); longer keep-alives mean "forever". */
const MAX_DURATION_MS = 2 ** 63 / 1e6;

export type KeepAliveResult = { ok: true; ms: number } | { ok: false; message: string };

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds; Infinity means "forever"; 0 means "unload when idle". Absent or null gives the 5 minute default. */
export function parseKeepAlive(value: unknown): KeepAliveResult {
  if (value === undefined || value === null) return { ok: true, ms: DEFAULT_KEEP_ALIVE_MS };
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { ok: false, message: 'json: cannot unmarshal number into Go value of type api.Duration' };
    if (value < 0 || value * 1000 >= MAX_DURATION_MS) return { ok: true, ms: Infinity };
    return { ok: true, ms: value * 1000 };
  }
  if (typeof value === 'string') {
    const ms = parseGoDuration(value);
    if (typeof ms === 'string') return { ok: false, message: ms };
    return { ok: true, ms: ms < 0 || ms >= MAX_DURATION_MS ? Infinity : ms };
  }
  return { ok: false, message: `json: cannot unmarshal ${goTypeName(value)} into Go value of type api.Duration` };
}

/** Parses a Go duration; returns an error message (Go's wording) when it is not one. */
export function parseGoDuration(text: string): number | string {
  const invalid = `time: invalid duration "${text}"`;
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return invalid;
  let total = 0;
  const part = /^(\d+\.?\d*|\.\d+)([a-zµμ]*)/;
  while (s.length > 0) {
    const m = part.exec(s);
    if (!m) return invalid;
    const unit = m[2];
    if (unit === '') return `time: missing unit in duration "${text}"`;
    const factor = UNIT_MS[unit];
    if (factor === undefined) return `time: unknown unit "${unit}" in duration "${text}"`;
    total += Number(m[1]) * factor;
    s = s.slice(m[0].length);
  }
  return sign * total;
}

export function goTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return 'object';
  if (typeof value === 'boolean') return 'bool';
  return typeof value;
}
