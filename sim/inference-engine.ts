import { msToNs, nowMs, sleep } from './clock';
import { busyError } from './http-errors';
import type { ModelEntry } from './model-catalog';
import type { ModelStore } from './model-store';
import type { RequestContext } from './request-context';
import type { SlotPool } from './slot-pool';
import { TokenSource } from './token-text';

export interface EngineHost {
  readonly slots: SlotPool;
  readonly store: ModelStore;
  readonly speed: { prefillTps: number; decodeTps: number; parallelSlowdown: number };
  /** timeScale multiplied by the factor of a 'slow' fault; read afresh for every delay. */
  delayFactor(): number;
}

export interface GenerationSpec {
  entry: ModelEntry;
  promptTokens: number;
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
  promptTokens: number;
  doneReason: 'stop' | 'length';
}

/** Receives tokens as they are due (several at once when the loop runs behind); false stops generation. */
export type TokenSink = (tokens: string[]) => boolean;

/** Most tokens handed to a sink at once before yielding to the event loop. */
const MAX_BATCH = 4096;

/**
 * Timing model of one node:
 *   wait for a slot (FIFO) -> load the model if not resident (shared between requests) -> prefill
 *   promptTokens / prefillTps -> one token every 1 / perStreamRate, where
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
    rc.entry.promptTokens = spec.promptTokens;
    return this.withSlotAndModel(rc, spec.entry, spec.keepAliveMs, async (loadNs) => {
      const promptEvalNs = await this.prefill(spec.promptTokens, rc.signal);
      const decodeStart = performance.now();
      const emitted = await this.decode(rc, spec, sink);
      if (emitted === null) return false;
      finish({
        loadNs,
        promptEvalNs,
        evalNs: msToNs(performance.now() - decodeStart),
        evalCount: emitted,
        promptTokens: spec.promptTokens,
        doneReason: spec.doneReason,
      });
      return true;
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
      const promptEvalNs = await this.prefill(promptTokens, rc.signal);
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

  private async prefill(promptTokens: number, signal: AbortSignal): Promise<number> {
    const start = performance.now();
    await sleep(((promptTokens * 1000) / this.host.speed.prefillTps) * this.host.delayFactor(), signal);
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
