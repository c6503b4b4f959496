import { candidatesFor } from './candidates';
import { compareFreeSlotsThenName } from './rank-order';
import type { FleetSnapshot, RankContext, RankedNode, RequestEstimate, Strategy } from './scheduler.types';

/** Estimates equal to the microsecond are ties, so float noise never decides between two nodes. */
function tieKey(ms: number): number {
  return Math.round(ms * 1000);
}

/**
 * Earliest estimated completion first. A busy node may come first: the caller then waits for a
 * slot and ranks again, which is how a fast busy node beats an idle slow one.
 */
export class EctStrategy implements Strategy {
  readonly name = 'ect' as const;

  rank(request: RequestEstimate, fleet: FleetSnapshot, _ctx: RankContext): RankedNode[] {
    return candidatesFor(request, fleet)
      .sort((a, b) => tieKey(a.ranked.estimateMs) - tieKey(b.ranked.estimateMs) || compareFreeSlotsThenName(a.node, b.node))
      .map((c) => c.ranked);
  }
}
