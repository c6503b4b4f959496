import { candidatesFor } from './candidates';
import { freeFirst } from './rank-order';
import type { FleetSnapshot, RankContext, RankedNode, RequestEstimate, Strategy } from './scheduler.types';

/** Fisher-Yates shuffle driven by ctx.rng over the name-ordered eligible nodes; free ones first. */
export class RandomStrategy implements Strategy {
  readonly name = 'random' as const;

  rank(request: RequestEstimate, fleet: FleetSnapshot, ctx: RankContext): RankedNode[] {
    const shuffled = candidatesFor(request, fleet);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.min(i, Math.floor(ctx.rng() * (i + 1)));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    return freeFirst(shuffled).map((c) => c.ranked);
  }
}
