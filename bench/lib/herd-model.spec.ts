import { createStrategy, EctStrategy } from '../../src/scheduler';
import type { BenchNode } from './fleets';
import { runHerdModel, type HerdModelOptions } from './herd-model';
import type { TraceRequest } from './trace';

const M = 'llama3:latest';

function benchNode(name: string, over: Partial<BenchNode> = {}): BenchNode {
  return { name, slots: 1, decodeTps: 50, prefillTps: 1000, slowdown: 0.3, loadMs: 2000, maxOutputTokens: 1024, models: [M], resident: [M], ...over };
}

function req(id: string, atMs: number, outputTokens: number, over: Partial<TraceRequest> = {}): TraceRequest {
  return { id, atMs, model: M, prompt: 'one two three four five six seven eight nine ten', numPredict: outputTokens, outputTokens, ...over };
}

/** 10 prompt tokens (the simulator's count for the prompt above is 13; any fixed count will do here). */
const promptTokens = (): number => 10;
const opts = (over: Partial<HerdModelOptions> = {}): HerdModelOptions => ({ strategy: createStrategy('least-connections'), timeScale: 0.1, healthIntervalMs: 500, ...over });

describe('runHerdModel', () => {
  it('times one request like the simulator: prefill, decode, plus the gateway delays', () => {
    const [o] = runHerdModel([benchNode('a')], [req('r', 0, 100)], promptTokens, opts());
    // 10 ms prefill + 2000 ms decode + (2 + 1) real ms of gateway = 30 simulated ms, give or take a step.
    expect(o.node).toBe('a');
    expect(o.latencyMs).toBeGreaterThan(2035);
    expect(o.latencyMs).toBeLessThan(2045);
    expect(o.cold).toBe(false);
  });

  it('never runs more than the slots: a one-slot node serves simultaneous requests one after another', () => {
    const out = runHerdModel([benchNode('a')], [req('r1', 0, 50), req('r2', 0, 50), req('r3', 0, 50)], promptTokens, opts());
    const latencies = out.map((o) => o.latencyMs);
    expect(latencies[1] - latencies[0]).toBeGreaterThan(1000);
    expect(latencies[2] - latencies[1]).toBeGreaterThan(1000);
    // The first takes the free slot at once; the others wait in Herd's queue, each for the one before.
    expect(out[0].queueMs).toBeLessThan(50);
    expect(out[1].queueMs).toBeGreaterThan(1000);
    expect(out[2].queueMs - out[1].queueMs).toBeGreaterThan(1000);
  });

  it('slows parallel streams on a node with several slots', () => {
    const [alone] = runHerdModel([benchNode('a', { slots: 2 })], [req('r', 0, 100)], promptTokens, opts());
    const pair = runHerdModel([benchNode('a', { slots: 2 })], [req('r1', 0, 100), req('r2', 0, 100)], promptTokens, opts());
    // Two streams at 50 / 1.3 tok/s: 2.6 s instead of 2 s.
    expect(pair[0].latencyMs - alone.latencyMs).toBeGreaterThan(550);
    expect(pair[0].latencyMs - alone.latencyMs).toBeLessThan(650);
  });

  it('loads a model that is not resident once, and marks the requests that waited for it', () => {
    const node = benchNode('a', { slots: 2, resident: [] });
    const out = runHerdModel([node], [req('r1', 0, 10), req('r2', 0, 10), req('r3', 5000, 10)], promptTokens, opts());
    expect(out.map((o) => o.cold)).toEqual([true, true, false]);
    expect(out[0].latencyMs).toBeGreaterThan(2000);
    expect(out[2].latencyMs).toBeLessThan(1000);
  });

  it('lets ECT learn the faster node during the warm-up', () => {
    const nodes = [benchNode('a-slow', { decodeTps: 10 }), benchNode('b-fast', { decodeTps: 60 })];
    const warm = Array.from({ length: 6 }, (_, i) => req(`w${i}`, i * 20_000, 40));
    const out = runHerdModel(nodes, [req('r', 0, 40)], promptTokens, opts({ strategy: new EctStrategy() }), warm);
    expect(out[0].node).toBe('b-fast');
    // Learned rates make the estimate close to the outcome.
    expect(Math.abs(out[0].estimateMs - out[0].latencyMs) / out[0].latencyMs).toBeLessThan(0.2);
  });

  it('is deterministic', () => {
    const nodes = [benchNode('a', { slots: 2 }), benchNode('b', { decodeTps: 20 })];
    const trace = Array.from({ length: 20 }, (_, i) => req(`r${i}`, i * 700, 20 + ((i * 37) % 90), { numPredict: undefined }));
    const run = () => runHerdModel(nodes, trace, promptTokens, opts({ strategy: new EctStrategy(), jitterMs: 3 }));
    expect(run()).toEqual(run());
  });
});
