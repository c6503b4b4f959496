import type { NodeModel } from '../scheduler/scheduler.types';

/** What the last health poll (or dispatch) learned about a node; stored in Redis, shared by replicas. */
export interface NodeHealth {
  reachable: boolean;
  models: NodeModel[];
  resident: string[];
  /** Consecutive failed polls or dispatches. */
  failures: number;
  checkedAt: number;
  lastError?: string;
  version?: string;
  /** The node's /api/tags entries as it sent them, for the fleet-wide /api/tags. */
  tags?: OllamaTagEntry[];
}

export interface OllamaTagEntry {
  name: string;
  model?: string;
  size?: number;
  modified_at?: string;
  digest?: string;
  details?: Record<string, unknown>;
}

export interface OllamaTags {
  models?: OllamaTagEntry[];
}

export interface OllamaPs {
  models?: { name: string; model?: string; size?: number }[];
}
