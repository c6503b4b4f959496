import { RoundRobinStrategy } from './round-robin.strategy';
import { ctx, node, request } from './scheduler.fixture';

describe('RoundRobinStrategy', () => {
  const strategy = new RoundRobinStrategy();
  const order = (sequence: number, nodes = [node('c'), node('a'), node('b')]) =>
    strategy.rank(request(), { nodes }, ctx({ sequence })).map((r) => r.node);

  it.each([
    [0, ['a', 'b', 'c']],
    [1, ['b', 'c', 'a']],
    [2, ['c', 'a', 'b']],
    [3, ['a', 'b', 'c']],
    [5, ['c', 'a', 'b']],
    [-1, ['c', 'a', 'b']],
  ])('sequence %p starts the rotation at %p', (sequence, expected) => {
    expect(order(sequence)).toEqual(expected);
  });

  it('gives each node one first place per cycle', () => {
    const firsts = [0, 1, 2, 3, 4, 5].map((s) => order(s)[0]);
    expect(firsts).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('puts busy nodes after the free ones, keeping the rotation order', () => {
    const nodes = [node('a'), node('b', { inFlight: 1 }), node('c')];
    expect(order(1, nodes)).toEqual(['c', 'a', 'b']);
  });

  it('rotates over eligible nodes only', () => {
    const nodes = [node('a'), node('b', { healthy: false }), node('c')];
    expect(order(1, nodes)).toEqual(['c', 'a']);
  });
});
