import { HerdError } from '../common/herd-error';

export const DEFAULT_PRIORITY = 5;
export const PRIORITY_MESSAGE = 'priority must be an integer from 1 (first) to 10 (last)';

function isPriority(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 10;
}

/**
 * Body `priority` wins over the `X-Herd-Priority` header; neither means the default. Whatever reaches here, the
 * result is an integer 1..10 or a 400: the body value is checked again, not trusted from the DTO.
 */
export function resolvePriority(bodyValue: unknown, header: string | string[] | undefined): number {
  if (bodyValue !== undefined) {
    if (!isPriority(bodyValue)) throw HerdError.badRequest(PRIORITY_MESSAGE);
    return bodyValue;
  }
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || raw === '') return DEFAULT_PRIORITY;
  const n = /^\s*(?:[1-9]|10)\s*$/.test(raw) ? Number(raw) : NaN;
  if (!isPriority(n)) throw HerdError.badRequest(`X-Herd-Priority: ${PRIORITY_MESSAGE}`);
  return n;
}
