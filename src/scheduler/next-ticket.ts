import { isEligible, type EligibilityView } from './eligibility';

/** A node as the pump sees it: the eligibility view plus how many of its slots are taken. */
export type PumpNodeView = EligibilityView & { inFlight: number };

const PIN = '\u0001';

/**
 * What a placement under way claims, as its placing mark carries it: its model, and the node it waits for when it
 * waits for one busy node in particular (a conversation's warm node, ADR 007). A pinned placement claims a free
 * slot on that node only, so it holds back nobody who could use another node.
 */
export function placingClaim(model: string, waitsFor?: string): string {
  return waitsFor === undefined ? model : `${model}${PIN}${waitsFor}`;
}

function parseClaim(claim: string): { model: string; waitsFor?: string } {
  const cut = claim.indexOf(PIN);
  return cut < 0 ? { model: claim } : { model: claim.slice(0, cut), waitsFor: claim.slice(cut + 1) };
}

/**
 * Which waiting ticket the queue pump should take next, given the fleet and the placements already under way.
 *
 * A placement under way holds no slot yet but will take one: each claims a free slot on a node that could
 * serve its model (greedily, in the order given), or on the one node it waits for (placingClaim). A ticket may
 * start when a node that could serve *its* model still has an unclaimed free slot. Tickets are tried in queue order (priority, then arrival), so a ticket
 * passes one ahead of it only when the one ahead could not use any slot that is free: a job for a busy model
 * never holds back a job that an idle node could take now, and priority decides whenever both could start.
 *
 * Returns the index into `waiting`, or undefined when every waiting ticket must wait.
 */
export function nextTicket(waiting: readonly { model: string }[], nodes: readonly PumpNodeView[], placingModels: readonly string[]): number | undefined {
  const free = new Map<string, number>();
  for (const n of nodes) {
    const room = Math.max(0, n.slots - n.inFlight);
    if (room > 0) free.set(n.name, room);
  }
  if (free.size === 0) return undefined;
  const servable = (model: string): PumpNodeView[] => nodes.filter((n) => (free.get(n.name) ?? 0) > 0 && isEligible(n, model));
  for (const claim of placingModels) {
    const { model, waitsFor } = parseClaim(claim);
    const node = servable(model).find((n) => waitsFor === undefined || n.name === waitsFor);
    if (node) free.set(node.name, free.get(node.name)! - 1);
  }
  for (let i = 0; i < waiting.length; i++) {
    if (servable(waiting[i].model).length > 0) return i;
  }
  return undefined;
}
