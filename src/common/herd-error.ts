/** Stable error codes: clients and dashboards can branch on them; messages are for people. */
export type HerdErrorCode =
  | 'HERD_BAD_REQUEST'
  | 'HERD_MODEL_NOT_FOUND'
  | 'HERD_NO_NODE_FOR_MODEL'
  | 'HERD_QUEUE_FULL'
  | 'HERD_QUEUE_TIMEOUT'
  | 'HERD_BATCH_LANE_FULL'
  | 'HERD_CANCELED'
  | 'HERD_REDIS_UNAVAILABLE'
  | 'HERD_UPSTREAM_UNREACHABLE'
  | 'HERD_UPSTREAM_TIMEOUT'
  | 'HERD_UPSTREAM_RESET'
  | 'HERD_UPSTREAM_ERROR'
  | 'HERD_MODEL_GONE'
  | 'HERD_SHUTTING_DOWN'
  | 'HERD_UNAUTHORIZED'
  | 'HERD_FORBIDDEN'
  | 'HERD_NOT_FOUND'
  | 'HERD_CONFLICT'
  | 'HERD_INVALID_API_KEY'
  | 'HERD_MODEL_NOT_ALLOWED'
  | 'HERD_RATE_LIMITED'
  | 'HERD_TOKEN_LIMITED';

/** An error with the HTTP status and message a client should see, in Ollama's words where Ollama has some. */
export class HerdError extends Error {
  constructor(
    readonly status: number,
    readonly code: HerdErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'HerdError';
  }

  static modelNotFound(model: string): HerdError {
    return new HerdError(404, 'HERD_MODEL_NOT_FOUND', `model "${model}" not found, try pulling it first`);
  }

  /** Ollama's own words for a full queue, so clients that match on them keep working; `why` says which bound. */
  static queueFull(why?: string): HerdError {
    return new HerdError(503, 'HERD_QUEUE_FULL', `server busy, please try again.  maximum pending requests exceeded${why ? ` (${why})` : ''}`, 1);
  }

  static badRequest(message: string): HerdError {
    return new HerdError(400, 'HERD_BAD_REQUEST', message);
  }

  /** No API key, or one Herd does not know (or revoked, or expired), while HERD_AUTH=keys. */
  static invalidApiKey(message: string): HerdError {
    return new HerdError(401, 'HERD_INVALID_API_KEY', message);
  }

  /** Over a key's requests (rpm) or tokens (tpm) per minute; `retryAfterSeconds` until its window turns. */
  static rateLimited(limit: 'rpm' | 'tpm', message: string, retryAfterSeconds: number): HerdError {
    return new HerdError(429, limit === 'rpm' ? 'HERD_RATE_LIMITED' : 'HERD_TOKEN_LIMITED', message, retryAfterSeconds);
  }

  /** A batch line found no slot the batch lane may take now (ADR 008): its runner tries again later. */
  static batchLaneFull(): HerdError {
    return new HerdError(503, 'HERD_BATCH_LANE_FULL', 'herd: no slot free for the batch lane right now', 1);
  }

  static redisDown(): HerdError {
    return new HerdError(503, 'HERD_REDIS_UNAVAILABLE', 'herd: queue unavailable (Redis is unreachable), please try again shortly', 2);
  }
}

/** The client went away (or its request was withdrawn) before it got an answer: 499, never retried. */
export class CanceledError extends Error {
  constructor() {
    super('request canceled');
  }
}
