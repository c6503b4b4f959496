import type { Request, Response } from 'express';
import { inferenceRequestFrom, type RequestSpec } from '../admission/inference-request';
import type { HerdCore } from '../core/herd-core';
import { relayStream, relayWhole, type StreamFormat } from '../relay/answer-relay';
import { clientAbortSignal } from '../relay/client-signal';

/** What an inference route read from its body, and how its answer streams (NDJSON for Ollama, SSE for OpenAI). */
export interface RouteSpec extends RequestSpec {
  format: StreamFormat;
}

/** Runs one inference request through the pipeline and writes the node's answer to the client. */
export async function routeInference(core: HerdCore, req: Request, res: Response, spec: RouteSpec): Promise<void> {
  await core.inference.execute(inferenceRequestFrom(req, spec), clientAbortSignal(res), (upstream, attempt) =>
    spec.stream ? relayStream(upstream, res, attempt, spec.format) : relayWhole(upstream, res, attempt),
  );
}
