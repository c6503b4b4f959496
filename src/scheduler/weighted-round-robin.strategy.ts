import { candidatesFor } from './candidates';
import { freeFirst } from './rank-order';
import type { FleetSnapshot, RankContext, RankedNode, RequestEstimate, Strategy } from './scheduler.types';

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Weights are kept to two decimals, as integers divided by their gcd so a cycle is as short as it can be. */
const WEIGHT_SCALE = 100;

export function cycleWeights(weights: number[]): number[] {
  const ints = weights.map((w) => (Number.isFinite(w) ? Math.max(0, Math.round(w * WEIGHT_SCALE)) : 0));
  const divisor = ints.reduce(gcd, 0);
  return divisor > 1 ? ints.map((w) => w / divisor) : ints;
}

/**
 * Nginx's smooth weighted round-robin replayed from a zero state, so the pick at `position` is a
 * pure function of the weights and the position (the sequence repeats every sum-of-weights picks).
 * Returns indices in the order they are first picked from `position` on; zero weights never appear.
 */
export function smoothWeightedOrder(weights: number[], position: number): number[] {
  const w = cycleWeights(weights);
  const total = w.reduce((s, x) => s + x, 0);
  if (total === 0) return [];
  const start = ((Math.trunc(position) % total) + total) % total;
  const current = w.map(() => 0);
  const step = (): number => {
    let best = -1;
    for (let i = 0; i < w.length; i++) {
      if (w[i] === 0) continue;
      current[i] += w[i];
      if (best === -1 || current[i] > current[best]) best = i;
    }
    current[best] -= total;
    return best;
  };
  for (let i = 0; i < start; i++) step();
  const order: number[] = [];
  const wanted = w.filter((x) => x > 0).length;
  while (order.length < wanted) {
    const pick = step();
    if (!order.includes(pick)) order.push(pick);
  }
  return order;
}

/** Smooth weighted rotation by ctx.sequence; nodes of weight 0 come last; free nodes first. */
export class WeightedRoundRobinStrategy implements Strategy {
  readonly name = 'weighted-round-robin' as const;

  rank(request: RequestEstimate, fleet: FleetSnapshot, ctx: RankContext): RankedNode[] {
    const candidates = candidatesFor(request, fleet);
    const order = smoothWeightedOrder(
      candidates.map((c) => c.node.weight),
      ctx.sequence,
    );
    const rest = candidates.filter((_, i) => !order.includes(i));
    return freeFirst([...order.map((i) => candidates[i]), ...rest]).map((c) => c.ranked);
  }
}
