import { EctStrategy } from './ect.strategy';
import { LeastConnectionsStrategy } from './least-connections.strategy';
import { RandomStrategy } from './random.strategy';
import { RoundRobinStrategy } from './round-robin.strategy';
import type { Strategy, StrategyName } from './scheduler.types';
import { WeightedRoundRobinStrategy } from './weighted-round-robin.strategy';

export const STRATEGY_NAMES: readonly StrategyName[] = ['ect', 'least-connections', 'round-robin', 'weighted-round-robin', 'random'];

export function isStrategyName(name: string): name is StrategyName {
  return (STRATEGY_NAMES as readonly string[]).includes(name);
}

export function createStrategy(name: StrategyName): Strategy {
  switch (name) {
    case 'ect':
      return new EctStrategy();
    case 'least-connections':
      return new LeastConnectionsStrategy();
    case 'round-robin':
      return new RoundRobinStrategy();
    case 'weighted-round-robin':
      return new WeightedRoundRobinStrategy();
    case 'random':
      return new RandomStrategy();
  }
  // Reached only when an unchecked string slipped past the type (e.g. from the environment).
  throw new Error(`Unknown strategy "${String(name)}"; expected one of ${STRATEGY_NAMES.join(', ')}`);
}
