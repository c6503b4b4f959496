import { Injectable } from '@nestjs/common';
import { Listeners } from '../common/listeners';

/** What happened to one request, emitted once when it ends (metrics, logs and the dashboard listen). */
export interface RequestRecord {
  id: string;
  route: string;
  model: string;
  priority: number;
  /** Who the request is charged to; absent when it was refused before its caller was known (e.g. 401). */
  tenant?: string;
  /** The tenant's share weight (from its API key; 1 with keys off). */
  weight?: number;
  /** The API key's id (never the key) with HERD_AUTH=keys: its tokens count against the key's tpm. */
  keyId?: string;
  replica: string;
  stream: boolean;
  /** Node that served the final attempt (absent when the request never reached one). */
  node?: string;
  queueMs?: number;
  /** The scheduler's prediction for the final attempt, from grant to last byte. */
  estimateMs?: number;
  /** Prompt tokens the node was expected to hold in its cache (conversation affinity), when any. */
  cachedTokensExpected?: number;
  /** Prompt tokens the node said it served from its cache (newer Ollama: prompt_eval_cached_count), when it says. */
  cachedTokensReported?: number;
  /** From grant to the first byte written to the client. */
  ttftMs?: number;
  /** From arrival to the end. */
  durationMs: number;
  /** From grant to the end: what estimateMs predicted. */
  serviceMs?: number;
  outcome: 'ok' | 'error' | 'canceled' | 'rejected';
  status: number;
  errorCode?: string;
  errorMessage?: string;
  promptTokens?: number;
  evalCount?: number;
  retries: number;
  endedAt: number;
}

export type RequestListener = (record: RequestRecord) => void;

/** Emitted once per request; a listener's bug never breaks a request or the other listeners. */
@Injectable()
export class RequestEvents {
  private readonly listeners = new Listeners<[RequestRecord]>();

  on(fn: RequestListener): void {
    this.listeners.add(fn);
  }

  emit(record: RequestRecord): void {
    this.listeners.emit(record);
  }
}

/** Errors whose request already produced its record (thrown out of InferenceService.execute). */
const recordedErrors = new WeakSet<object>();

export function markRecorded(err: unknown): void {
  if (typeof err === 'object' && err !== null) recordedErrors.add(err);
}

export function wasRecorded(err: unknown): boolean {
  return typeof err === 'object' && err !== null && recordedErrors.has(err);
}
