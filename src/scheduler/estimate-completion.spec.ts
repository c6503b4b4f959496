import { DEFAULT_OUTPUT_TOKENS } from './estimate-request';
import { CONTENTION_WEIGHT, estimateOnNode, meanRemainingTokens, perStreamTps, slotWaitMs, typicalRemainingTokens } from './estimate-completion';
import { node, rates, request } from './scheduler.fixture';

describe('perStreamTps', () => {
  it.each([
    [1, 60],
    [2, 40],
    [3, 30],
    [5, 20],
  ])('with %p streams each runs at %p tok/s (decode 60, slowdown 0.5)', (streams, expected) => {
    expect(perStreamTps({ decodeTps: 60, slowdown: 0.5 }, streams)).toBeCloseTo(expected, 9);
  });
});

describe('slotWaitMs', () => {
  const r = { decodeTps: 60, slowdown: 0.5 };
  it.each([
    ['a free slot', { slots: 2, inFlight: 1, backlogTokens: 5000 }, 0],
    // One slot: the whole backlog drains at the alone rate: 600 / 60 tok/s.
    ['one slot, one running', { slots: 1, inFlight: 1, backlogTokens: 600 }, 10_000],
    // One slot, three held: still the whole backlog, 300 / 60.
    ['one slot, two queued in Ollama', { slots: 1, inFlight: 3, backlogTokens: 300 }, 5_000],
    // Three at 30 tok/s each, b = 200 left each, remaining work memoryless: the first of three finishes after
    // 200 / 3 tokens (the uniform-spread assumption would say 2 * 200 / 4 = 100).
    ['three slots full', { slots: 3, inFlight: 3, backlogTokens: 600 }, 2_222.222],
    // Plus two more completions at b / (3 * 30) = 200 / 90 s each.
    ['three slots, two queued', { slots: 3, inFlight: 5, backlogTokens: 1000 }, 2_222.222 + 4_444.444],
  ])('%s', (_label, n, expected) => {
    expect(slotWaitMs(n, r)).toBeCloseTo(expected, 2);
  });

  it('grows with the backlog', () => {
    const n = { slots: 2, inFlight: 2 };
    expect(slotWaitMs({ ...n, backlogTokens: 100 }, r)).toBeLessThan(slotWaitMs({ ...n, backlogTokens: 200 }, r));
  });

  it('takes each running request to have at least the given floor left', () => {
    // One slot, 60 tokens counted in the ledger, but at least 300 assumed: 300 / 60 tok/s.
    expect(slotWaitMs({ slots: 1, inFlight: 1, backlogTokens: 60 }, r, 300)).toBeCloseTo(5_000, 6);
    // A backlog above the floor is used as is.
    expect(slotWaitMs({ slots: 1, inFlight: 1, backlogTokens: 600 }, r, 300)).toBeCloseTo(10_000, 6);
  });
});

describe('meanRemainingTokens', () => {
  it.each([
    [{ inFlight: 0, backlogTokens: 500 }, 100, 0],
    [{ inFlight: 2, backlogTokens: 500 }, 100, 250],
    [{ inFlight: 2, backlogTokens: 50 }, 100, 100],
    [{ inFlight: 2, backlogTokens: -5 }, 0, 0],
  ])('%p with floor %p -> %p', (n, floor, expected) => {
    expect(meanRemainingTokens(n, floor)).toBe(expected);
  });
});

describe('typicalRemainingTokens', () => {
  it('is the expected output of an unknown-length request, and the capped length up to the default for a known one', () => {
    expect(typicalRemainingTokens({ outputTokens: 180, outputTokensKnown: false })).toBe(180);
    expect(typicalRemainingTokens({ outputTokens: 32, outputTokensKnown: true })).toBe(32);
    expect(typicalRemainingTokens({ outputTokens: 4096, outputTokensKnown: true })).toBe(DEFAULT_OUTPUT_TOKENS);
  });
});

