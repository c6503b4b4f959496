import { normalizeModelName } from '../../src/scheduler/model-name';
import { mean, percentile } from './stats';
import type { TraceRequest } from './trace';

/**
 * A reference scheduler that knows every request's true output length, run as a discrete-event
 * simulation with the simulator's speed model:
 * - a node runs `slots` requests at once, the rest wait on it in FIFO order;
 * - a request whose model is not resident waits for a load of `loadMs` (one shared load per model;
 *   nothing is ever evicted), then prefills at `prefillTps`, then decodes;
 * - each decoding stream runs at decodeTps / (1 + slowdown * (active - 1)), where `active` counts every
 *   request holding a slot (loading, prefilling or decoding), like the simulator's activeAtStart.
 * Each request is placed when it arrives, on the node where it would finish first given the true
 * remaining work of everything already placed there (future arrivals unknown; ties go to the
 * earlier node in the fleet). It may be queued on a busy node when that finishes sooner.
 * Latencies are the finish times the full simulation produces, so later arrivals that slow a
 * request down are counted.
 */

export interface ClairvoyantNode {
  name: string;
  slots: number;
  decodeTps: number;
  prefillTps: number;
  slowdown: number;
  loadMs: number;
  models: string[];
  resident: string[];
}

export interface ClairvoyantRequest {
  id: string;
  atMs: number;
  model: string;
  promptTokens: number;
  outputTokens: number;
}

export interface Placement {
  id: string;
  node: string;
  atMs: number;
  finishMs: number;
  latencyMs: number;
  /** The request had to wait for its model to load on that node (its own load or a shared one). */
  cold: boolean;
}

export interface ClairvoyantResult {
  /** In the order of the input requests. */
  placements: Placement[];
  latencies: number[];
  /** From the first arrival to the last completion. */
  makespanMs: number;
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** A decode remainder below this many tokens is float noise: the stream is done. */
const DONE_TOKENS = 1e-6;

interface Stream {
  id: string;
  model: string;
  phase: 'load' | 'prefill' | 'decode';
  phaseEndsMs: number;
  promptTokens: number;
  remaining: number;
}

class NodeState {
  private timeMs = 0;
  private streams: Stream[] = [];
  private queue: ClairvoyantRequest[] = [];
  private resident: Set<string>;
  private loadingUntil = new Map<string, number>();
  readonly finished = new Map<string, number>();
  /** Requests that started while their model was not resident. */
  readonly cold = new Set<string>();

  constructor(readonly spec: ClairvoyantNode) {
    this.resident = new Set(spec.resident.map(normalizeModelName));
  }

  hasModel(model: string): boolean {
    return this.spec.models.some((m) => normalizeModelName(m) === model);
  }

  /** A copy to try a placement on; it does not carry the finished requests. */
  clone(): NodeState {
    const copy = new NodeState(this.spec);
    copy.timeMs = this.timeMs;
    copy.streams = this.streams.map((s) => ({ ...s }));
    copy.queue = [...this.queue];
    copy.resident = new Set(this.resident);
    copy.loadingUntil = new Map(this.loadingUntil);
    return copy;
  }

  /** Takes the request at the node's current time: a slot when one is free, else the queue. */
  admit(request: ClairvoyantRequest): void {
    this.queue.push(request);
    this.settle();
  }

  advanceTo(t: number): void {
    this.settle();
    for (let next = this.nextEventMs(); next <= t; next = this.nextEventMs()) {
      this.progress(next);
      this.settle();
    }
    this.progress(Math.max(t, this.timeMs));
  }

  runUntil(done: () => boolean): void {
    this.settle();
    while (!done()) {
      const next = this.nextEventMs();
      if (!Number.isFinite(next)) throw new Error(`clairvoyant: node ${this.spec.name} stalled`);
      this.progress(next);
      this.settle();
    }
  }

  private perStreamTps(): number {
    return this.spec.decodeTps / (1 + this.spec.slowdown * (this.streams.length - 1));
  }

  private nextEventMs(): number {
    const rate = this.perStreamTps();
    let next = Infinity;
    for (const s of this.streams) {
      next = Math.min(next, s.phase === 'decode' ? this.timeMs + (s.remaining / rate) * 1000 : s.phaseEndsMs);
    }
    return next;
  }

  private progress(toMs: number): void {
    const dtMs = toMs - this.timeMs;
    if (dtMs > 0) {
      const tokens = (this.perStreamTps() * dtMs) / 1000;
      for (const s of this.streams) if (s.phase === 'decode') s.remaining -= tokens;
    }
    this.timeMs = toMs;
  }

