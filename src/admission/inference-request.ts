import type { Request } from 'express';
import { completeModelName, normalizeModelName } from '../scheduler/model-name';
import { bodyBytesOf } from './json-body-check';
import { presentedKey } from '../security/access';
import type { Caller } from '../tenants/caller';
import { resolvePriority } from './priority';

/** One inference request as the pipeline sees it, read from the client's HTTP request once its body is valid. */
export interface InferenceRequest {
  /** Route the client called, for metrics and logs. */
  route: string;
  /** The model's normalised name (normalizeModelName): what Herd routes, queues and learns by. */
  model: string;
  /** The model as the client spelled it: Herd's messages name it and answers echo it. Default: `model`. */
  requestedModel?: string;
  priority: number;
  /** Text used for the prompt-size estimate (prompt, or all messages). */
  promptText: string;
  /** The prompt cut where another request may share its beginning (messages, or blocks); see prefix-chain.ts. */
  prefixParts?: () => string[];
  numPredict?: number;
  upstreamPath: string;
  upstreamBody: Record<string, unknown>;
  /** Size of the client's body: what this request holds in memory while it waits in the queue. */
  bodyBytes: number;
  /** Streams wait for the first chunk only this long; whole answers may take the full request timeout. */
  stream: boolean;
  /** The API key sent (`Authorization: Bearer`, or X-Api-Key), checked by admission when keys are on. */
  credential?: string;
  /** X-Herd-Tenant, honoured only with keys off. */
  tenantHeader?: string;
  /** `batch`: the batch lane (ADR 008), below every interactive priority, only into slots interactive work leaves. */
  lane?: 'interactive' | 'batch';
  /** Who asked, already known (a batch line runs as the key that created its batch): admission checks no key. */
  caller?: Caller;
}

/** What a route read from its validated body. */
export interface RequestSpec {
  /** Node path the request goes to (Ollama serves the same paths). */
  path: string;
  model: string;
  bodyPriority?: number;
  /** Text for the prompt-size estimate. */
  promptText: string;
  /** The prompt's parts for conversation affinity (chat messages, or raw prompt blocks); absent: no affinity. */
  prefixParts?: () => string[];
  numPredict?: number;
  stream: boolean;
  /** The body the node gets, when not the client's own (an adapter route that reshapes it); priority is dropped. */
  body?: Record<string, unknown>;
}

/**
 * The pipeline's request: the priority resolved (body, else X-Herd-Priority, else 5) and taken out of the body
 * the node gets, the model normalised, `stream` made explicit for the node.
 */
export function inferenceRequestFrom(req: Request, spec: RequestSpec): InferenceRequest {
  const priority = resolvePriority(spec.bodyPriority, req.headers['x-herd-priority']);
  const { priority: _drop, ...body } = (spec.body ?? req.body) as Record<string, unknown>;
  return {
    route: req.path,
    model: normalizeModelName(spec.model),
    requestedModel: spec.model,
    priority,
    promptText: spec.promptText,
    prefixParts: spec.prefixParts,
    numPredict: spec.numPredict,
    upstreamPath: spec.path,
    upstreamBody: { ...body, stream: spec.stream },
    bodyBytes: bodyBytesOf(req),
    stream: spec.stream,
    credential: presentedKey(req.headers, 'x-api-key'),
    tenantHeader: headerValue(req.headers['x-herd-tenant']),
  };
}

/** The model as Herd names it to the client: the client's spelling, with its tag. */
export function askedModel(req: InferenceRequest): string {
  return completeModelName(req.requestedModel ?? req.model);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
