import { clampSlowdown, DEFAULT_SLOWDOWN } from './rate-priors';
import type { ModelRates } from './scheduler.types';

/** The timing fields of Ollama's final chunk; durations are in nanoseconds. */
export interface FinalChunkTimings {
  prompt_eval_count?: number;
  /** Prompt tokens served from the prompt cache (newer Ollama only); included in prompt_eval_count. */
  prompt_eval_cached_count?: number;
  prompt_eval_duration?: number;
  eval_count?: number;
  eval_duration?: number;
  load_duration?: number;
}

/** What one finished request says about a (node, model); a field is absent when it carried no usable signal. */
export interface RateObservation {
  /** Streams running on the node when the request started, itself included (>= 1). */
  streams: number;
  prefillTps?: number;
  /** Per-stream decode rate this request saw while `streams` ran at once. */
  decodeTps?: number;
  /** Set only when the model was loaded for this request. */
  loadMs?: number;
  /** load_duration showed a real load (the model was not resident). */
  loaded: boolean;
  promptTokens?: number;
  outputTokens?: number;
}

export const DEFAULT_RATE_ALPHA = 0.3;
/** Fewer tokens than this give a rate dominated by fixed per-call overhead. */
export const MIN_TOKENS_FOR_RATE = 4;
/** Shorter evaluations than this (ns) are cache hits or timer noise, not a rate. */
export const MIN_DURATION_NS = 1_000_000;
/** load_duration at or above this (ms) means the model was loaded; warm requests still report a few ms. */
export const LOAD_THRESHOLD_MS = 200;
/**
 * A shorter load_duration is still a load when it is at least MIN_LOAD_MS and at least LOAD_SHARE_OF_WORK
 * of the time the request then spent evaluating (prompt + output): small models load from the page cache
 * in tens of milliseconds, and a time-scaled simulator makes every load short. A warm model's few
 * milliseconds stay far below a quarter of any real evaluation.
 */
export const MIN_LOAD_MS = 20;
export const LOAD_SHARE_OF_WORK = 0.25;
/** Rates above these are treated as garbage (e.g. a cached prompt counted but barely evaluated). */
export const MAX_PLAUSIBLE_PREFILL_TPS = 100_000;
export const MAX_PLAUSIBLE_DECODE_TPS = 10_000;

const NS_PER_MS = 1e6;
const NS_PER_S = 1e9;

export function ewma(prev: number | undefined, sample: number, alpha: number): number {
  return prev === undefined ? sample : prev + alpha * (sample - prev);
}

function rate(count: number | undefined, durationNs: number | undefined, max: number): number | undefined {
  if (count === undefined || durationNs === undefined) return undefined;
  if (!(count >= MIN_TOKENS_FOR_RATE) || !(durationNs >= MIN_DURATION_NS)) return undefined;
  const tps = count / (durationNs / NS_PER_S);
  return tps <= max ? tps : undefined;
}

function positiveOrZero(x: number | undefined): number {
  return x !== undefined && Number.isFinite(x) && x > 0 ? x : 0;
}

/**
 * A prefill sample this many times the rate learned so far (after PREFILL_OUTLIER_SAMPLES samples) is taken for
 * a prompt the node had cached that Herd did not expect, and not learned from.
 */
export const PREFILL_OUTLIER_FACTOR = 3;
export const PREFILL_OUTLIER_SAMPLES = 3;

/**
 * What a final chunk says about the node's rates. Ollama counts every prompt token in prompt_eval_count, cached or
 * not, but prompt_eval_duration covers only the tokens it evaluated (runner.go NewSequence; llama_server.go). So
 * the prefill rate is learned from the evaluated tokens only: the count minus prompt_eval_cached_count when the
 * node reports it, and not at all when Herd expected a cache hit (`expectedCachedTokens` > 0) without knowing how
 * big it was.
 */