describe('estimateOnNode', () => {
  it('adds load, prefill and decode on an idle node', () => {
    const n = node('a', { resident: [], rates: rates(50, { loadMs: 2000 }) });
    const e = estimateOnNode(request({ promptTokens: 500, outputTokens: 100 }), n, {});
    expect(e).toEqual({
      node: 'a',
      free: true,
      estimateMs: 2000 + 500 + 2000,
      parts: { slotWaitMs: 0, loadMs: 2000, prefillMs: 500, decodeMs: 2000, contentionMs: 0 },
    });
  });

  it('charges no load when the model is resident, also under an untagged name', () => {
    const e = estimateOnNode(request(), node('a', { resident: ['llama3'], rates: rates(50) }), {});
    expect(e.parts.loadMs).toBe(0);
  });

  it('decodes at the parallelism it will join and charges part of the slowdown it causes', () => {
    // inFlight 1 of 4: two streams at 50 / 1.5 tok/s; 100 tokens take 3 s.
    // The other stream has 1000 tokens left (30 s) and is slowed by 1/3 for those 3 s.
    const n = node('a', { slots: 4, inFlight: 1, backlogTokens: 1000, rates: rates(50) });
    const e = estimateOnNode(request({ promptTokens: 0, outputTokens: 100 }), n, {});
    expect(e.parts.decodeMs).toBeCloseTo(3000, 6);
    expect(e.parts.contentionMs).toBeCloseTo(CONTENTION_WEIGHT * 3000 * (1 / 3), 6);
    expect(e.free).toBe(true);
  });

  it('counts the slowdown only while the others still run, taking them to have a typical answer left', () => {
    // A known 400-token answer decodes for 12 s at 50 / 1.5 tok/s. The other stream counts 10 tokens in the
    // ledger but is taken to have a typical answer (min(400, DEFAULT_OUTPUT_TOKENS) = 256 tokens) left:
    // 7.68 s of overlap, not the whole 12 s.
    const n = node('a', { slots: 4, inFlight: 1, backlogTokens: 10, rates: rates(50) });
    const e = estimateOnNode(request({ promptTokens: 0, outputTokens: 400, outputTokensKnown: true }), n, {});
    expect(e.parts.decodeMs).toBeCloseTo(12_000, 6);
    expect(e.parts.contentionMs).toBeCloseTo(CONTENTION_WEIGHT * 7_680 * (1 / 3), 6);
  });

  it('waits for a typical answer to finish even when the ledger counts the running one as nearly done', () => {
    // 5 tokens in the ledger, but the running answer is taken to have the expected 100 left: 2 s at 50 tok/s.
    const n = node('a', { slots: 1, inFlight: 1, backlogTokens: 5, rates: rates(50) });
    expect(estimateOnNode(request({ promptTokens: 0, outputTokens: 100 }), n, {}).parts.slotWaitMs).toBeCloseTo(2_000, 6);
  });

  it('makes a full node wait for a slot and run at full parallelism', () => {
    const n = node('a', { slots: 1, inFlight: 1, backlogTokens: 200, rates: rates(50) });
    const e = estimateOnNode(request({ promptTokens: 100, outputTokens: 100 }), n, {});
    expect(e.free).toBe(false);
    expect(e.parts).toEqual({ slotWaitMs: 4000, loadMs: 0, prefillMs: 100, decodeMs: 2000, contentionMs: 0 });
    expect(e.estimateMs).toBe(6100);
  });

  it('charges prefill only for the part of the prompt the node does not hold', () => {
    const n = node('a', { rates: rates(50) });
    const cold = estimateOnNode(request({ promptTokens: 1600, outputTokens: 100 }), n, {});
    const warm = estimateOnNode(request({ promptTokens: 1600, outputTokens: 100, cachedTokens: { a: 1500, b: 1600 } }), n, {});
    expect(cold.parts.prefillMs).toBe(1600);
    expect(warm.parts.prefillMs).toBe(100);
    expect(warm.parts.cachedTokens).toBe(1500);
    expect(cold.estimateMs - warm.estimateMs).toBe(1500);
  });

  it('evaluates at least the last prompt token even when all of it is cached', () => {
    const e = estimateOnNode(request({ promptTokens: 800, outputTokens: 10, cachedTokens: { a: 5000 } }), node('a', { rates: rates(50) }), {});
    expect(e.parts.prefillMs).toBe(1);
    expect(e.parts.cachedTokens).toBe(799);
  });

  it('weighs a warm node that must wait against a cold one that is free', () => {
    const warmBusy = node('warm', { slots: 1, inFlight: 1, backlogTokens: 200, rates: rates(50) });
    const coldIdle = node('cold', { rates: rates(50) });
    const shortWait = request({ promptTokens: 3000, outputTokens: 100, cachedTokens: { warm: 2900 } });
    // 4 s of waiting on the warm node against 2.9 s more prefill on the cold one: the cold one wins.
    expect(estimateOnNode(shortWait, warmBusy, {}).estimateMs).toBeGreaterThan(estimateOnNode(shortWait, coldIdle, {}).estimateMs);
    const longPrompt = request({ promptTokens: 9000, outputTokens: 100, cachedTokens: { warm: 8900 } });
    // With 8.9 s of prefill saved, waiting 4 s for the warm node is worth it.
    expect(estimateOnNode(longPrompt, warmBusy, {}).estimateMs).toBeLessThan(estimateOnNode(longPrompt, coldIdle, {}).estimateMs);
  });

  it('reports the prefill of tokens another node holds, as part of prefillMs', () => {
    const n = node('a', { rates: rates(50) });
    const req = request({ promptTokens: 1600, outputTokens: 100, cachedTokens: { b: 1500 } });
    const e = estimateOnNode(req, n, {});
    expect(e.parts.prefillMs).toBe(1600);
    expect(e.parts.repeatedPrefillMs).toBe(1500);
    expect(e.estimateMs).toBe(1600 + 2000);
    // Where the node holds part of it, only the rest of what another holds is repeated; where it holds most, nothing.
    expect(estimateOnNode({ ...req, cachedTokens: { a: 1000, b: 1500 } }, n, {}).parts.repeatedPrefillMs).toBe(500);
    expect(estimateOnNode({ ...req, cachedTokens: { a: 1500, b: 1000 } }, n, {}).parts.repeatedPrefillMs).toBeUndefined();
  });

  it('always reports estimateMs as the sum of its parts', () => {
    const cases = [
      node('a', { slots: 3, inFlight: 2, backlogTokens: 700, resident: [], rates: rates(33) }),
      node('b', { slots: 2, inFlight: 4, backlogTokens: 1234, rates: rates(80, { slowdown: 0.1 }) }),
      node('c', { tokensPerSecondHint: 25 }),
    ];
    for (const n of cases) {
      const e = estimateOnNode(request({ promptTokens: 321, outputTokens: 77 }), n, {});
      const p = e.parts;
      expect(e.estimateMs).toBeCloseTo(p.slotWaitMs + p.loadMs + p.prefillMs + p.decodeMs + (p.contentionMs ?? 0), 9);
    }
  });
});
