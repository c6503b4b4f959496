import { DEFAULT_DECODE_TPS } from './rate-priors';
import { EctStrategy } from './ect.strategy';
import { ctx, MODEL, node, rates, request } from './scheduler.fixture';
import type { NodeSnapshot, RequestEstimate } from './scheduler.types';

const ect = new EctStrategy();
const rank = (nodes: NodeSnapshot[], req: RequestEstimate = request()) => ect.rank(req, { nodes }, ctx());
const names = (nodes: NodeSnapshot[], req?: RequestEstimate) => rank(nodes, req).map((r) => r.node);

describe('EctStrategy', () => {
  describe('an idle slow node against a busy fast one', () => {
    // slow: 10 tok/s, idle: 100 ms prefill + 10 s decode = 10.1 s.
    // fast: 50 tok/s, one slot busy: backlog/50 s + 100 ms + 2 s. Break-even at a backlog of 400 tokens.
    const slow = node('slow', { rates: rates(10) });
    const fast = (backlogTokens: number) => node('fast', { inFlight: 1, backlogTokens, rates: rates(50) });

    it.each([
      [100, ['fast', 'slow'], 4_100],
      [390, ['fast', 'slow'], 9_900],
      [410, ['slow', 'fast'], 10_300],
      [1000, ['slow', 'fast'], 22_100],
    ])('with a backlog of %p tokens on the fast node the order is %p', (backlog, order, fastEstimate) => {
      const ranked = rank([slow, fast(backlog)]);
      expect(ranked.map((r) => r.node)).toEqual(order);
      expect(ranked.find((r) => r.node === 'fast')).toMatchObject({ free: false, estimateMs: fastEstimate });
      expect(ranked.find((r) => r.node === 'slow')).toMatchObject({ free: true, estimateMs: 10_100 });
    });
  });

  describe('a warm busy node against a cold idle one', () => {
    // warm: waits 2 s for its slot (100 tokens at 50 tok/s), then 2.1 s. cold: load + 2.1 s.
    const warm = node('warm', { inFlight: 1, backlogTokens: 100, rates: rates(50) });
    it.each([
      [5000, 'warm'],
      [1000, 'cold'],
    ])('with a load time of %p ms the first is %p', (loadMs, first) => {
      const cold = node('cold', { resident: [], rates: rates(50, { loadMs }) });
      expect(names([cold, warm])[0]).toBe(first);
    });
  });

  describe('the expected output length decides between waiting and going slow', () => {
    // fast waits 4 s (200 tokens at 50 tok/s). slow: 100 ms + n/10 s; fast: 4.1 s + n/50 s.
    const slow = node('slow', { rates: rates(10) });
    const fast = node('fast', { inFlight: 1, backlogTokens: 200, rates: rates(50) });
    it.each([
      [10, 'slow'],
      [1000, 'fast'],
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
});
