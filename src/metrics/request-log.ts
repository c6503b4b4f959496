import type { Logger } from '../common/logger';
import type { RequestRecord } from '../inference/request-events';

const ms = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 10) / 10);

/**
 * The fields of the one log line written per request. Never the prompt or the answer. Fields without a value
 * are left out (a request that never reached a node has no node, queue time or estimate).
 */
export function requestLogFields(r: RequestRecord): Record<string, unknown> {
  // Only fields with a value are added (deleting keys afterwards would leave a slow dictionary-mode object).
  const fields: Record<string, unknown> = {};
  put(fields, 'id', r.id);
  put(fields, 'route', r.route);
  put(fields, 'model', r.model);
  put(fields, 'node', r.node);
  put(fields, 'tenant', r.tenant);
  put(fields, 'priority', r.priority);
  put(fields, 'stream', r.stream);
  put(fields, 'queueMs', ms(r.queueMs));
  put(fields, 'estimateMs', ms(r.estimateMs));
  put(fields, 'promptTokens', r.promptTokens);
  put(fields, 'cachedTokensExpected', r.cachedTokensExpected);
  put(fields, 'cachedTokens', r.cachedTokensReported);
  put(fields, 'ttftMs', ms(r.ttftMs));
  put(fields, 'serviceMs', ms(r.serviceMs));
  put(fields, 'durationMs', ms(r.durationMs));
  put(fields, 'outcome', r.outcome);
  put(fields, 'status', r.status);
  put(fields, 'retries', r.retries);
  put(fields, 'evalCount', r.evalCount);
  put(fields, 'errorCode', r.errorCode);
  put(fields, 'error', r.errorMessage);
  return fields;
}

function put(fields: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined && value !== '') fields[key] = value;
}

/** One `request` line per request at info level (JSON with LOG_FORMAT=json or NODE_ENV=production, like every log line; LOG_LEVEL=warn silences it). */
export function logRequest(log: Logger, r: RequestRecord): void {
  log.info('request', requestLogFields(r));
}
