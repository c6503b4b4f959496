import type { PlacementRequest } from '../placement/grant';

/** What waits in the queue: no prompt, only what the scheduler needs. The request body stays with its replica. */
export interface Ticket extends PlacementRequest {
  /** 1 (first) to 10 (last). */
  priority: number;
  /** Replica holding the client connection. */
  origin: string;
  enqueuedAt: number;
}
