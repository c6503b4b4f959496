import type { Request } from 'express';
import type { Presented } from '../../batch/batch-callers';
import { presentedKey } from '../../security/access';

/** The API key and tenant header a request presented, for BatchCallers. */
export function presented(req: Request): Presented {
  const tenant = req.headers['x-herd-tenant'];
  return { credential: presentedKey(req.headers, 'x-api-key'), tenantHeader: Array.isArray(tenant) ? tenant[0] : tenant };
}

/** `limit` of a cursor list: 1 to 100, default 20 (OpenAI's bounds). */
export function listLimit(raw: unknown): number {
  if (raw === undefined) return 20;
  const n = typeof raw === 'string' && /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  return n >= 1 && n <= 100 ? n : 20;
}

/** `after` of a cursor list: a string, or nothing. */
export function listAfter(raw: unknown): string | undefined {
  return typeof raw === 'string' && raw !== '' && raw.length <= 100 ? raw : undefined;
}
