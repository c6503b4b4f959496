import { LeastConnectionsStrategy } from './least-connections.strategy';
import { ctx, node, rates, request } from './scheduler.fixture';

describe('LeastConnectionsStrategy', () => {
  const strategy = new LeastConnectionsStrategy();

  it('orders by busy share of slots, then free slots, then name', () => {
    const nodes = [
      node('a', { slots: 2, inFlight: 0 }),
      node('b', { slots: 4, inFlight: 1 }),
      node('c', { slots: 2, inFlight: 1 }),
      node('d', { slots: 2, inFlight: 2 }),
      node('e', { slots: 4, inFlight: 0 }),
      node('f', { slots: 1, inFlight: 0 }),
    ];
    const ranked = strategy.rank(request(), { nodes }, ctx());
    expect(ranked.map((r) => r.node)).toEqual(['e', 'a', 'f', 'b', 'c', 'd']);
    expect(ranked.map((r) => r.free)).toEqual([true, true, true, true, true, false]);
  });

  it('ignores speed and still reports the estimate of each node', () => {
    const nodes = [node('fast', { inFlight: 1, slots: 2, rates: rates(100) }), node('slow', { slots: 2, rates: rates(1) })];
    const ranked = strategy.rank(request({ promptTokens: 0, outputTokens: 10 }), { nodes }, ctx());
    expect(ranked.map((r) => r.node)).toEqual(['slow', 'fast']);
    expect(ranked[0].estimateMs).toBe(10_000);
  });
});
