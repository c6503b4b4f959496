import { HttpException } from '@nestjs/common';
import { CanceledError, HerdError } from './herd-error';

/** What a client is told about a failure: status, message and stable code (and when to retry). */
export interface ClientError {
  status: number;
  message: string;
  code: string;
  retryAfter?: number;
}

/**
 * Any error as the client sees it. Herd's own errors say it themselves; Nest's (a route that does not exist, a
 * validation pipe) keep their status; anything else is an internal error whose details stay in the log.
 */
export function toClientError(err: unknown): ClientError {
  if (err instanceof HerdError) return { status: err.status, message: err.message, code: err.code, retryAfter: err.retryAfterSeconds };
  if (err instanceof CanceledError) return { status: 499, message: 'request canceled', code: 'HERD_CANCELED' };
  if (err instanceof HttpException) {
    const body = err.getResponse();
    const raw = typeof body === 'string' ? body : (body as { message?: unknown }).message;
    const message = Array.isArray(raw) ? raw.join('; ') : typeof raw === 'string' ? raw : err.message;
    return { status: err.getStatus(), message, code: err.getStatus() === 404 ? 'HERD_NOT_FOUND' : 'HERD_BAD_REQUEST' };
  }
  return { status: 500, message: 'herd: internal error', code: 'HERD_INTERNAL' };
}
