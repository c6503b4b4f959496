// Shared by the k6 scripts: bounded integer knobs from the environment, and the target URL.

/** An integer from `__ENV[name]` within [min, max], or the fallback when unset; anything else stops the run. */
export function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name}=${JSON.stringify(raw)}: expected an integer in [${min}, ${max}]`);
  }
  return n;
}

export const BASE_URL = (__ENV.HERD_URL || 'http://localhost:3000').replace(/\/+$/, '');
export const MODEL = __ENV.MODEL || 'llama3';