  private prefillMs(promptTokens: number): number {
    return (promptTokens / this.spec.prefillTps) * 1000;
  }

  private start(r: ClairvoyantRequest): void {
    const model = normalizeModelName(r.model);
    const stream: Stream = { id: r.id, model, phase: 'prefill', phaseEndsMs: 0, promptTokens: r.promptTokens, remaining: r.outputTokens };
    if (this.resident.has(model)) {
      stream.phaseEndsMs = this.timeMs + this.prefillMs(r.promptTokens);
    } else {
      if (!this.loadingUntil.has(model)) this.loadingUntil.set(model, this.timeMs + this.spec.loadMs);
      stream.phase = 'load';
      stream.phaseEndsMs = this.loadingUntil.get(model)!;
      this.cold.add(r.id);
    }
    this.streams.push(stream);
  }

  /** Applies everything due at the current time, until nothing changes. */
  private settle(): void {
    for (let changed = true; changed; ) {
      changed = false;
      for (const s of [...this.streams]) {
        if (s.phase === 'load' && s.phaseEndsMs <= this.timeMs) {
          this.resident.add(s.model);
          this.loadingUntil.delete(s.model);
          s.phase = 'prefill';
          s.phaseEndsMs = this.timeMs + this.prefillMs(s.promptTokens);
          changed = true;
        }
        if (s.phase === 'prefill' && s.phaseEndsMs <= this.timeMs) {
          s.phase = 'decode';
          changed = true;
        }
        if (s.phase === 'decode' && s.remaining <= DONE_TOKENS) {
          this.streams = this.streams.filter((x) => x !== s);
          this.finished.set(s.id, this.timeMs);
          changed = true;
        }
      }
      while (this.streams.length < this.spec.slots && this.queue.length > 0) {
        this.start(this.queue.shift()!);
        changed = true;
      }
    }
  }
}

export function simulateClairvoyant(fleet: ClairvoyantNode[], requests: ClairvoyantRequest[]): ClairvoyantResult {
  if (new Set(requests.map((r) => r.id)).size !== requests.length) throw new Error('clairvoyant: request ids must be unique');
  const nodes = fleet.map((n) => new NodeState(n));
  const nodeOf = new Map<string, NodeState>();
  const arrivalOrder = requests.map((_, i) => i).sort((a, b) => requests[a].atMs - requests[b].atMs || a - b);

  for (const i of arrivalOrder) {
    const request = requests[i];
    const model = normalizeModelName(request.model);
    for (const n of nodes) n.advanceTo(request.atMs);
    let best: NodeState | undefined;
    let bestFinish = Infinity;
    for (const n of nodes) {
      if (!n.hasModel(model)) continue;
      const trial = n.clone();
      trial.admit(request);
      trial.runUntil(() => trial.finished.has(request.id));
      const finish = trial.finished.get(request.id)!;
      if (finish < bestFinish) {
        best = n;
        bestFinish = finish;
      }
    }
    if (!best) throw new Error(`clairvoyant: no node has model ${request.model} (request ${request.id})`);
    best.admit(request);
    nodeOf.set(request.id, best);
  }

  for (const n of nodes) {
    const placed = [...nodeOf.values()].filter((x) => x === n).length;
    n.runUntil(() => n.finished.size === placed);
  }

  const placements = requests.map((r) => {
    const node = nodeOf.get(r.id)!;
    const finishMs = node.finished.get(r.id)!;
    return { id: r.id, node: node.spec.name, atMs: r.atMs, finishMs, latencyMs: finishMs - r.atMs, cold: node.cold.has(r.id) };
  });
  const firstArrival = requests.reduce((m, r) => Math.min(m, r.atMs), Infinity);
  const lastFinish = placements.reduce((m, p) => Math.max(m, p.finishMs), -Infinity);
  return {
    placements,
    latencies: placements.map((p) => p.latencyMs),
    makespanMs: requests.length ? lastFinish - firstArrival : 0,
  };
}

/** Trace requests as the clairvoyant sees them; pass the simulator's token counter for the prompt. */
export function toClairvoyantRequests(trace: TraceRequest[], promptTokensOf: (prompt: string) => number): ClairvoyantRequest[] {
  return trace.map((r) => ({ id: r.id, atMs: r.atMs, model: r.model, promptTokens: promptTokensOf(r.prompt), outputTokens: r.outputTokens }));
}

/** Nearest-rank percentiles, the same definition as the bench tables (stats.ts). */
export function summarize(latencies: number[]): LatencySummary {
  return {
    count: latencies.length,
    mean: mean(latencies),
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies.length ? latencies.reduce((m, x) => Math.max(m, x), -Infinity) : NaN,
  };
}
