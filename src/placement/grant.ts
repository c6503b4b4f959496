import type { EstimateParts, RequestEstimate } from '../scheduler/scheduler.types';

/** What placing a request needs to know of it: its id and the scheduler's estimate of its size. */
export interface PlacementRequest extends RequestEstimate {
  requestId: string;
}

/** A slot reserved for a request on a node. */
export interface Grant {
  requestId: string;
  node: string;
  estimateMs: number;
  parts: EstimateParts;
  /** Replica whose worker placed the ticket. */
  placedBy: string;
  placedAt: number;
  /** Streams running on the node once this one starts (for learning the parallel slowdown). */
  streams: number;
}
