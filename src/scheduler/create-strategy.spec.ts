import { createStrategy, isStrategyName, STRATEGY_NAMES } from './create-strategy';
import { ctx, MODEL, node, rates, request } from './scheduler.fixture';
import type { StrategyName } from './scheduler.types';

describe('createStrategy', () => {
  it.each(STRATEGY_NAMES.map((n) => [n]))('creates %p', (name) => {
    expect(createStrategy(name).name).toBe(name);
  });

  it('throws on a name that is not a strategy', () => {
    expect(() => createStrategy('fastest' as StrategyName)).toThrow(/Unknown strategy "fastest"/);
  });

  it('knows its names', () => {
    expect(isStrategyName('ect')).toBe(true);
    expect(isStrategyName('fastest')).toBe(false);
  });
});

describe.each(STRATEGY_NAMES.map((n) => [n]))('every strategy: %s', (name) => {
  const strategy = createStrategy(name);
  const fleet = {
    nodes: [
      node('busy', { inFlight: 1, backlogTokens: 50, rates: rates(40) }),
      node('no-model', { models: [{ name: 'mistral:latest' }] }),
      node('draining', { draining: true }),
      node('too-small', { memoryGb: 1, models: [{ name: MODEL, sizeBytes: 2 * 1024 ** 3 }] }),
      node('free', { rates: rates(20) }),
      node('down', { healthy: false }),
    ],
  };

  it('ranks only eligible nodes, free before busy, with the shared estimate', () => {
    const ranked = strategy.rank(request({ model: 'llama3' }), fleet, ctx({ rng: () => 0.42, sequence: 7 }));
    const ect = createStrategy('ect').rank(request({ model: 'llama3' }), fleet, ctx());
    expect(ranked.map((r) => r.node).sort()).toEqual(['busy', 'free']);
    const byName = (xs: typeof ranked) => [...xs].sort((a, b) => (a.node < b.node ? -1 : 1));
    expect(byName(ranked)).toEqual(byName(ect));
    if (name !== 'ect') expect(ranked[0].node).toBe('free');
  });

  it('returns nothing when no node has the model', () => {
    expect(strategy.rank(request({ model: 'phi3' }), fleet, ctx())).toEqual([]);
  });
});
