import { serviceCost } from '../scheduler/fair-order';
import type { PlacementRequest } from '../placement/grant';

/** What waits in the queue: no prompt, only what the scheduler needs. The request body stays with its replica. */
export interface Ticket extends PlacementRequest {
  /** 1 (first) to 10 (last); BATCH_PRIORITY in the batch lane. */
  priority: number;
  /** `batch`: never waits in the shared queue; takes a slot only where interactive work leaves one (ADR 008). */
  lane?: 'batch';
  /** Who the request is charged to (fair share inside a priority level). */
  tenant: string;
  /** The tenant's share weight when the request was admitted. */
  weight: number;
  /** Replica holding the client connection. */
  origin: string;
  enqueuedAt: number;
}

/** The batch lane's level: below every priority a client may ask for (1..10). */
export const BATCH_PRIORITY = 11;

/** What a request is expected to add to its tenant's fair-share counter, charged when it gets a slot. */
export function estimatedCost(ticket: Ticket): number {
  return serviceCost(ticket.promptTokens, ticket.outputTokens, ticket.weight);
}
