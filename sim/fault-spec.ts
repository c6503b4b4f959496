import type { SimFault } from './types';

/** Validates a fault given as JSON (POST /_sim/fault); throws an Error saying what is wrong. */
export function parseFault(value: unknown): SimFault {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('fault must be an object with a "kind"');
  }
  const f = value as Record<string, unknown>;
  switch (f.kind) {
    case 'down':
      return { kind: 'down' };
    case 'hang':
      return { kind: 'hang' };
    case 'busy':
      return { kind: 'busy' };
    case 'error500':
      if (f.message !== undefined && typeof f.message !== 'string') throw new Error('error500.message must be a string');
      return f.message === undefined ? { kind: 'error500' } : { kind: 'error500', message: f.message };
    case 'slow':
      if (typeof f.factor !== 'number' || !Number.isFinite(f.factor) || f.factor <= 0) {
        throw new Error('slow.factor must be a number > 0');
      }
      return { kind: 'slow', factor: f.factor };
    case 'drop':
      if (typeof f.afterChunks !== 'number' || !Number.isInteger(f.afterChunks) || f.afterChunks < 0) {
        throw new Error('drop.afterChunks must be an integer >= 0');
      }
      return { kind: 'drop', afterChunks: f.afterChunks };
    default:
      throw new Error(`unknown fault kind ${JSON.stringify(f.kind)}; expected down, error500, hang, slow, drop or busy`);
  }
}
