import type { EstimateParts } from '../scheduler/scheduler.types';

/** What waits in the queue: no prompt, only what the scheduler needs. The request body stays with its replica. */
export interface Ticket {
  requestId: string;
  model: string;
  /** 1 (first) to 10 (last). */
  priority: number;
  /** Replica holding the client connection. */
  origin: string;
  promptTokens: number;
  outputTokens: number;
  outputTokensKnown: boolean;
  enqueuedAt: number;
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
