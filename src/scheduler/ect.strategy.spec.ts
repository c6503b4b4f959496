import { DEFAULT_DECODE_TPS } from './rate-priors';
import { delayedJobs, EctStrategy } from './ect.strategy';
import { ctx, MODEL, node, rates, request } from './scheduler.fixture';
import type { NodeSnapshot, RequestEstimate } from './scheduler.types';

const ect = new EctStrategy();
const rank = (nodes: NodeSnapshot[], req: RequestEstimate = request()) => ect.rank(req, { nodes }, ctx());
const names = (nodes: NodeSnapshot[], req?: RequestEstimate) => rank(nodes, req).map((r) => r.node);

describe('EctStrategy', () => {
  describe('an idle slow node against a busy fast one', () => {
    // slow: 10 tok/s, idle: 100 ms prefill + 10 s decode = 10.1 s.
    // fast: 50 tok/s, its one slot busy; the running request has max(backlog, 100) tokens left (at least a
    // typical answer, see typicalRemainingTokens): wait W = that / 50 s, then 100 ms + 2 s.
    // The order: slow is free, so waiting for fast holds the queue back and the wait counts HOL_WAIT_WEIGHT (5)
    // times; the length is unknown, so decode counts UNKNOWN_OUTPUT_RISK (1.5) times.
    // Scores: slow 0.1 + 15 = 15.1 s, fast 5 W + 0.1 + 3 s: fast leads while W < 2.4 s (backlog < 120 tokens).
    const slow = node('slow', { rates: rates(10) });
    const fast = (backlogTokens: number) => node('fast', { inFlight: 1, backlogTokens, rates: rates(50) });

    it.each([
      [50, ['fast', 'slow'], 4_100],
      [110, ['fast', 'slow'], 4_300],
      [130, ['slow', 'fast'], 4_700],
      [1000, ['slow', 'fast'], 22_100],
    ])('with a backlog of %p tokens on the fast node the order is %p', (backlog, order, fastEstimate) => {
      const ranked = rank([slow, fast(backlog)]);
      expect(ranked.map((r) => r.node)).toEqual(order);
      // estimateMs stays the plain prediction; only the order uses the weights.
      expect(ranked.find((r) => r.node === 'fast')).toMatchObject({ free: false, estimateMs: fastEstimate });
      expect(ranked.find((r) => r.node === 'slow')).toMatchObject({ free: true, estimateMs: 10_100 });
    });

    it('holds nobody back when no node is free: then the plain estimate decides', () => {
      const known = request({ outputTokensKnown: true });
      // Known length: slow 10.1 s against fast 5 x 2.6 + 2.1 = 15.1 s, so the idle slow node wins...
      expect(names([slow, fast(130)], known)).toEqual(['slow', 'fast']);
      // ...but a busy slow node (10 s wait, 20.1 s) loses to the same busy fast node (4.7 s).
      const busySlow = node('slow', { inFlight: 1, rates: rates(10) });
      expect(names([busySlow, fast(130)], known)).toEqual(['fast', 'slow']);
    });

    it('weighs the wait by the jobs queued behind when the caller tells', () => {
      // Known length, fast waits 2 s: slow 10.1 s against fast (3 + queued x (queued + 1)) x 2 + 2.1 s.
      const known = request({ outputTokensKnown: true });
      const order = (queued?: number) => ect.rank(known, { nodes: [slow, fast(50)], queued }, ctx()).map((r) => r.node);
      expect(order(0)).toEqual(['fast', 'slow']); // 8.1 s
      expect(order(1)).toEqual(['slow', 'fast']); // 12.1 s
      expect(order(2)).toEqual(['slow', 'fast']); // 20.1 s
      expect(order(undefined)).toEqual(['slow', 'fast']); // HOL_WAIT_WEIGHT: 12.1 s
    });

    it('counts the jobs arriving before the backlog clears, not only the queued ones', () => {
      // Known length, fast waits 2 s (2.1 s after), slower node 20.1 s: fast leads while the weight is below 9.
      // With 3 queued the load is about 3/4 and 12 jobs wait for the backlog to clear: weight 15, not 3 + 3 = 6.
      const slower = node('slower', { rates: rates(5) });
      const known = request({ outputTokensKnown: true });
      const first = (queued: number) => ect.rank(known, { nodes: [slower, fast(50)], queued }, ctx())[0].node;
      expect(first(1)).toBe('fast'); // 5 x 2 + 2.1 = 12.1 s
      expect(first(3)).toBe('slower'); // 15 x 2 + 2.1 = 32.1 s
      expect(delayedJobs(0)).toBe(0);
      expect(delayedJobs(3)).toBe(12);
    });

    it('sends an unknown-length answer to the slow node less readily than a known one of the same size', () => {
      // Fast waits 2.2 s. Known: slow 10.1 against 5 x 2.2 + 2.1 = 13.1. Unknown: slow 15.1 against 14.1.
      expect(names([slow, fast(110)], request({ outputTokensKnown: true }))[0]).toBe('slow');
      expect(names([slow, fast(110)], request({ outputTokensKnown: false }))[0]).toBe('fast');
    });
  });

  describe('a warm busy node against a cold idle one', () => {
    // warm: waits 2 s for its slot (a typical 100 tokens at 50 tok/s), then 2.1 s: scored 5 x 2 + 0.1 + 3 = 13.1 s.
    // cold: load + 2.1 s, scored load + 3.1 s. Waiting holds the queue back, so the load must cost over 10 s.
    const warm = node('warm', { inFlight: 1, backlogTokens: 100, rates: rates(50) });
    it.each([
      [15_000, 'warm'],
      [5000, 'cold'],
    ])('with a load time of %p ms the first is %p', (loadMs, first) => {
      const cold = node('cold', { resident: [], rates: rates(50, { loadMs }) });
      expect(names([cold, warm])[0]).toBe(first);
    });
  });

  describe('the expected output length decides between waiting and going slow', () => {
    // Known lengths. slow: 100 ms + n/10 s. fast waits max(200, min(n, 256)) / 50 s, scored 5 times, then 100 ms + n/50 s.
    const slow = node('slow', { rates: rates(10) });
    const fast = node('fast', { inFlight: 1, backlogTokens: 200, rates: rates(50) });
    it.each([
      [10, 'slow'], // 1.1 s against 20.3 s
      [1000, 'fast'], // 100.1 s against 25.6 + 20.1 s
    ])('num_predict %p goes to %p', (outputTokens, first) => {
      expect(names([slow, fast], request({ outputTokens, outputTokensKnown: true }))[0]).toBe(first);
    });
  });

  it('never ranks a node without the model, too small, draining or unhealthy', () => {
    const nodes = [
      node('no-model', { models: [{ name: 'mistral:latest' }], rates: rates(1000) }),
      node('too-small', { memoryGb: 1, models: [{ name: MODEL, sizeBytes: 2 * 1024 ** 3 }], rates: rates(1000) }),
      node('draining', { draining: true, rates: rates(1000) }),
      node('unhealthy', { healthy: false, rates: rates(1000) }),
      node('ok', { rates: rates(1) }),
    ];
    expect(names(nodes)).toEqual(['ok']);
    expect(names(nodes.slice(0, 4))).toEqual([]);
  });

  describe('unmeasured nodes', () => {
    const mediocre = node('mediocre', { rates: rates(10) });
    const good = node('good', { inFlight: 1, backlogTokens: 5000, rates: rates(50) });

    it('get the fleet’s best measured rate and so beat a measured mediocre node', () => {
      const ranked = rank([mediocre, good, node('new')]);
      expect(ranked[0].node).toBe('new');
      expect(ranked[0].parts.decodeMs).toBe(2000);
    });

    it('get the default prior when nothing is measured, or their hint', () => {
      expect(rank([node('new')])[0].parts.decodeMs).toBeCloseTo((100 / DEFAULT_DECODE_TPS) * 1000, 9);
      expect(rank([node('new', { tokensPerSecondHint: 20 })])[0].parts.decodeMs).toBe(5000);
    });

    it('win a tie against the measured node whose rate they borrow, whatever the names', () => {
      // 'b' has the fleet's best (and only) rate, 'z' borrows it: equal estimates, and 'z' is tried first.
      expect(names([node('b', { rates: rates(40) }), node('z')])).toEqual(['z', 'b']);
    });

    it('lose their advantage once measured slow', () => {
      const measuredSlow = node('new', { rates: { [MODEL]: { samples: 1, decodeTps: 5 } } });
      expect(names([mediocre, good, measuredSlow])).toEqual(['mediocre', 'new', 'good']);
    });
  });

  it('charges a node for slowing the streams already on it', () => {
    // Joining 'shared' we run at 60 / 1.2 = 50 tok/s, as fast as on the idle node; the tie-break
    // alone (more free slots) would pick 'shared', the contention charge picks 'idle'.
    const shared = node('shared', { slots: 4, inFlight: 1, backlogTokens: 1000, rates: rates(60, { slowdown: 0.2 }) });
    const idle = node('idle', { slots: 2, rates: rates(50, { slowdown: 0.2 }) });
    const ranked = rank([shared, idle]);
    expect(ranked.map((r) => r.node)).toEqual(['idle', 'shared']);
    expect(ranked[1].parts.decodeMs).toBeCloseTo(ranked[0].parts.decodeMs, 6);
    expect(ranked[1].parts.contentionMs).toBeGreaterThan(0);
  });

  it('breaks ties by free slots, then name, whatever the input order', () => {
    const a = node('a', { rates: rates(50) });
    const b = node('b', { rates: rates(50) });
    const c = node('c', { slots: 2, rates: rates(50) });
    expect(names([b, a])).toEqual(['a', 'b']);
    expect(names([a, b])).toEqual(['a', 'b']);
    expect(names([b, a, c])).toEqual(['c', 'a', 'b']);
  });

  it('treats estimates equal to the microsecond as ties', () => {
    const a = node('a', { rates: rates(30) });
    const b = node('b', { rates: rates(30 * (1 + 1e-13)) });
    expect(names([a, b])).toEqual(['a', 'b']);
  });

  describe('conversation affinity', () => {
    // warm: holds 2900 of the 3000 prompt tokens, its one slot busy for 2 s (100 tokens left at 50 tok/s).
    // cold: idle, same speed, must evaluate all 3000 tokens (3 s at 1000 tok/s).
    const warm = node('warm', { inFlight: 1, backlogTokens: 100, rates: rates(50) });
    const cold = node('cold', { rates: rates(50) });
    const turn = request({ promptTokens: 3000, outputTokens: 100, outputTokensKnown: true, cachedTokens: { warm: 2900 } });

    it('counts the wait for the node holding the prompt at face value, and the prefill done twice once more', () => {
      // warm: 2 s + 0.1 s + 2 s = 4.1 s. cold: 3 s + 2 s = 5 s, plus 2.9 s repeated = 7.9 s. Held back like any
      // wait (5 times), warm would score 12.1 s and lose.
      expect(names([cold, warm], turn)).toEqual(['warm', 'cold']);
    });

    it('still leaves a warm node busy for longer than the saving is worth', () => {
      const longBusy = node('warm', { inFlight: 1, backlogTokens: 300, rates: rates(50) });
      // warm: 6 s + 2.1 s = 8.1 s against cold's 7.9 s.
      expect(names([longBusy, cold], turn)).toEqual(['cold', 'warm']);
    });

    it('charges the repeated prefill more when jobs wait behind this one', () => {
      const longBusy = node('warm', { inFlight: 1, backlogTokens: 300, rates: rates(50) });
      // One job queued: repeated prefill counts 1 + delayedJobs(1) = 3 times: cold 5 + 8.7 = 13.7 s > 8.1 s.
      expect(ect.rank(turn, { nodes: [longBusy, cold], queued: 1 }, ctx()).map((r) => r.node)).toEqual(['warm', 'cold']);
      expect(ect.repeatWeight(1)).toBe(1 + delayedJobs(1));
      expect(ect.repeatWeight(undefined)).toBe(1);
    });

  });
});
