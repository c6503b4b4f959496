import { candidatesFor } from './candidates';
import { compareFreeSlotsThenName } from './rank-order';
import type { FleetSnapshot, NodeSnapshot, RankContext, RankedNode, RequestEstimate, Strategy } from './scheduler.types';

function occupancy(node: NodeSnapshot): number {
  return node.inFlight / node.slots;
}

/** Lowest share of busy slots first; a free node always has a share below 1, so free nodes lead. */
export class LeastConnectionsStrategy implements Strategy {
  readonly name = 'least-connections' as const;

  rank(request: RequestEstimate, fleet: FleetSnapshot, _ctx: RankContext): RankedNode[] {
    return candidatesFor(request, fleet)
      .sort((a, b) => occupancy(a.node) - occupancy(b.node) || compareFreeSlotsThenName(a.node, b.node))
      .map((c) => c.ranked);
  }
}
