import { modelNotFoundError, modelRequiredError } from './http-errors';
import type { InferenceEngine } from './inference-engine';
import type { ModelEntry } from './model-catalog';
import { normaliseModelName } from './model-names';
import type { ModelStore } from './model-store';
import type { ResolvedNodeOptions } from './node-options';
import type { RequestContext } from './request-context';
import type { SimFault } from './types';

/** What route handlers may use of their node. */
export interface NodeServices {
  readonly options: ResolvedNodeOptions;
  readonly store: ModelStore;
  readonly engine: InferenceEngine;
  /** When the node started; modified_at of its configured models. */
  readonly startedAt: Date;
  fault(): SimFault | null;
  /** Waits `ms` simulated milliseconds (scaled by timeScale and any 'slow' fault). */
  sleepSim(ms: number, signal: AbortSignal): Promise<void>;
  /** Throws 503 busy when a 'busy' fault is set (inference routes only). */
  checkBusyFault(): void;
}

export type RouteHandler = (node: NodeServices, rc: RequestContext) => Promise<void>;

/** The model a request names, or the errors Ollama's inference routes give (400 missing, 404 unknown). */
export function requireModel(node: NodeServices, rc: RequestContext, name: string | undefined): ModelEntry {
  if (name === undefined || name.trim() === '') throw modelRequiredError();
  rc.entry.model = normaliseModelName(name);
  const entry = node.store.find(name);
  if (!entry) throw modelNotFoundError(name);
  return entry;
}
