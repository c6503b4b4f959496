import { candidatesFor } from './candidates';
import { freeFirst, rotate } from './rank-order';
import type { FleetSnapshot, RankContext, RankedNode, RequestEstimate, Strategy } from './scheduler.types';

/** Eligible nodes in name order rotated by ctx.sequence; free ones first, each group in rotation order. */
export class RoundRobinStrategy implements Strategy {
  readonly name = 'round-robin' as const;

  rank(request: RequestEstimate, fleet: FleetSnapshot, ctx: RankContext): RankedNode[] {
    return freeFirst(rotate(candidatesFor(request, fleet), ctx.sequence)).map((c) => c.ranked);
  }
}
