import { remainingTokens } from '../../src/fleet/ledger.repository';
import { normalizeModelName } from '../../src/scheduler/model-name';
import { estimatePromptTokens, expectedOutputTokens, learnPromptCorrection } from '../../src/scheduler/estimate-request';
import { ewma, foldObservation, observationFromFinalChunk } from '../../src/scheduler/learn-rates';
import type { FleetSnapshot, ModelRates, NodeSnapshot, RankedNode, Strategy } from '../../src/scheduler/scheduler.types';
import { benchWeights, type BenchNode } from './fleets';
import { mulberry32 } from './prng';
import type { TraceRequest } from './trace';

/**
 * An offline model of the gateway in front of a simulated fleet, for exploring scheduler settings
 * in seconds instead of minutes. It mirrors, step by step:
 * - the simulator's timing (slots, shared model loads, prefill, decode slowed by every stream holding a slot);
 * - Herd's queue: the fast path (tryNow: nobody waits and the best node is free), the FIFO queue, the pump
 *   (takes a job only while free slots > placements under way), placements that wait for a busy best node
 *   and rank again when a slot frees or after the fallback wake;
 * - the lease ledger (backlog = remainingTokens over live leases), learning (foldObservation, the output
 *   mean and the prompt correction), and residency seen only through health polls.
 * It runs in the same units the real bench gives Herd (real milliseconds at the bench's timeScale), so the
 * absolute priors behave as they do there. It is a model, not the gateway: the real bench decides.
 */

export interface HerdModelOptions {
  strategy: Strategy;
  timeScale: number;
  /** Real ms between the residency refreshes (HERD_HEALTH_INTERVAL_MS). */
  healthIntervalMs: number;
  /** Real ms a waiting placement sleeps when nothing wakes it (the dispatcher's FALLBACK_WAKE_MS). */
  fallbackWakeMs?: number;
  /** Real ms from a reservation to the node starting the request (handoff, HTTP). Default 2. */
  startDelayMs?: number;
  /** Real ms from the node's answer to the client having it and the lease being released. Default 1. */
  finishDelayMs?: number;
  /** Extra random delay before each start, uniform in [0, jitterMs) real ms (seeded): the timing noise of a real run. */
  jitterMs?: number;
  jitterSeed?: number;
  /** EWMA weight of the per-model output-length mean (learning.service.ts uses 0.2). */
  outputMeanAlpha?: number;
  /** Time step in real ms. Default 0.25. */
  stepMs?: number;
  /**
   * 'herd': the pump takes a job only while free slots exceed placements under way (today's behaviour).
   * 'no-hol': placements waiting for a busy node do not hold back jobs that a free node can take.
   */
  pump?: 'herd' | 'no-hol';
  /** Calibration only: give the scheduler every request's true output length, as if num_predict were exact. */
  oracleLengths?: boolean;
  /**
   * How the ledger counts a running request's remaining tokens: 'ledger' = remainingTokens (today),
   * 'memoryless' = unknown-length requests keep their expected output until done (known ones count down),
   * 'oracle' = the true remaining tokens (calibration only).
   */
  backlog?: 'ledger' | 'memoryless' | 'oracle';
  /** Passes the number of queued jobs to the strategy as FleetSnapshot.queued (what the dispatcher could pass). */
  exposeQueue?: boolean;
}

export interface ModelOutcome {
  id: string;
  node: string;
  /** Simulated ms. */
  latencyMs: number;
  estimateMs: number;
  /** Simulated ms from arrival to the reservation of a slot. */
  queueMs: number;
  cold: boolean;
}

interface Ticket {
  id: string;
  model: string;
  prompt: string;
  numPredict?: number;
  promptTokens: number;
  outputTokens: number;
  outputTokensKnown: boolean;
  arrivedMs: number;
  trueOutput: number;
  truePrompt: number;
}

interface Lease {
  id: string;
  known: boolean;
  promptTokens: number;
  tokens: number;
  startedAt: number;
  estimateMs: number;
}

