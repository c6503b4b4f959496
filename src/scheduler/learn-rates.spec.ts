import { ewma, foldObservation, LOAD_THRESHOLD_MS, observationFromFinalChunk, type RateObservation } from './learn-rates';
import { DEFAULT_SLOWDOWN } from './rate-priors';
import type { ModelRates } from './scheduler.types';

const S = 1e9;
const MS = 1e6;

/** Deterministic multiplicative noise in [1 - amp, 1 + amp]. */
function noise(i: number, amp: number): number {
  const x = Math.sin(i * 12.9898 + 78.233) * 43758.5453;
  return 1 + amp * (2 * (x - Math.floor(x)) - 1);
}

function foldAll(observations: RateObservation[], start?: ModelRates): ModelRates | undefined {
  return observations.reduce<ModelRates | undefined>((prev, obs) => foldObservation(prev, obs), start);
}

describe('ewma', () => {
  it.each([
    [undefined, 10, 0.3, 10],
    [10, 20, 0.3, 13],
    [10, 20, 1, 20],
    [10, 20, 0, 10],
  ])('ewma(%p, %p, %p) = %p', (prev, sample, alpha, expected) => {
    expect(ewma(prev, sample, alpha)).toBeCloseTo(expected, 12);
  });
});

describe('observationFromFinalChunk', () => {
  it('turns nanosecond timings into rates and a load time', () => {
    const obs = observationFromFinalChunk(
      { prompt_eval_count: 200, prompt_eval_duration: 0.2 * S, eval_count: 100, eval_duration: 2 * S, load_duration: 3 * S },
      2,
    );
    expect(obs).toEqual({ streams: 2, prefillTps: 1000, decodeTps: 50, loadMs: 3000, loaded: true, promptTokens: 200, outputTokens: 100 });
  });

  it('treats a short load_duration as a warm model', () => {
    const obs = observationFromFinalChunk({ eval_count: 10, eval_duration: 1 * S, load_duration: 5 * MS }, 1);
    expect(obs.loaded).toBe(false);
    expect(obs.loadMs).toBeUndefined();
    expect(observationFromFinalChunk({ load_duration: LOAD_THRESHOLD_MS * MS }, 1).loadMs).toBe(LOAD_THRESHOLD_MS);
  });

  it.each([
    // 60 ms of load before 100 ms of work: a small or cached model, or a time-scaled simulator.
    ['a short load that dominates the request', { eval_count: 50, eval_duration: 80 * MS, prompt_eval_count: 20, prompt_eval_duration: 20 * MS, load_duration: 60 * MS }, true],
    ['a short load next to long work', { eval_count: 500, eval_duration: 2 * S, load_duration: 60 * MS }, false],
    ['a few ms before a short answer', { eval_count: 5, eval_duration: 10 * MS, load_duration: 15 * MS }, false],
    ['a short load with no work reported', { load_duration: 60 * MS }, false],
  ])('decides whether %s was a load', (_label, chunk, loaded) => {
    const obs = observationFromFinalChunk(chunk, 1);
    expect(obs.loaded).toBe(loaded);
    expect(obs.loadMs).toBe(loaded ? 60 : undefined);
  });

  it.each([
    ['a 3-token prompt', { prompt_eval_count: 3, prompt_eval_duration: 0.1 * S }],
    ['a cached prompt evaluated in microseconds', { prompt_eval_count: 500, prompt_eval_duration: 20_000 }],
    ['a cached prompt counted in full but barely evaluated', { prompt_eval_count: 5000, prompt_eval_duration: 2 * MS }],
    ['a missing duration', { prompt_eval_count: 500 }],
  ])('drops the prefill rate of %s', (_label, chunk) => {
    expect(observationFromFinalChunk(chunk, 1).prefillTps).toBeUndefined();
  });

  it.each([
    ['a single token', { eval_count: 1, eval_duration: 0.05 * S }],
    ['a zero duration', { eval_count: 50, eval_duration: 0 }],
    ['an impossible speed', { eval_count: 50_000, eval_duration: 1 * S }],
  ])('drops the decode rate of %s', (_label, chunk) => {
    expect(observationFromFinalChunk(chunk, 1).decodeTps).toBeUndefined();
  });

  it('learns prefill from the evaluated tokens only when the node reports its cached ones', () => {
    // 2000 prompt tokens, 1900 of them cached: 100 evaluated in 0.2 s is 500 tok/s, not 10000.
    const obs = observationFromFinalChunk({ prompt_eval_count: 2000, prompt_eval_cached_count: 1900, prompt_eval_duration: 0.2 * S }, 1);
    expect(obs.prefillTps).toBeCloseTo(500, 6);
    expect(obs.promptTokens).toBe(2000);
  });

  it('learns no prefill rate from an answer Herd expected to be a cache hit of unknown size', () => {
    const chunk = { prompt_eval_count: 2000, prompt_eval_duration: 0.2 * S, eval_count: 50, eval_duration: 1 * S };
    expect(observationFromFinalChunk(chunk, 1, 1500).prefillTps).toBeUndefined();
    expect(observationFromFinalChunk(chunk, 1, 1500).decodeTps).toBeCloseTo(50, 6);
    expect(observationFromFinalChunk(chunk, 1).prefillTps).toBeCloseTo(10_000, 6);
  });

  it('clamps the stream count to a whole number >= 1', () => {
    expect(observationFromFinalChunk({}, 0).streams).toBe(1);
    expect(observationFromFinalChunk({}, 2.6).streams).toBe(3);
    expect(observationFromFinalChunk({}, NaN).streams).toBe(1);
  });
});

