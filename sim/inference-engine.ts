import { msToNs, nowMs, sleep } from './clock';
import { busyError } from './http-errors';
import type { ModelEntry } from './model-catalog';
import type { ModelStore } from './model-store';
import type { PromptCache } from './prompt-cache';
import type { PromptTokens } from './prompt-tokens';
import type { RequestContext } from './request-context';
import type { SlotPool } from './slot-pool';
import { TokenSource } from './token-text';

export interface EngineHost {
  readonly slots: SlotPool;
  readonly store: ModelStore;
  readonly cache: PromptCache;
  readonly speed: { prefillTps: number; decodeTps: number; parallelSlowdown: number; promptCacheRestoreTps: number };
  /** timeScale multiplied by the factor of a 'slow' fault; read afresh for every delay. */
  delayFactor(): number;
}

export interface GenerationSpec {
  entry: ModelEntry;
  /** The prompt's token ids (their count is prompt_eval_count) and how its answer is stored in the slot. */
  prompt: PromptTokens;
  outputTokens: number;
  doneReason: 'stop' | 'length';
  tokenSeed: number;
  keepAliveMs: number;
}

/** Ollama's timing fields, durations in nanoseconds of real elapsed time. */
export interface GenerationResult {
  loadNs: number;
  promptEvalNs: number;
  evalNs: number;
  evalCount: number;
  /** Every prompt token, cached or not: Ollama's prompt_eval_count. */
  promptTokens: number;
  /** Prompt tokens served from the prompt cache (not evaluated). */
  cachedTokens: number;
  doneReason: 'stop' | 'length';
}

/** Receives tokens as they are due (several at once when the loop runs behind); false stops generation. */
export type TokenSink = (tokens: string[]) => boolean;

/** Most tokens handed to a sink at once before yielding to the event loop. */
const MAX_BATCH = 4096;

/**
 * Timing model of one node:
 *   wait for a slot (FIFO) -> load the model if not resident (shared between requests) -> prefill of the prompt tokens
 *   the prompt cache does not hold, evaluatedTokens / prefillTps (plus copiedTokens / promptCacheRestoreTps when an
 *   entry is restored from host RAM) -> one token every 1 / perStreamRate, where
 *   perStreamRate = decodeTps / (1 + parallelSlowdown * (active - 1)) is re-evaluated for every token.
 * The n-th token is due n intervals after prefill ends, so eval_count / eval_duration is the observed rate.
 * Deadlines are absolute, so timer granularity never accumulates into a slower average.
 */
export class InferenceEngine {
  constructor(private readonly host: EngineHost) {}

  /** Loads (or refreshes) a model without taking a slot: the empty-prompt "load" request. */
  async loadOnly(rc: RequestContext, entry: ModelEntry, keepAliveMs: number): Promise<number> {
    const { store } = this.host;
    rc.entry.startedAt ??= nowMs();
    store.pin(entry.key, keepAliveMs);
    try {
      return await this.load(entry.key, rc.signal);
    } finally {
      store.unpin(entry.key);
    }
  }

  /**
   * Runs a generation. `finish` answers the client while the slot is still held, so a request's end is logged
   * before the next queued request starts. Resolves false when the sink stopped early.
   */
  async generate(
    rc: RequestContext,
    spec: GenerationSpec,
    sink: TokenSink,
    finish: (result: GenerationResult) => void,
  ): Promise<boolean> {
    const ids = spec.prompt.ids;
    rc.entry.promptTokens = ids.length;
    return this.withSlotAndModel(rc, spec.entry, spec.keepAliveMs, async (loadNs) => {
      const { cache } = this.host;
      const lease = cache.acquire(spec.entry.key, ids);
      rc.entry.cachedTokens = lease.cachedTokens;
      const answer: string[] = [];
      let prefilled = false;
      try {
        const promptEvalNs = await this.prefill(lease.evaluatedTokens, lease.copiedTokens, rc.signal);
        cache.prefilled(lease);
        prefilled = true;
        const decodeStart = performance.now();
        const emitted = await this.decode(rc, spec, (tokens) => {
          for (const token of tokens) answer.push(token);
          return sink(tokens);
        });
        if (emitted === null) return false;
        finish({
          loadNs,
          promptEvalNs,
          evalNs: msToNs(performance.now() - decodeStart),
          evalCount: emitted,
          promptTokens: ids.length,
          cachedTokens: lease.cachedTokens,
          doneReason: spec.doneReason,
        });
        return true;
      } finally {
        // the slot keeps the prompt and what was generated of the answer; a prefill cut short keeps the reused part
        cache.release(lease, prefilled ? ids.concat(spec.prompt.answerIds(answer.join(''))) : null);
      }
    });
  }

