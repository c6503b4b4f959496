import { HerdError } from './herd-error';

export const DEFAULT_PRIORITY = 5;
export const PRIORITY_MESSAGE = 'priority must be an integer from 1 (first) to 10 (last)';

/** Body `priority` wins over the `X-Herd-Priority` header; neither means the default. */
export function resolvePriority(bodyValue: number | undefined, header: string | string[] | undefined): number {
  if (bodyValue !== undefined) return bodyValue;
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || raw === '') return DEFAULT_PRIORITY;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 10) throw HerdError.badRequest(`X-Herd-Priority: ${PRIORITY_MESSAGE}`);
  return n;
}
