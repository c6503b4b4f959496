/** Public types of the Ollama simulator. Everything here is plain data; behaviour lives in sim-node.ts. */

import type { PromptCacheSnapshot } from './prompt-cache';

export type { PromptCacheSnapshot, PromptCacheStats } from './prompt-cache';

export interface SimModel {
  /** Model name; an untagged name means `:latest` ('llama3' is 'llama3:latest'). */
  name: string;
  sizeBytes?: number;
  family?: string;
  parameterSize?: string;
  quantization?: string;
  /** Length of the vectors /api/embed returns for this model. Default: known value for well-known models, else 384. */
  embeddingDims?: number;
}

export interface SimNodeOptions {
  name: string;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  models: SimModel[];
  /** Models loaded at start (default: none). They stay loaded until a request gives them a keep_alive. */
  resident?: string[];
  /** Requests served at once (OLLAMA_NUM_PARALLEL). Default 1. */
  slots?: number;
  /** FIFO queue behind the slots; when this many already wait, a new request gets 503 busy. Default 512. */
  maxQueue?: number;
  /** Prompt tokens per second. Default 1000. */
  prefillTps?: number;
  /** Tokens per second of one stream running alone. Default 30. */
  decodeTps?: number;
  /** Per-stream decode rate = decodeTps / (1 + parallelSlowdown * (activeStreams - 1)). Default 0.3. */
  parallelSlowdown?: number;
  /** Model load time when not resident, in ms. Default 2000. */
  loadMs?: number;
  /** Default 3; loading another model evicts the least recently used idle one. */
  maxLoadedModels?: number;
  /** Multiplies every simulated delay: 1 = real time, 0.01 = 100x faster, 0 = instant. Default 1. */
  timeScale?: number;
  /** Reported by /api/version. Default '0.12.6'. */
  version?: string;
  /** Cap for drawn output lengths (not for an explicit num_predict / max_tokens). Default 1024. */
  maxOutputTokens?: number;
  /**
   * Find models only under their exact spelling (the tag still defaults to `latest`), as older Ollama servers
   * on case-sensitive file systems did: `TinyLlama` is "not found" on a node that has `tinyllama:latest`.
   * Default false: case-insensitive, like current Ollama.
   */
  caseSensitiveNames?: boolean;
  /**
   * Host-RAM prompt cache (llama.cpp's `--cache-ram`, which Ollama's llama-server engine runs): sequences kept per
   * loaded model when a slot moves on to another prompt, restored into a slot when they match a new prompt better.
   * 0 = none (default). Every slot always keeps its last sequence regardless (see sim/README.md, "Prompt cache").
   */
  promptCacheEntries?: number;
  /** Tokens per second at which a host-RAM entry is copied back into a slot (the restore cost). Default 50000. */
  promptCacheRestoreTps?: number;
  /**
   * OLLAMA_MULTIUSER_CACHE: reuse a slot only when its whole sequence is a prefix of the prompt, else take the least
   * recently used slot and copy the longest common prefix into it. Default false (the longest prefix wins).
   */
  multiUserCache?: boolean;
  /**
   * Report the cached part of the prompt, as Ollama does since it reports cached prompt tokens (ollama PR #17943):
   * `prompt_eval_cached_count` on native final chunks and `usage.prompt_tokens_details.cached_tokens` on /v1.
   * Default false, like the 0.12 series the simulator imitates by default.
   */
  reportCachedTokens?: boolean;
}

export type SimOutcome = 'ok' | 'canceled' | 'error' | 'busy' | 'not_found' | 'bad_request' | 'fault';

export interface SimLogEntry {
  id: number;
  node: string;
  /** Path of the route, e.g. '/api/generate'; parameterised routes use '/api/blobs/:digest' and '/v1/models/:model'. */
  route: string;
  /** Normalised model name ('llama3:latest'), '' when the route has none. */
  model: string;
  /** Epoch milliseconds with sub-millisecond precision. */
  receivedAt: number;
  /** When the request got a slot (inference) or began being handled (other routes). */
  startedAt?: number;
  /** When the first byte of the response body was written. */
  firstByteAt?: number;
  endedAt?: number;
  outcome: SimOutcome;
  promptTokens: number;
  /** Prompt tokens served from the prompt cache (slot or host RAM) instead of evaluated; 0 for non-generations. */
  cachedTokens: number;
  /** Tokens generated (so far, for a canceled request). */
  evalCount: number;
  /** Requests holding a slot on this node when this one got its slot, itself included (0 if it never got one). */
  activeAtStart: number;
  /** Value of the X-Herd-Priority request header, if any. */
  priorityHeader?: string;
}

export type SimFault =
  | { kind: 'down' }
  | { kind: 'error500'; message?: string }
  | { kind: 'hang' }
  | { kind: 'slow'; factor: number }
  | { kind: 'drop'; afterChunks: number }
  | { kind: 'busy' };

export interface SimNode {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly log: SimLogEntry[];
  setFault(fault: SimFault | null): void;
  /** Requests holding a slot now. */
  active(): number;
  /** Requests waiting for a slot. */
  queued(): number;
  /** High-water mark of active() since start or the last resetLog(). */
  maxActiveSeen(): number;
  /** Also resets the prompt-cache counters. */
  resetLog(): void;
  /** Prompt-cache counters (since start or resetLog()) and what every loaded model's slots and host RAM hold. */
  promptCache(): PromptCacheSnapshot;
  /** Closes the listener and destroys every socket (a real "node is down"); models, residency and log are kept. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Stops for good. */
  close(): Promise<void>;
}

export interface SimFleetConfig {
  /** Applies to every node that does not set its own timeScale. */
  timeScale?: number;
  nodes: SimNodeOptions[];
}

export interface SimFleet {
  nodes: SimNode[];
  close(): Promise<void>;
}
