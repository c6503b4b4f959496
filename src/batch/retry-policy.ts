/**
 * What a runner does with a line or job whose call Herd itself could not complete (the error never came from a
 * node's answer): try again later, or give up and record the error. Pure: the caller passes the attempts so far
 * and a random number for the jitter.
 */

/** Attempts (failed calls, or runners that died holding the work) before the work is given up. */
export const MAX_TRIES = 5;

export type RetryDecision =
  /**
   * Back to the queue; `counts`: whether this was a failed attempt (a full batch lane or a stopping replica is not);
   * `stopClaiming`: this replica is shutting down and takes no more work (others take this piece at once).
   */
  | { kind: 'later'; delayMs: number; counts: boolean; stopClaiming?: boolean }
  | { kind: 'give-up' };

/** Herd errors that may pass: the fleet, Redis or a node may be back in a moment. */
const TRANSIENT = new Set([
  'HERD_NO_NODE_FOR_MODEL',
  'HERD_QUEUE_FULL',
  'HERD_QUEUE_TIMEOUT',
  'HERD_REDIS_UNAVAILABLE',
  'HERD_UPSTREAM_UNREACHABLE',
  'HERD_UPSTREAM_TIMEOUT',
  'HERD_UPSTREAM_RESET',
  'HERD_UPSTREAM_ERROR',
  'HERD_MODEL_GONE',
  'HERD_RATE_LIMITED',
  'HERD_TOKEN_LIMITED',
  'HERD_INTERNAL',
]);

/**
 * States of the fleet, not of the work: no node up for the model, the queue full, Redis away. Work that may wait
 * (a batch line: its batch's completion window bounds it) waits them out without counting attempts.
 */
const NOT_NOW = new Set(['HERD_NO_NODE_FOR_MODEL', 'HERD_QUEUE_FULL', 'HERD_REDIS_UNAVAILABLE']);

/** 50-200 ms: a slot may free any moment; the jitter keeps replicas from asking in step. */
export function slotWaitMs(rng: number): number {
  return 50 + Math.floor(rng * 150);
}

/** Exponential backoff from 500 ms, at most 10 s, with jitter (half to full). */
export function backoffMs(tries: number, rng: number): number {
  const base = Math.min(10_000, 500 * 2 ** Math.max(0, tries));
  return Math.floor(base * (0.5 + rng / 2));
}

/**
 * `tries`: failed attempts before this one. `patient`: the work may wait out a state of the fleet (NOT_NOW) for as
 * long as it lasts, looking again every 1-2 s (batch lines; an async job has no window, so its attempts count).
 */
export function afterHerdError(err: { status: number; code: string }, tries: number, rng: number, patient = false): RetryDecision {
  if (err.code === 'HERD_BATCH_LANE_FULL') return { kind: 'later', delayMs: slotWaitMs(rng), counts: false };
  if (err.code === 'HERD_SHUTTING_DOWN') return { kind: 'later', delayMs: 0, counts: false, stopClaiming: true };
  if (patient && NOT_NOW.has(err.code)) return { kind: 'later', delayMs: backoffMs(1, rng), counts: false };
  const transient = TRANSIENT.has(err.code) || err.status >= 500;
  if (!transient || tries + 1 >= MAX_TRIES) return { kind: 'give-up' };
  return { kind: 'later', delayMs: backoffMs(tries, rng), counts: true };
}
