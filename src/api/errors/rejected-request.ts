import type { Request } from 'express';
import { INFERENCE_ROUTES as ROUTE_SPECS } from '../../admission/route-specs';
import type { RequestRecord } from '../../inference/request-events';

/**
 * Routes whose requests go through the queue, each ending as exactly one request record: Herd's inference routes
 * and the adapters of the systems it replaces (src/api/seed) that run inference.
 */
const INFERENCE_ROUTES = new Set([...Object.keys(ROUTE_SPECS), '/chat', '/chat/stream', '/jobs']);

/**
 * The record of an inference request refused before it reached the queue (invalid JSON, a body that fails
 * validation), so that metrics, the request log and the dashboard see it like any other rejection. Undefined
 * for other routes and for server errors. The model stays empty: a client's string never becomes a label.
 */
export function rejectedRequestRecord(req: Request, status: number, code: string, message: string, replica: string): RequestRecord | undefined {
  // Express routes match case-insensitively and with a trailing slash: so must this check.
  const route = req.path.toLowerCase().replace(/\/+$/, '');
  if (req.method !== 'POST' || !INFERENCE_ROUTES.has(route) || status >= 500) return undefined;
  return { id: '', route: req.path, model: '', priority: 0, replica, stream: false, durationMs: 0, outcome: 'rejected', status, errorCode: code, errorMessage: message, retries: 0, endedAt: Date.now() };
}
