import type { Logger } from '../common/logger';
import type { RequestRecord } from '../inference/request-events';

const ms = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 10) / 10);

/**
 * The fields of the one log line written per request. Never the prompt or the answer. Fields without a value
 * are left out (a request that never reached a node has no node, queue time or estimate).
 */
export function requestLogFields(r: RequestRecord): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    id: r.id,
    route: r.route,
    model: r.model,
    node: r.node,
    priority: r.priority,
    stream: r.stream,
    queueMs: ms(r.queueMs),
    estimateMs: ms(r.estimateMs),
    ttftMs: ms(r.ttftMs),
    serviceMs: ms(r.serviceMs),
    durationMs: ms(r.durationMs),
    outcome: r.outcome,
    status: r.status,
    retries: r.retries,
    evalCount: r.evalCount,
    errorCode: r.errorCode,
    error: r.errorMessage,
  };
  for (const k of Object.keys(fields)) if (fields[k] === undefined || fields[k] === '') delete fields[k];
  return fields;
}

/** One `request` line per request at info level (JSON with LOG_FORMAT=json or NODE_ENV=production, like every log line; LOG_LEVEL=warn silences it). */
export function logRequest(log: Logger, r: RequestRecord): void {
  log.info('request', requestLogFields(r));
}