export function observationFromFinalChunk(chunk: FinalChunkTimings, streamsAtStart: number, expectedCachedTokens = 0): RateObservation {
  const loadMs = chunk.load_duration !== undefined && Number.isFinite(chunk.load_duration) ? chunk.load_duration / NS_PER_MS : undefined;
  const workMs = (positiveOrZero(chunk.prompt_eval_duration) + positiveOrZero(chunk.eval_duration)) / NS_PER_MS;
  const loaded = loadMs !== undefined && (loadMs >= LOAD_THRESHOLD_MS || (loadMs >= MIN_LOAD_MS && workMs > 0 && loadMs >= LOAD_SHARE_OF_WORK * workMs));
  const obs: RateObservation = {
    streams: Number.isFinite(streamsAtStart) ? Math.max(1, Math.round(streamsAtStart)) : 1,
    loaded,
  };
  const reportedCached = chunk.prompt_eval_cached_count;
  const evaluated =
    typeof reportedCached === 'number' && reportedCached >= 0 && chunk.prompt_eval_count !== undefined
      ? chunk.prompt_eval_count - reportedCached
      : expectedCachedTokens > 0
        ? undefined
        : chunk.prompt_eval_count;
  const prefillTps = rate(evaluated, chunk.prompt_eval_duration, MAX_PLAUSIBLE_PREFILL_TPS);
  if (prefillTps !== undefined) obs.prefillTps = prefillTps;
  const decodeTps = rate(chunk.eval_count, chunk.eval_duration, MAX_PLAUSIBLE_DECODE_TPS);
  if (decodeTps !== undefined) obs.decodeTps = decodeTps;
  if (loaded) obs.loadMs = loadMs;
  if (chunk.prompt_eval_count !== undefined) obs.promptTokens = chunk.prompt_eval_count;
  if (chunk.eval_count !== undefined) obs.outputTokens = chunk.eval_count;
  return obs;
}

/**
 * Folds one observation into the moving averages. The first few samples are averaged evenly
 * (alpha is at least 1/(n+1)) so a new pair converges fast; after that alpha applies.
 *
 * Slowdown: with D the alone rate learned so far, a stream at s > 1 running at r implies
 * k = (D / r - 1) / (s - 1). That k is folded in (clamped to [0, MAX_SLOWDOWN]) before D is
 * updated from r * (1 + k (s - 1)). While every sample comes from the same parallelism the
 * implied k just reproduces the current one, so k only moves once parallelism varies; mixing
 * s = 1 samples (which pin D) with s > 1 samples (which then pin k) converges to both.
 * An observation with nothing usable returns `prev` unchanged.
 */
export function foldObservation(prev: ModelRates | undefined, obs: RateObservation, alpha = DEFAULT_RATE_ALPHA): ModelRates {
  const useful = obs.prefillTps !== undefined || obs.decodeTps !== undefined || obs.loadMs !== undefined;
  if (!useful) return prev ?? { samples: 0 };
  const samples = prev?.samples ?? 0;
  const a = Math.max(alpha, 1 / (samples + 1));
  const next: ModelRates = { ...prev, samples: samples + 1 };
  if (obs.prefillTps !== undefined && !looksCached(prev, obs.prefillTps)) next.prefillTps = ewma(prev?.prefillTps, obs.prefillTps, a);
  if (obs.loadMs !== undefined) next.loadMs = ewma(prev?.loadMs, obs.loadMs, a);
  if (obs.decodeTps !== undefined) {
    const s = Math.max(1, obs.streams);
    let slowdown = prev?.slowdown;
    if (s > 1 && prev?.decodeTps !== undefined) {
      const implied = clampSlowdown((prev.decodeTps / obs.decodeTps - 1) / (s - 1));
      slowdown = clampSlowdown(ewma(slowdown ?? DEFAULT_SLOWDOWN, implied, alpha));
      next.slowdown = slowdown;
    }
    const alone = obs.decodeTps * (1 + (slowdown ?? DEFAULT_SLOWDOWN) * (s - 1));
    next.decodeTps = ewma(prev?.decodeTps, alone, a);
  }
  return next;
}

/** A prefill sample far faster than the rate learned so far: a prompt the node had cached, not a faster node. */
function looksCached(prev: ModelRates | undefined, prefillTps: number): boolean {
  return prev?.prefillTps !== undefined && prev.samples >= PREFILL_OUTLIER_SAMPLES && prefillTps > PREFILL_OUTLIER_FACTOR * prev.prefillTps;
}
