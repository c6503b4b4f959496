import { defaultOutputLengthOf, makeTrace, traceLoad, type TraceOptions } from './trace';

const base: TraceOptions = {
  seed: 1,
  count: 2000,
  fleetCapacityTokensPerSec: 400,
  models: [
    { name: 'llama3:latest', share: 3 },
    { name: 'qwen2.5:7b', share: 1 },
  ],
};

describe('makeTrace', () => {
  it('is deterministic per seed', () => {
    expect(makeTrace(base)).toEqual(makeTrace(base));
    expect(makeTrace({ ...base, seed: 2 })).not.toEqual(makeTrace(base));
  });

  it('keeps the same requests at another load, only the times change', () => {
    const calm = makeTrace({ ...base, load: 0.5 });
    const busy = makeTrace({ ...base, load: 1 });
    expect(busy.map(({ atMs: _, ...r }) => r)).toEqual(calm.map(({ atMs: _, ...r }) => r));
    expect(busy[busy.length - 1].atMs).toBeCloseTo(calm[calm.length - 1].atMs / 2, 6);
  });

  it.each([0.5, 0.75, 1.2])('offers the requested load %p', (load) => {
    const trace = makeTrace({ ...base, load });
    expect(traceLoad(trace, base.fleetCapacityTokensPerSec)).toBeCloseTo(load, 9);
  });

  it('defaults to a load of 0.75', () => {
    expect(traceLoad(makeTrace(base), base.fleetCapacityTokensPerSec)).toBeCloseTo(0.75, 9);
  });

  it('has increasing, exponentially spaced arrivals', () => {
    const trace = makeTrace({ ...base, count: 5000 });
    const gaps = trace.map((r, i) => r.atMs - (i === 0 ? 0 : trace[i - 1].atMs));
    expect(gaps.every((g) => g >= 0)).toBe(true);
    const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((s, g) => s + (g - mean) ** 2, 0) / gaps.length);
    // An exponential has a coefficient of variation of 1; evenly spaced arrivals would give 0.
    expect(sd / mean).toBeGreaterThan(0.9);
    expect(sd / mean).toBeLessThan(1.1);
  });

  it('splits requests across models by share and sets num_predict on the requested share', () => {
    const trace = makeTrace({ ...base, count: 4000 });
    const llama = trace.filter((r) => r.model === 'llama3:latest').length / trace.length;
    expect(llama).toBeGreaterThan(0.72);
    expect(llama).toBeLessThan(0.78);
    const capped = trace.filter((r) => r.numPredict !== undefined).length / trace.length;
    expect(capped).toBeGreaterThan(0.085);
    expect(capped).toBeLessThan(0.115);
    expect(makeTrace({ ...base, numPredictShare: 0 }).some((r) => 'numPredict' in r)).toBe(false);
  });

  it('writes prompts of varied length', () => {
    const words = makeTrace(base).map((r) => r.prompt.split(' ').length);
    expect(Math.min(...words)).toBeLessThan(15);
    expect(Math.max(...words)).toBeGreaterThan(150);
    expect(new Set(makeTrace(base).map((r) => r.prompt)).size).toBe(base.count);
  });

  it('takes output lengths from the given rule', () => {
    const calls: [string, string, number | undefined][] = [];
    const trace = makeTrace({
      ...base,
      count: 200,
      numPredictShare: 0.5,
      outputLengthOf: (model, prompt, numPredict) => {
        calls.push([model, prompt, numPredict]);
        return numPredict ?? prompt.length;
      },
    });
    expect(calls.map(([m, p, n]) => ({ m, p, n }))).toEqual(trace.map((r) => ({ m: r.model, p: r.prompt, n: r.numPredict })));
    expect(trace.every((r) => r.outputTokens === (r.numPredict ?? r.prompt.length))).toBe(true);
  });

  it('rejects impossible options with every problem at once', () => {
    expect(() => makeTrace({ ...base, count: 0, fleetCapacityTokensPerSec: -1, load: 0, models: [] })).toThrow(
      /count.*fleetCapacityTokensPerSec.*load.*models/,
    );
  });
});

describe('defaultOutputLengthOf', () => {
  it('is a deterministic, right-skewed length, exact under num_predict', () => {
    expect(defaultOutputLengthOf('m', 'hello')).toBe(defaultOutputLengthOf('m', 'hello'));
    expect(defaultOutputLengthOf('m', 'x', 37)).toBe(37);
    const lengths = Array.from({ length: 4000 }, (_, i) => defaultOutputLengthOf('m', `prompt ${i}`)).sort((a, b) => a - b);
    const median = lengths[2000];
    const mean = lengths.reduce((s, x) => s + x, 0) / lengths.length;
    expect(median).toBeGreaterThan(85);
    expect(median).toBeLessThan(115);
    expect(mean).toBeGreaterThan(median * 1.2);
    expect(lengths[0]).toBeGreaterThanOrEqual(1);
    expect(lengths[lengths.length - 1]).toBeLessThanOrEqual(1024);
  });
});
