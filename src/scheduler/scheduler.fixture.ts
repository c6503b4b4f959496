import type { ModelRates, NodeSnapshot, RankContext, RequestEstimate } from './scheduler.types';

/** Small builders for hand-made fleet snapshots in specs. */
export const MODEL = 'llama3:latest';

export function node(name: string, over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    name,
    slots: 1,
    inFlight: 0,
    weight: 1,
    healthy: true,
    draining: false,
    models: [{ name: MODEL }],
    resident: [MODEL],
    backlogTokens: 0,
    rates: {},
    ...over,
  };
}

/** Measured rates: prefill 1000 tok/s, load 3 s, slowdown 0.5 unless overridden. */
export function rates(decodeTps: number, over: Partial<ModelRates> = {}): Record<string, ModelRates> {
  return { [MODEL]: { samples: 10, decodeTps, prefillTps: 1000, loadMs: 3000, slowdown: 0.5, ...over } };
}

export function request(over: Partial<RequestEstimate> = {}): RequestEstimate {
  return { model: MODEL, promptTokens: 100, outputTokens: 100, outputTokensKnown: false, ...over };
}

export function ctx(over: Partial<RankContext> = {}): RankContext {
  return { now: 0, rng: () => 0, sequence: 0, ...over };
}
