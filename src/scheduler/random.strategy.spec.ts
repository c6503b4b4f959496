import { RandomStrategy } from './random.strategy';
import { ctx, node, request } from './scheduler.fixture';

function sequenceRng(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

describe('RandomStrategy', () => {
  const strategy = new RandomStrategy();
  const nodes = [node('c'), node('a'), node('b'), node('d')];
  const order = (rng: () => number, fleet = nodes) => strategy.rank(request(), { nodes: fleet }, ctx({ rng })).map((r) => r.node);

  it('shuffles the name-ordered nodes with the given rng (Fisher-Yates)', () => {
    // [a b c d]: i=3 j=floor(0.5*4)=2 -> [a b d c]; i=2 j=floor(0.9*3)=2 -> same; i=1 j=floor(0*2)=0 -> [b a d c]
    expect(order(sequenceRng([0.5, 0.9, 0]))).toEqual(['b', 'a', 'd', 'c']);
    // Always the top of the range: nothing moves.
    expect(order(() => 0.999999)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('is a function of the rng: same draws, same order; other draws, other order', () => {
    expect(order(sequenceRng([0.3, 0.7, 0.1]))).toEqual(order(sequenceRng([0.3, 0.7, 0.1])));
    expect(order(sequenceRng([0.3, 0.7, 0.1]))).not.toEqual(order(sequenceRng([0.9, 0.1, 0.5])));
  });

  it('puts free nodes first', () => {
    const fleet = [node('a', { inFlight: 1 }), node('b'), node('c')];
    expect(order(() => 0.999999, fleet)).toEqual(['b', 'c', 'a']);
  });

  it('survives an rng that returns exactly 1', () => {
    expect(order(() => 1).sort()).toEqual(['a', 'b', 'c', 'd']);
  });
});
