import type { NodeConfig } from '../config/herd-config';
import type { Grant } from '../placement/grant';
import type { FinalChunkTimings } from '../scheduler';
import type { RequestEstimate } from '../scheduler/scheduler.types';
import type { ModelEcho } from './model-echo';

/** One try of a request on one node: what the relay needs to write the node's answer to the client, and what it tells back. */
export interface Attempt {
  requestId: string;
  node: NodeConfig;
  grant: Grant;
  estimate: RequestEstimate;
  queueMs: number;
  /** Set by the relay once any byte went to the client: from then on failures are not retried elsewhere. */
  committed: boolean;
  /** Set by the relay from the last chunk, for learning. */
  final?: FinalChunkTimings;
  /** performance.now() when this attempt began. */
  startedAt: number;
  /**
   * Called by the relay once the node's answer is fully read: the node's slot is free from that moment, so
   * it is given back before the client sees the end (a client that sends its next request at once finds it).
   */
  upstreamDone: () => void;
  /** Set by the relay when the first byte went to the client (performance.now()). */
  firstByteAt?: number;
  signal: AbortSignal;
  /** Extra response headers from admission (e.g. a clamped priority). */
  headers?: Record<string, string>;
  /** Set when the node was sent its own spelling of the model: puts the client's back into the answer. */
  echo?: ModelEcho;
}