interface Stream {
  ticket: Ticket;
  phase: 'delay' | 'load' | 'prefill' | 'decode' | 'finishing';
  phaseEndsMs: number;
  remaining: number;
  loadMs: number;
  prefillMs: number;
  decodeStartMs: number;
  streamsAtPlacement: number;
  estimateMs: number;
  reservedMs: number;
  cold: boolean;
}

class ModelNodeState {
  streams: Stream[] = [];
  leases: Lease[] = [];
  resident: Set<string>;
  loadingUntil = new Map<string, number>();
  residentView: string[];

  constructor(readonly spec: BenchNode) {
    this.resident = new Set(spec.resident);
    this.residentView = [...spec.resident];
  }

  /** Streams holding a slot on the simulated node (after the handoff delay). */
  active(): number {
    return this.streams.filter((s) => s.phase !== 'delay' && s.phase !== 'finishing').length;
  }
}

/** Replays `warmup` then `trace` through the model; returns the outcomes of `trace` only (simulated ms). */
export function runHerdModel(nodes: BenchNode[], trace: TraceRequest[], promptTokensOf: (p: string) => number, opts: HerdModelOptions, warmup: TraceRequest[] = []): ModelOutcome[] {
  const ts = opts.timeScale;
  const step = opts.stepMs ?? 0.25;
  const fallback = opts.fallbackWakeMs ?? 250;
  const startDelay = opts.startDelayMs ?? 2;
  const finishDelay = opts.finishDelayMs ?? 1;
  const pump = opts.pump ?? 'herd';
  const state = nodes.map((n) => new ModelNodeState(n));
  const weights = benchWeights(nodes);
  const rates = new Map<string, ModelRates>();
  const stats = new Map<string, { meanOutputTokens?: number; promptCorrection?: number }>();
  const rng = mulberry32(7);
  const jitter = mulberry32(opts.jitterSeed ?? 1);
  let sequence = 0;

  const snapshot = (model: string): FleetSnapshot => ({
    ...(opts.exposeQueue ? { queued: queue.length } : {}),
    nodes: state
      .filter((s) => s.spec.models.includes(model))
      .map(
        (s): NodeSnapshot => ({
          name: s.spec.name,
          slots: s.spec.slots,
          inFlight: s.leases.length,
          weight: weights[state.indexOf(s)],
          healthy: true,
          draining: false,
          models: s.spec.models.map((m) => ({ name: m })),
          resident: s.residentView,
          backlogTokens: s.leases.reduce((sum, l) => sum + leaseRemaining(s, l), 0),
          rates: Object.fromEntries(s.spec.models.filter((m) => rates.has(`${s.spec.name}|${m}`)).map((m) => [m, rates.get(`${s.spec.name}|${m}`)!])),
        }),
      ),
  });

  const rank = (t: Ticket): RankedNode[] =>
    opts.strategy.rank(
      { model: t.model, promptTokens: t.promptTokens, outputTokens: t.outputTokens, outputTokensKnown: t.outputTokensKnown },
      snapshot(t.model),
      { now, rng, sequence: sequence++ },
    );

  const leaseRemaining = (n: ModelNodeState, l: Lease): number => {
    const mode = opts.backlog ?? 'ledger';
    if (mode === 'ledger' || (mode === 'memoryless' && l.known)) return remainingTokens(`${l.tokens}:${l.startedAt}:${l.estimateMs}`, now);
    if (mode === 'memoryless') {
      const f = Math.min(1, (now - l.startedAt) / Math.max(1, l.estimateMs));
      return l.promptTokens * (1 - f) + (l.tokens - l.promptTokens);
    }
    const s = n.streams.find((x) => x.ticket.id === l.id);
    return s ? Math.max(0, s.remaining) : 0;
  };

  const nodeOf = (name: string): ModelNodeState => state.find((s) => s.spec.name === name)!;

  const reserve = (t: Ticket, best: RankedNode): void => {
    const n = nodeOf(best.node);
    const streams = Math.min(n.spec.slots, n.leases.length + 1);
    n.leases.push({ id: t.id, known: t.outputTokensKnown, promptTokens: t.promptTokens, tokens: Math.round(t.promptTokens + t.outputTokens), startedAt: Math.round(now), estimateMs: Math.round(best.estimateMs) });
    n.streams.push({ ticket: t, phase: 'delay', phaseEndsMs: now + startDelay + (opts.jitterMs ?? 0) * jitter(), remaining: t.trueOutput, loadMs: 0, prefillMs: 0, decodeStartMs: 0, streamsAtPlacement: streams, estimateMs: best.estimateMs, reservedMs: now, cold: false });
  };

  let now = 0;
  const queue: Ticket[] = [];
  const placing: Ticket[] = [];
  const outcomes = new Map<string, ModelOutcome>();
  const measured = new Set(trace.map((r) => r.id));
  let freed = false;
  let nextWake = 0;
  let nextPoll = opts.healthIntervalMs;

  const learn = (nodeName: string, s: Stream): void => {
    const t = s.ticket;
    const key = `${nodeName}|${t.model}`;
    const chunk = {
      prompt_eval_count: t.truePrompt,
      prompt_eval_duration: Math.max(1, Math.round(s.prefillMs * 1e6)),
      eval_count: t.trueOutput,
      eval_duration: Math.max(1, Math.round((now - s.decodeStartMs) * 1e6)),
      load_duration: Math.round(s.loadMs * 1e6),
    };
    rates.set(key, foldObservation(rates.get(key), observationFromFinalChunk(chunk, s.streamsAtPlacement)));
    const prev = stats.get(t.model) ?? {};
    const next = { ...prev };
    if (t.numPredict === undefined) next.meanOutputTokens = ewma(prev.meanOutputTokens, t.trueOutput, opts.outputMeanAlpha ?? 0.2);
    next.promptCorrection = learnPromptCorrection(prev.promptCorrection, estimatePromptTokens(t.prompt), t.truePrompt);
    stats.set(t.model, next);
  };

  // The measured trace starts once the warm-up has drained: its arrivals are shifted after that point.
  let arrivals = warmup.map((r) => ({ ...r, atReal: r.atMs * ts }));
  let phase: 'warmup' | 'measure' = warmup.length ? 'warmup' : 'measure';
  if (phase === 'measure') arrivals = trace.map((r) => ({ ...r, atReal: r.atMs * ts }));
  let nextArrival = 0;
  let phaseStart = 0;

  const busy = (): boolean => queue.length > 0 || placing.length > 0 || state.some((s) => s.streams.length > 0);
  const guard = 1e7;
  for (let i = 0; i < guard; i++) {
    // Phase switch: warm-up drained -> reset residency and start the measured trace.
    if (nextArrival >= arrivals.length && !busy()) {
      if (phase === 'measure') break;
      phase = 'measure';
      for (const s of state) {
        s.resident = new Set(s.spec.resident);
        s.residentView = [...s.spec.resident];
        s.loadingUntil.clear();
      }
      phaseStart = now;
      arrivals = trace.map((r) => ({ ...r, atReal: phaseStart + r.atMs * ts }));
      nextArrival = 0;
    }
    now += step;

    // Nodes progress.
    for (const n of state) {
      const active = n.active();
      const rate = n.spec.decodeTps / ts / 1000 / (1 + n.spec.slowdown * (Math.max(1, active) - 1));
      for (const s of [...n.streams]) {
        if (s.phase === 'decode') s.remaining -= rate * step;
      }
      for (let changed = true; changed; ) {
        changed = false;
        for (const s of [...n.streams]) {
          const m = s.ticket.model;
          if (s.phase === 'delay' && s.phaseEndsMs <= now) {
            if (n.resident.has(m)) {
              s.phase = 'prefill';
              s.prefillMs = (s.ticket.truePrompt / n.spec.prefillTps) * 1000 * ts;
              s.phaseEndsMs = now + s.prefillMs;
            } else {
              if (!n.loadingUntil.has(m)) n.loadingUntil.set(m, now + n.spec.loadMs * ts);
              s.phase = 'load';
              s.cold = true;
              s.phaseEndsMs = n.loadingUntil.get(m)!;
              s.loadMs = s.phaseEndsMs - now;
            }
            changed = true;
          } else if (s.phase === 'load' && s.phaseEndsMs <= now) {
            n.resident.add(m);
            n.loadingUntil.delete(m);
            s.phase = 'prefill';
            s.prefillMs = (s.ticket.truePrompt / n.spec.prefillTps) * 1000 * ts;
            s.phaseEndsMs = now + s.prefillMs;
            changed = true;
          } else if (s.phase === 'prefill' && s.phaseEndsMs <= now) {
            s.phase = 'decode';
            s.decodeStartMs = now;
            changed = true;
          } else if (s.phase === 'decode' && s.remaining <= 1e-9) {
            s.phase = 'finishing';
            s.phaseEndsMs = now + finishDelay;
            learn(n.spec.name, s);
            changed = true;
          } else if (s.phase === 'finishing' && s.phaseEndsMs <= now) {
            n.streams = n.streams.filter((x) => x !== s);
            n.leases = n.leases.filter((l) => l.id !== s.ticket.id);
            freed = true;
            if (measured.has(s.ticket.id) && phase === 'measure') {
              outcomes.set(s.ticket.id, { id: s.ticket.id, node: n.spec.name, latencyMs: (now - s.ticket.arrivedMs) / ts, estimateMs: s.estimateMs / ts, queueMs: (s.reservedMs - s.ticket.arrivedMs) / ts, cold: s.cold });
            }
            changed = true;
          }
        }
      }
    }

    if (now >= nextPoll) {
      nextPoll += opts.healthIntervalMs;
      for (const n of state) n.residentView = [...n.resident];
      freed = true; // a fleet refresh wakes the waiting placements
    }

    // Arrivals: the fast path, else the queue.
    while (nextArrival < arrivals.length && arrivals[nextArrival].atReal <= now) {
      const r = arrivals[nextArrival++];
      const model = normalizeModelName(r.model);
      const s = stats.get(model);
      const t: Ticket = {
        id: r.id,
        model,
        prompt: r.prompt,
        numPredict: r.numPredict,
        promptTokens: estimatePromptTokens(r.prompt, s?.promptCorrection),
        outputTokens: opts.oracleLengths ? Math.max(1, r.outputTokens) : expectedOutputTokens(r.numPredict, s?.meanOutputTokens),
        outputTokensKnown: opts.oracleLengths ? true : r.numPredict !== undefined,
        arrivedMs: now,
        trueOutput: r.outputTokens,
        truePrompt: promptTokensOf(r.prompt),
      };
      if (queue.length === 0 && placing.length === 0) {
        const best = rank(t)[0];
        if (best?.free) {
          reserve(t, best);
          continue;
        }
      }
      queue.push(t);
    }

    // Waiting placements look again when a slot freed (or the fleet refreshed), or at the fallback wake.
    if (freed || now >= nextWake) {
      freed = false;
      nextWake = now + fallback;
      for (const t of [...placing]) {
        const best = rank(t)[0];
        if (best?.free) {
          reserve(t, best);
          placing.splice(placing.indexOf(t), 1);
        }
      }
    }

    // The pump.
    for (;;) {
      if (queue.length === 0) break;
      const free = state.reduce((sum, n) => sum + Math.max(0, n.spec.slots - n.leases.length), 0);
      const blocking = pump === 'herd' ? placing.length : placing.filter((t) => rank(t)[0]?.free).length;
      if (!(free > blocking)) break;
      const t = queue.shift()!;
      const best = rank(t)[0];
      if (best?.free) reserve(t, best);
      else placing.push(t);
    }
  }
  return trace.map((r) => outcomes.get(r.id) ?? { id: r.id, node: '', latencyMs: NaN, estimateMs: NaN, queueMs: NaN, cold: false });
}