describe('foldObservation', () => {
  it('starts from the first observation and counts samples', () => {
    const r = foldObservation(undefined, { streams: 1, prefillTps: 900, decodeTps: 40, loadMs: 2500, loaded: true });
    expect(r).toEqual({ samples: 1, prefillTps: 900, decodeTps: 40, loadMs: 2500 });
  });

  it('averages the first samples evenly, then weighs by alpha', () => {
    const obs = (decodeTps: number): RateObservation => ({ streams: 1, decodeTps, loaded: false });
    const two = foldAll([obs(10), obs(20)]);
    expect(two?.decodeTps).toBeCloseTo(15, 12);
    const late = foldObservation({ samples: 20, decodeTps: 10 }, obs(20), 0.3);
    expect(late.decodeTps).toBeCloseTo(13, 12);
  });

  it('ignores an observation without a usable signal', () => {
    const prev: ModelRates = { samples: 4, decodeTps: 30, prefillTps: 800 };
    const garbage = observationFromFinalChunk({ prompt_eval_count: 2, prompt_eval_duration: 100, eval_count: 1, eval_duration: 10, load_duration: 1 * MS }, 1);
    expect(foldObservation(prev, garbage)).toEqual(prev);
    expect(foldObservation(undefined, garbage)).toEqual({ samples: 0 });
  });

  it('skips a prefill sample far above the learned rate: a prompt the node had cached unexpectedly', () => {
    const learned = foldAll([500, 520, 480].map((prefillTps) => ({ streams: 1, loaded: false, prefillTps })));
    const afterHit = foldObservation(learned, { streams: 1, loaded: false, prefillTps: 9000, decodeTps: 40 });
    expect(afterHit.prefillTps).toBeCloseTo(learned!.prefillTps!, 9);
    expect(afterHit.decodeTps).toBe(40);
    // Early on, a fast sample is still learned: nothing says yet what the node's rate is.
    expect(foldObservation({ samples: 1, prefillTps: 500 }, { streams: 1, loaded: false, prefillTps: 9000 }).prefillTps).toBeGreaterThan(500);
  });

  it('keeps fields the observation says nothing about', () => {
    const r = foldObservation({ samples: 3, decodeTps: 30, loadMs: 4000, prefillTps: 800 }, { streams: 1, prefillTps: 1000, loaded: false });
    expect(r).toMatchObject({ samples: 4, decodeTps: 30, loadMs: 4000 });
    expect(r.prefillTps).toBeGreaterThan(800);
  });

  it('converges to the true rates through noise', () => {
    const observations = Array.from({ length: 300 }, (_, i) =>
      observationFromFinalChunk(
        {
          prompt_eval_count: 400,
          prompt_eval_duration: (400 / 1200) * S * noise(i, 0.2),
          eval_count: 150,
          eval_duration: (150 / 42) * S * noise(i + 1000, 0.2),
          load_duration: i % 10 === 0 ? 3.5 * S * noise(i + 2000, 0.2) : 3 * MS,
        },
        1,
      ),
    );
    const r = foldAll(observations)!;
    expect(r.samples).toBe(300);
    expect(r.prefillTps!).toBeGreaterThan(1200 * 0.9);
    expect(r.prefillTps!).toBeLessThan(1200 * 1.1);
    expect(r.decodeTps!).toBeGreaterThan(42 * 0.9);
    expect(r.decodeTps!).toBeLessThan(42 * 1.1);
    expect(r.loadMs!).toBeGreaterThan(3500 * 0.85);
    expect(r.loadMs!).toBeLessThan(3500 * 1.15);
  });

  it('corrects a parallel observation to the alone rate with the known slowdown', () => {
    const r = foldObservation({ samples: 1, prefillTps: 500, slowdown: 0.5 }, { streams: 3, decodeTps: 20, loaded: false });
    expect(r.decodeTps).toBeCloseTo(40, 12);
  });

  describe('slowdown', () => {
    const trueAlone = 60;
    const trueSlowdown = 0.4;
    const at = (streams: number, i: number, amp = 0): RateObservation => ({
      streams,
      decodeTps: (trueAlone / (1 + trueSlowdown * (streams - 1))) * noise(i, amp),
      loaded: false,
    });

    it('is learned from observations at mixed parallelism', () => {
      const r = foldAll(Array.from({ length: 200 }, (_, i) => at([1, 2, 3, 4][i % 4], i)))!;
      expect(r.slowdown!).toBeCloseTo(trueSlowdown, 2);
      expect(r.decodeTps!).toBeCloseTo(trueAlone, 0);
    });

    it('is learned through noise and whichever parallelism came first', () => {
      const order = [4, 4, 4, 3, 1, 2, 4, 1, 3, 2];
      const r = foldAll(Array.from({ length: 600 }, (_, i) => at(order[i % order.length], i, 0.1)))!;
      expect(r.slowdown!).toBeGreaterThan(trueSlowdown - 0.1);
      expect(r.slowdown!).toBeLessThan(trueSlowdown + 0.1);
      expect(r.decodeTps!).toBeGreaterThan(trueAlone * 0.9);
      expect(r.decodeTps!).toBeLessThan(trueAlone * 1.1);
    });

    it('is not invented from a single parallelism', () => {
      const r = foldAll(Array.from({ length: 50 }, (_, i) => at(2, i)))!;
      expect(r.slowdown ?? DEFAULT_SLOWDOWN).toBeCloseTo(DEFAULT_SLOWDOWN, 9);
    });

    it('stays within [0, 2] whatever the observations say', () => {
      const alternate = (alone: number, parallel: RateObservation) =>
        foldAll(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? { streams: 1, decodeTps: alone, loaded: false } : parallel)))!;
      const high = alternate(100, { streams: 2, decodeTps: 1, loaded: false });
      expect(high.slowdown!).toBeLessThanOrEqual(2);
      expect(high.slowdown!).toBeGreaterThan(1.99);
      // Faster per stream when parallel is impossible: the implied slowdown is negative and clamped.
      const low = alternate(10, { streams: 4, decodeTps: 50, loaded: false });
      expect(low.slowdown!).toBeGreaterThanOrEqual(0);
      expect(low.slowdown!).toBeLessThan(0.01);
    });
  });
});
