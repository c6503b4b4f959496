import type { Response } from 'express';
import type { Attempt } from './attempt';

/** Tells the client where and how its request ran. */
export function setHerdHeaders(res: Response, attempt: Attempt): void {
  res.setHeader('X-Request-Id', attempt.requestId);
  res.setHeader('X-Herd-Node', attempt.node.name);
  res.setHeader('X-Herd-Queue-Ms', String(attempt.queueMs));
  res.setHeader('X-Herd-Estimate-Ms', String(Math.round(attempt.grant.estimateMs)));
  const cached = attempt.grant.parts.cachedTokens;
  if (cached) res.setHeader('X-Herd-Cached-Tokens', String(cached));
  if (attempt.headers) for (const name in attempt.headers) res.setHeader(name, attempt.headers[name]);
}
