import { ctx, node, request } from './scheduler.fixture';
import { cycleWeights, smoothWeightedOrder, WeightedRoundRobinStrategy } from './weighted-round-robin.strategy';

describe('cycleWeights', () => {
  it.each([
    [[5, 1, 1], [5, 1, 1]],
    [[10, 2, 2], [5, 1, 1]],
    [[2.6, 0.4, -3, NaN], [13, 2, 0, 0]],
    [[0.5, 0.25], [2, 1]],
    [[0.001, 1], [0, 1]],
    [[0, 0], [0, 0]],
  ])('%p -> %p', (input, expected) => {
    expect(cycleWeights(input)).toEqual(expected);
  });
});

describe('smoothWeightedOrder', () => {
  it('interleaves picks like nginx: a a b a c a a for weights 5, 1, 1', () => {
    const firsts = [0, 1, 2, 3, 4, 5, 6].map((p) => 'abc'[smoothWeightedOrder([5, 1, 1], p)[0]]);
    expect(firsts.join(' ')).toBe('a a b a c a a');
  });

  it('lists every weighted node once, in the order they come up next', () => {
    expect(smoothWeightedOrder([5, 1, 1], 2)).toEqual([1, 0, 2]);
    expect(smoothWeightedOrder([1, 0, 1], 0)).toEqual([0, 2]);
    expect(smoothWeightedOrder([0, 0], 3)).toEqual([]);
  });
});

describe('WeightedRoundRobinStrategy', () => {
  const strategy = new WeightedRoundRobinStrategy();
  const nodes = [node('small', { weight: 1 }), node('big', { weight: 3 }), node('mid', { weight: 2 })];
  const first = (sequence: number, fleet = nodes) => strategy.rank(request(), { nodes: fleet }, ctx({ sequence }))[0].node;

  it('gives each node its weight’s share of first places over a cycle, and repeats', () => {
    const cycle = [0, 1, 2, 3, 4, 5].map((s) => first(s));
    const counts = Object.fromEntries(['big', 'mid', 'small'].map((n) => [n, cycle.filter((x) => x === n).length]));
    expect(counts).toEqual({ big: 3, mid: 2, small: 1 });
    expect([6, 7, 8, 9, 10, 11].map((s) => first(s))).toEqual(cycle);
  });

  it('ranks every eligible node, free first, weight 0 last among them', () => {
    const fleet = [node('zero', { weight: 0 }), node('busy', { weight: 5, inFlight: 1 }), node('one', { weight: 1 })];
    const order = strategy.rank(request(), { nodes: fleet }, ctx({ sequence: 0 })).map((r) => r.node);
    expect(order).toEqual(['one', 'zero', 'busy']);
  });
});
