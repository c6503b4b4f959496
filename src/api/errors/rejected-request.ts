import type { Request } from 'express';
import type { RequestRecord } from '../../inference/request-events';

/** Routes whose requests go through the queue: each one ends as exactly one request record. */
const INFERENCE_ROUTES = new Set(['/ollama/generate', '/api/generate', '/api/chat', '/api/embed', '/api/embeddings', '/v1/chat/completions', '/v1/completions', '/v1/embeddings']);

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
