import { HerdError } from '../common/herd-error';
import { BATCH_ENDPOINTS } from './batch-input';
import { isId } from './batch-ids';

/** What POST /v1/batches asks for, checked. */
export interface BatchParams {
  inputFileId: string;
  endpoint: string;
  /** As given ("24h"), echoed back. */
  completionWindow: string;
  /** The window in seconds: the batch expires this long after it was created. */
  windowSeconds: number;
  metadata: Record<string, string> | null;
}

const MAX_WINDOW_SECONDS = 24 * 3600;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };
const METADATA_MAX_PAIRS = 16;
const METADATA_MAX_KEY = 64;
const METADATA_MAX_VALUE = 512;

/**
 * `completion_window`: OpenAI's "24h", or (a Herd extension, for operators and tests) any shorter whole number of
 * seconds, minutes or hours such as "30s" or "2h". Undefined for anything else.
 */
export function windowSeconds(window: unknown): number | undefined {
  if (typeof window !== 'string') return undefined;
  const m = /^([1-9][0-9]{0,5})([smh])$/.exec(window);
  if (!m) return undefined;
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2]];
  return seconds <= MAX_WINDOW_SECONDS ? seconds : undefined;
}

/** Reads the body of POST /v1/batches; every problem is a HerdError 400 naming the field. */
export function readBatchParams(body: unknown): BatchParams {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw HerdError.badRequest('request body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (typeof b.input_file_id !== 'string' || b.input_file_id === '') throw HerdError.badRequest('input_file_id is required');
  if (!isId('file', b.input_file_id)) throw new HerdError(404, 'HERD_NOT_FOUND', 'input_file_id: no such file');
  if (typeof b.endpoint !== 'string' || !BATCH_ENDPOINTS.includes(b.endpoint)) throw HerdError.badRequest(`endpoint must be one of ${BATCH_ENDPOINTS.join(', ')}`);
  const seconds = windowSeconds(b.completion_window);
  if (seconds === undefined) throw HerdError.badRequest('completion_window must be "24h" (or a shorter window such as "30s", "10m", "2h")');
  return { inputFileId: b.input_file_id, endpoint: b.endpoint, completionWindow: b.completion_window as string, windowSeconds: seconds, metadata: readMetadata(b.metadata) };
}

function readMetadata(value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw HerdError.badRequest('metadata must be an object of string values');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > METADATA_MAX_PAIRS) throw HerdError.badRequest(`metadata may hold at most ${METADATA_MAX_PAIRS} pairs`);
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > METADATA_MAX_KEY) throw HerdError.badRequest(`metadata keys must be 1 to ${METADATA_MAX_KEY} characters`);
    if (typeof v !== 'string' || v.length > METADATA_MAX_VALUE) throw HerdError.badRequest(`metadata values must be strings of at most ${METADATA_MAX_VALUE} characters`);
  }
  // fromEntries defines own properties: a `__proto__` key stays a plain key.
  return Object.fromEntries(entries) as Record<string, string>;
}
