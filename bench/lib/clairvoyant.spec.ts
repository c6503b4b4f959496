import { simulateClairvoyant, summarize, toClairvoyantRequests, type ClairvoyantNode, type ClairvoyantRequest } from './clairvoyant';

const M = 'llama3:latest';

function node(name: string, over: Partial<ClairvoyantNode> = {}): ClairvoyantNode {
  return { name, slots: 1, decodeTps: 10, prefillTps: 100, slowdown: 0, loadMs: 1000, models: [M], resident: [M], ...over };
}

function req(id: string, atMs: number, outputTokens: number, promptTokens = 0): ClairvoyantRequest {
  return { id, atMs, model: 'llama3', promptTokens, outputTokens };
}

describe('simulateClairvoyant', () => {
  it('loads, prefills and decodes, sharing one load and slowing parallel streams', () => {
    // A: load 0-1000, prefill 100 tok @100/s 1000-2000. B at 1500: model resident, prefill 50 tok 1500-2000.
    // From 2000 both decode 10 tokens at 10 / (1 + 0.5) tok/s: 1.5 s, both done at 3500.
    const fleet = [node('n', { slots: 2, slowdown: 0.5, resident: [] })];
    const r = simulateClairvoyant(fleet, [req('a', 0, 10, 100), req('b', 1500, 10, 50)]);
    expect(r.latencies[0]).toBeCloseTo(3500, 6);
    expect(r.latencies[1]).toBeCloseTo(2000, 6);
    expect(r.makespanMs).toBeCloseTo(3500, 6);
    expect(r.placements.map((p) => p.cold)).toEqual([true, false]);
  });

  it('counts a stream that is loading or prefilling as active', () => {
    // A decodes alone from 0; B arrives at 500 needing a 1 s prefill. While B prefills both run:
    // A at 10 / 2 = 5 tok/s. A has 5 tokens left at 500 → done at 1500.
    const fleet = [node('n', { slots: 2, slowdown: 1, prefillTps: 10 })];
    const r = simulateClairvoyant(fleet, [req('a', 0, 10), req('b', 500, 5, 10)]);
    expect(r.placements[0].finishMs).toBeCloseTo(1500, 6);
    // B: prefill 500-1500, then decodes alone at 10 tok/s: 5 tokens, done at 2000.
    expect(r.placements[1].finishMs).toBeCloseTo(2000, 6);
  });

  it('queues beyond the slots in FIFO order', () => {
    const r = simulateClairvoyant([node('n')], [req('a', 0, 10), req('b', 0, 10), req('c', 0, 5)]);
    expect(r.latencies.map((x) => Math.round(x))).toEqual([1000, 2000, 2500]);
  });

  it('counts the slowdown caused by later arrivals', () => {
    // A alone would finish at 1000. B arrives at 500 when A has 5 tokens left; both then run at 5 tok/s.
    const r = simulateClairvoyant([node('n', { slots: 2, slowdown: 1 })], [req('a', 0, 10), req('b', 500, 5)]);
    expect(r.placements.map((p) => Math.round(p.finishMs))).toEqual([1500, 1500]);
  });

  it('waits for a fast busy node until the slow one finishes sooner', () => {
    // 20 tokens each, all at 0: fast (20 tok/s) ends them at 1, 2, 3, 4 s; the fifth would end at 5 s
    // there, but at 20 / 4.5 = 4.44 s on the idle slow node.
    const fleet = [node('fast', { decodeTps: 20 }), node('slow', { decodeTps: 4.5 })];
    const r = simulateClairvoyant(fleet, ['a', 'b', 'c', 'd', 'e'].map((id) => req(id, 0, 20)));
    expect(r.placements.map((p) => p.node)).toEqual(['fast', 'fast', 'fast', 'fast', 'slow']);
    expect(r.latencies[3]).toBeCloseTo(4000, 6);
    expect(r.latencies[4]).toBeCloseTo(20_000 / 4.5, 6);
    expect(r.makespanMs).toBeCloseTo(20_000 / 4.5, 6);
  });

  it('avoids a cold node when the warm one finishes sooner, and takes it when not', () => {
    const fleet = [node('cold', { resident: [], loadMs: 1500 }), node('warm')];
    // warm busy until 1000, then 1000 more: 2000 vs cold 1500 + 1000.
    expect(simulateClairvoyant(fleet, [req('a', 0, 10), req('b', 0, 10)]).placements.map((p) => p.node)).toEqual(['warm', 'warm']);
    const slowLoad = [node('cold', { resident: [], loadMs: 500 }), node('warm')];
    const r = simulateClairvoyant(slowLoad, [req('a', 0, 10), req('b', 0, 10)]);
    expect(r.placements.map((p) => [p.node, p.cold])).toEqual([
      ['warm', false],
      ['cold', true],
    ]);
  });

  it('uses only nodes that have the model and reports arrivals out of order in input order', () => {
    const fleet = [node('other', { models: ['mistral:latest'], decodeTps: 1000 }), node('n')];
    const r = simulateClairvoyant(fleet, [req('late', 2000, 10), req('early', 0, 10)]);
    expect(r.placements.map((p) => [p.id, p.node, Math.round(p.latencyMs)])).toEqual([
      ['late', 'n', 1000],
      ['early', 'n', 1000],
    ]);
    expect(r.makespanMs).toBeCloseTo(3000, 6);
    expect(() => simulateClairvoyant(fleet, [{ ...req('x', 0, 1), model: 'phi3' }])).toThrow(/no node has model phi3/);
  });

  it('rejects duplicate ids', () => {
    expect(() => simulateClairvoyant([node('n')], [req('a', 0, 1), req('a', 1, 1)])).toThrow(/unique/);
  });
});

describe('toClairvoyantRequests', () => {
  it('counts prompt tokens with the given function', () => {
    const out = toClairvoyantRequests([{ id: 'r', atMs: 5, model: M, prompt: 'one two three', outputTokens: 7 }], (p) => p.split(' ').length);
    expect(out).toEqual([{ id: 'r', atMs: 5, model: M, promptTokens: 3, outputTokens: 7 }]);
  });
});

describe('summarize', () => {
  it('gives nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(summarize(xs)).toEqual({ count: 100, mean: 50.5, p50: 50, p95: 95, p99: 99, max: 100 });
    expect(summarize([7])).toEqual({ count: 1, mean: 7, p50: 7, p95: 7, p99: 7, max: 7 });
  });

  it('is NaN for no latencies', () => {
    expect(summarize([])).toMatchObject({ count: 0, mean: NaN, max: NaN });
  });
});
