import { eligibleNodes } from './eligibility';
import { estimateAll } from './estimate-completion';
import { compareNames, type Candidate } from './rank-order';
import type { FleetSnapshot, RequestEstimate } from './scheduler.types';

/** Eligible nodes in name order, each with its estimate: the common start of every strategy. */
export function candidatesFor(request: RequestEstimate, fleet: FleetSnapshot): Candidate[] {
  const nodes = eligibleNodes(fleet, request.model).sort((a, b) => compareNames(a.name, b.name));
  const ranked = estimateAll(request, nodes, fleet);
  return nodes.map((node, i) => ({ node, ranked: ranked[i] }));
}