  /** An embedding request: a slot, the model, and prefill time for all its input tokens; `finish` answers in the slot. */
  async embed(
    rc: RequestContext,
    entry: ModelEntry,
    promptTokens: number,
    keepAliveMs: number,
    finish: (timing: { loadNs: number; promptEvalNs: number }) => void,
  ): Promise<void> {
    rc.entry.promptTokens = promptTokens;
    await this.withSlotAndModel(rc, entry, keepAliveMs, async (loadNs) => {
      const promptEvalNs = await this.prefill(promptTokens, 0, rc.signal);
      finish({ loadNs, promptEvalNs });
    });
  }

  /** Nominal milliseconds until the next token of one stream, given the streams running now. */
  tokenIntervalMs(): number {
    const { decodeTps, parallelSlowdown } = this.host.speed;
    const active = Math.max(1, this.host.slots.active());
    const rate = decodeTps / (1 + parallelSlowdown * (active - 1));
    return (1000 / rate) * this.host.delayFactor();
  }

  private async withSlotAndModel<T>(
    rc: RequestContext,
    entry: ModelEntry,
    keepAliveMs: number,
    work: (loadNs: number) => Promise<T>,
  ): Promise<T> {
    const { slots, store } = this.host;
    const entered = slots.enter(rc.signal);
    if (entered === 'busy') throw busyError();
    if (entered !== 'entered') await entered;
    try {
      rc.entry.startedAt = nowMs();
      rc.entry.activeAtStart = slots.active();
      store.pin(entry.key, keepAliveMs);
      try {
        const loadNs = await this.load(entry.key, rc.signal);
        return await work(loadNs);
      } finally {
        store.unpin(entry.key);
      }
    } finally {
      slots.release();
    }
  }

  /** 0 when the model was resident; otherwise the real time spent waiting for its load. */
  private async load(key: string, signal: AbortSignal): Promise<number> {
    const start = performance.now();
    const waited = await this.host.store.ensureLoaded(key, signal);
    return waited ? msToNs(performance.now() - start) : 0;
  }

  /** Evaluates `evaluatedTokens` after copying `copiedTokens` from host RAM; prompt_eval_duration covers both. */
  private async prefill(evaluatedTokens: number, copiedTokens: number, signal: AbortSignal): Promise<number> {
    const { prefillTps, promptCacheRestoreTps } = this.host.speed;
    const ms = (evaluatedTokens * 1000) / prefillTps + (copiedTokens * 1000) / promptCacheRestoreTps;
    const start = performance.now();
    await sleep(ms * this.host.delayFactor(), signal);
    return msToNs(performance.now() - start);
  }

  /** Emits the tokens on schedule; the number emitted, or null when the sink stopped early. */
  private async decode(rc: RequestContext, spec: GenerationSpec, sink: TokenSink): Promise<number | null> {
    const total = spec.outputTokens;
    const source = new TokenSource(spec.tokenSeed);
    let emitted = 0;
    let due = performance.now() + this.tokenIntervalMs();
    while (emitted < total) {
      let now = performance.now();
      if (due > now) {
        await sleep(due - now, rc.signal);
        now = performance.now();
      }
      const batch: string[] = [];
      while (emitted < total && due <= now && batch.length < MAX_BATCH) {
        batch.push(source.next());
        emitted++;
        if (emitted < total) due += this.tokenIntervalMs();
      }
      if (batch.length === 0) continue; // woke a hair early
      rc.entry.evalCount = emitted;
      if (!sink(batch)) return null;
      if (batch.length === MAX_BATCH) await sleep(0, rc.signal);
    }
    return emitted;
  }
}
