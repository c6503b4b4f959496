import { HerdError } from '../common/herd-error';

export const DAY_MS = 86_400_000;
/** What `GET /herd/usage` covers when the query names no day: the last 30 UTC days, today included. */
export const DEFAULT_RANGE_DAYS = 30;
/** The longest range one query may ask for (a leap year). */
export const MAX_RANGE_DAYS = 366;

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The UTC day of an instant, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Midnight UTC of a `YYYY-MM-DD` day that exists on the calendar (1970-9999), else undefined. */
export function parseDay(text: string): number | undefined {
  const m = DAY.exec(text);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1970) return undefined;
  const ms = Date.UTC(year, month - 1, day);
  // Date.UTC rolls 2024-02-30 over into March: a day that does not come back unchanged does not exist.
  return utcDay(ms) === text ? ms : undefined;
}

/** Every day from `fromMs` to `toMs` (both midnights UTC), in order. */
export function daysBetween(fromMs: number, toMs: number): string[] {
  const days: string[] = [];
  for (let ms = fromMs; ms <= toMs; ms += DAY_MS) days.push(utcDay(ms));
  return days;
}

export interface DayRange {
  from: string;
  to: string;
  days: string[];
}

function dayParam(query: Record<string, unknown>, name: 'from' | 'to'): number | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw HerdError.badRequest(`${name} must be given once, as a day YYYY-MM-DD`);
  const ms = parseDay(value);
  if (ms === undefined) throw HerdError.badRequest(`${name} must be a day YYYY-MM-DD (UTC, 1970 or later), got "${value.slice(0, 40)}"`);
  return ms;
}

/**
 * The days a usage query covers: `from` and `to` inclusive, UTC. Without `to`, today; without `from`, 30 days
 * up to `to`. Anything else in the query, a day that does not exist, `from` after `to` or a range over 366 days
 * is a 400.
 */
export function usageRange(query: Record<string, unknown>, now: number): DayRange {
  const unknown = Object.keys(query).filter((k) => k !== 'from' && k !== 'to');
  if (unknown.length > 0) throw HerdError.badRequest(`unknown query parameter "${unknown[0].slice(0, 40)}" (usage takes from and to, YYYY-MM-DD)`);
  const fromParam = dayParam(query, 'from');
  const toParam = dayParam(query, 'to');
  const to = toParam ?? Math.floor(now / DAY_MS) * DAY_MS;
  const from = fromParam ?? to - (DEFAULT_RANGE_DAYS - 1) * DAY_MS;
  if (from > to) throw HerdError.badRequest(`from (${utcDay(from)}) is after to (${utcDay(to)})`);
  const span = Math.round((to - from) / DAY_MS) + 1;
  if (span > MAX_RANGE_DAYS) throw HerdError.badRequest(`the range covers ${span} days; ask for at most ${MAX_RANGE_DAYS} at once`);
  return { from: utcDay(from), to: utcDay(to), days: daysBetween(from, to) };
}
