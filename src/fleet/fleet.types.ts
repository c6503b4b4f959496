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
}

export interface OllamaTags {
  models?: { name: string; model?: string; size?: number }[];
}

export interface OllamaPs {
  models?: { name: string; model?: string; size?: number }[];
}
