import { Injectable } from '@nestjs/common';
import type { InferenceRequest } from '../admission/inference-request';
import { resolvePriority } from '../admission/priority';
import { specReaderFor, type RouteSpec } from '../admission/route-specs';
import { HerdError } from '../common/herd-error';
import { readWhole } from '../relay/answer-relay';
import { normalizeModelName } from '../scheduler/model-name';
import type { Caller } from '../tenants/caller';
import { InferenceService } from './inference.service';

export interface DirectCallOptions {
  /** `batch`: the batch lane (ADR 008); `interactive` (default): the shared queue at `priority`. */
  lane?: 'interactive' | 'batch';
  /** 1 (first) to 10 (last); default: the body's `priority`, else 5. Ignored in the batch lane. */
  priority?: number;
  /** Who submitted the work, as admitted then (its tenant and weight are charged); absent: the shared tenant. */
  caller?: Caller;
  signal?: AbortSignal;
}

/** A node's whole answer to a call made without an HTTP client: its status and its JSON. */
export interface DirectAnswer {
  status: number;
  /** The node's JSON answer (its error object for a 4xx), or `{error}` when it sent something else. */
  body: unknown;
  requestId: string;
  node: string;
}

/**
 * Runs one inference request that has no HTTP client of its own (a batch line, an async job) through the same
 * pipeline as a client's request: admit → queue → place → relay → learn. The answer is read whole (never streamed).
 * Herd's own failures (no node for the model, queue timeout, Redis down, no room in the batch lane) reject
 * with a HerdError; an answer from a node, 4xx included, resolves.
 */
@Injectable()
export class DirectCall {
  constructor(private readonly inference: InferenceService) {}

  /** The body read for `route` (HerdError 400 for an unknown route or a bad body), without running anything. */
  check(route: string, body: unknown): RouteSpec {
    const reader = specReaderFor(route);
    if (!reader) throw HerdError.badRequest(`herd: "${String(route).slice(0, 100)}" is not an inference route`);
    return reader(body);
  }

  async run(route: string, body: unknown, opts: DirectCallOptions = {}): Promise<DirectAnswer> {
    const spec = this.check(route, body);
    const { priority: _drop, ...rest } = body as Record<string, unknown>;
    const upstreamBody = { ...rest, stream: false };
    const req: InferenceRequest = {
      route,
      model: normalizeModelName(spec.model),
      requestedModel: spec.model,
      priority: opts.caller?.priority ?? resolvePriority(opts.priority ?? spec.bodyPriority, undefined),
      promptText: spec.promptText,
      prefixParts: spec.prefixParts,
      numPredict: spec.numPredict,
      upstreamPath: spec.path,
      upstreamBody,
      bodyBytes: Buffer.byteLength(JSON.stringify(upstreamBody)),
      stream: false,
      lane: opts.lane ?? 'interactive',
      caller: opts.caller,
    };
    const signal = opts.signal ?? new AbortController().signal;
    return await this.inference.execute(req, signal, async (upstream, attempt) => {
      const text = await readWhole(upstream, attempt);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { error: text.slice(0, 1000) };
      }
      return { status: upstream.statusCode, body: parsed, requestId: attempt.requestId, node: attempt.node.name };
    });
  }
}
