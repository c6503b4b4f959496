/**
 * Plain data the scheduler decides from. Built by the fleet registry (src/fleet/fleet-snapshot.ts) from what it read from Redis; never touched by I/O here.
 * All times are milliseconds, all rates tokens per second.
 */

/** What Herd has learned about one model on one node (moving averages of Ollama's own timing fields). */
export interface ModelRates {
  /** Prompt evaluation rate: prompt_eval_count / prompt_eval_duration. */
  prefillTps?: number;
  /** Decode rate of one stream running alone on the node: eval_count / eval_duration, corrected for parallelism. */
  decodeTps?: number;
  /** Time to load the model when it is not resident: load_duration. */
  loadMs?: number;
  /** How much one extra concurrent stream slows each stream: per-stream rate = decodeTps / (1 + slowdown * (streams - 1)). */
  slowdown?: number;
  /** Number of observations folded into these averages. */
  samples: number;
}

export interface NodeModel {
  /** Full name with tag, e.g. `llama3:latest`. */
  name: string;
  sizeBytes?: number;
}

export interface NodeSnapshot {
  name: string;
  /** Requests the node serves at once (its OLLAMA_NUM_PARALLEL). */
  slots: number;
  /** Requests Herd has running on the node now (reservations in Redis). */
  inFlight: number;
  weight: number;
  /** Eligible as far as health goes: reachable and circuit not open. */
  healthy: boolean;
  draining: boolean;
  memoryGb?: number;
  /** Config hint used as a prior for decode speed before anything is measured. */
  tokensPerSecondHint?: number;
  /** Models the node has (from /api/tags). */
  models: NodeModel[];
  /** Models loaded in memory now (from /api/ps and from what Herd itself sent). */
  resident: string[];
  /** Estimated tokens (prompt + output) still to be processed by requests running on the node. */
  backlogTokens: number;
  /** Learned rates per model name. */
  rates: Record<string, ModelRates>;
}

export interface FleetSnapshot {
  nodes: NodeSnapshot[];
  /** Jobs waiting in the queue behind the one being placed, when the caller knows it. */
  queued?: number;
}

/** What the gateway knows about a request before it runs. */
export interface RequestEstimate {
  /** Full model name with tag. */
  model: string;
  promptTokens: number;
  /** num_predict / max_tokens when the client set one, else what the model has produced lately. */
  outputTokens: number;
  outputTokensKnown: boolean;
  /**
   * Prompt tokens each node probably still holds in its prompt cache (node name -> tokens; conversation
   * affinity, see prefix-chain.ts). Prefill is charged only for the rest. Absent: nothing cached anywhere.
   */
  cachedTokens?: Record<string, number>;
}

export interface EstimateParts {
  slotWaitMs: number;
  loadMs: number;
  prefillMs: number;
  /** Prompt tokens expected from the node's prompt cache, not charged to prefillMs. */
  cachedTokens?: number;
  /**
   * Prefill of prompt tokens another node holds in its cache: work done twice, which keeps this node's slot busy for
   * whoever comes next. Included in prefillMs (it is this request's time too); ECT's ranking charges it again.
   */
  repeatedPrefillMs?: number;
  decodeMs: number;
  /**
   * Part of the delay this request adds to the requests already running on the node (joining
   * slows every stream), charged to it so that near-ties go to the less loaded node.
   * Included in estimateMs; absent (0) for estimators that do not model it.
   */
  contentionMs?: number;
}

export interface RankedNode {
  node: string;
  /** Predicted time from now until the request completes on this node. */
  estimateMs: number;
  parts: EstimateParts;
  /** True when the node has a free slot right now (inFlight < slots). */
  free: boolean;
}

/** Everything impure a strategy may need, passed in so strategies stay deterministic. */
export interface RankContext {
  now: number;
  /** Uniform in [0, 1). */
  rng: () => number;
  /** Monotonic counter for rotating strategies (round-robin); shared or local, the caller decides. */
  sequence: number;
}

export type StrategyName = 'ect' | 'least-connections' | 'round-robin' | 'weighted-round-robin' | 'random';

export interface Strategy {
  readonly name: StrategyName;
  /** Eligible nodes for the request, best first (the rest are the failover order). Ineligible nodes are left out. */
  rank(request: RequestEstimate, fleet: FleetSnapshot, ctx: RankContext): RankedNode[];
}
