import type { Request, Response } from 'express';
import { resolvePriority } from '../common/priority';
import type { HerdCore } from '../core/herd-core';
import { normalizeModelName } from '../scheduler';
import { CHARS_PER_TOKEN } from '../scheduler/estimate-request';
import { bodyBytesOf } from '../common/json-body-check';
import { clientAbortSignal } from './client-signal';
import { relayStream, relayWhole, type StreamFormat } from './relay';

export interface RouteSpec {
  /** Node path the request goes to (Ollama serves the same paths). */
  path: string;
  model: string;
  bodyPriority?: number;
  /** Text for the prompt-size estimate. */
  promptText: string;
  numPredict?: number;
  stream: boolean;
  format: StreamFormat;
}

/** Runs one inference request through the queue and writes the node's answer to the client. */
export async function routeInference(core: HerdCore, req: Request, res: Response, spec: RouteSpec): Promise<void> {
  const priority = resolvePriority(spec.bodyPriority, req.headers['x-herd-priority']);
  const { priority: _drop, ...body } = req.body as Record<string, unknown>;
  await core.inference.execute(
    {
      route: req.path,
      model: normalizeModelName(spec.model),
      requestedModel: spec.model,
      priority,
      promptText: spec.promptText,
      numPredict: spec.numPredict,
      upstreamPath: spec.path,
      upstreamBody: { ...body, stream: spec.stream },
      bodyBytes: bodyBytesOf(req),
      stream: spec.stream,
    },
    clientAbortSignal(res),
    (upstream, attempt) => (spec.stream ? relayStream(upstream, res, attempt, spec.format) : relayWhole(upstream, res, attempt)),
  );
}

/** `num_predict` from Ollama options when it is a usable cap (negative means unlimited in Ollama). */
export function numPredictOf(options: Record<string, unknown> | undefined): number | undefined {
  const n = options?.num_predict;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** The text of an `input`/`prompt` list, for the estimate; a token id counts as one token's worth of text. */
export function inputText(input: string | string[] | number[] | number[][]): string {
  if (typeof input === 'string') return input;
  const tokens = (input as unknown[]).flat().filter((t) => typeof t === 'number').length;
  const texts = (input as unknown[]).filter((t): t is string => typeof t === 'string');
  return texts.join('\n') + ' '.repeat(tokens * CHARS_PER_TOKEN);
}

/** Concatenated text content of chat messages, for the estimate. */
export function messagesText(messages: { content?: unknown }[] | undefined): string {
  return (messages ?? []).map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n');
}
