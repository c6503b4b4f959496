import { ChunkWriter } from './chunk-writer';
import { msToNs, SimAbortError } from './clock';
import { HttpError } from './http-errors';
import type { GenerationResult, GenerationSpec, InferenceEngine } from './inference-engine';
import type { RequestContext } from './request-context';

/** Message of an 'error500' fault that gives none. */
export const DEFAULT_FAULT_MESSAGE = 'llama runner process has terminated: exit status 2';

/** How one API family spells a completion: token chunks, final chunks, errors, and the one-shot body. */
export interface CompletionFormat {
  contentType: string;
  tokenChunk(token: string): string;
  finalChunks(result: GenerationResult, totalNs: number): string[];
  /** The last chunk of a stream that fails after content was sent. */
  errorChunk(message: string): string;
  fullBody(text: string, result: GenerationResult, totalNs: number): unknown;
}

/**
 * Ollama's metrics. prompt_eval_count counts every prompt token, cached or not, and prompt_eval_duration only the time
 * spent on the evaluated ones: runner/ollamarunner/runner.go sets `numPromptInputs: len(inputs)` in NewSequence,
 * before LoadCacheSlot trims the cached prefix, and reports it as PromptEvalCount; llm/llama_server.go reports
 * `promptEvalCount() = CacheN + PromptN` with the duration of PromptN only. With `reportCachedTokens`, the cached
 * part is also given as `prompt_eval_cached_count` (ollama PR #17943).
 */
export function timingFields(result: GenerationResult, totalNs: number, reportCached = false): Record<string, number> {
  const fields: Record<string, number> = {
    total_duration: totalNs,
    load_duration: result.loadNs,
    prompt_eval_count: result.promptTokens,
  };
  if (reportCached) fields.prompt_eval_cached_count = result.cachedTokens;
  fields.prompt_eval_duration = result.promptEvalNs;
  fields.eval_count = result.evalCount;
  fields.eval_duration = result.evalNs;
  return fields;
}

/**
 * Runs a generation and answers it, streamed or in one piece.
 * An 'error500' fault that appears while a stream runs ends it with an error chunk (no done chunk);
 * a 'drop' fault is handled by the ChunkWriter (streams) or RequestContext.replyBody (one piece).
 */
export async function runCompletion(
  engine: InferenceEngine,
  rc: RequestContext,
  spec: GenerationSpec,
  format: CompletionFormat,
  stream: boolean,
): Promise<void> {
  if (stream) {
    const writer = new ChunkWriter(rc, format.contentType);
    let failed = false;
    const completed = await engine.generate(
      rc,
      spec,
      (tokens) => {
        const fault = rc.currentFault();
        if (fault?.kind === 'error500') {
          failed = true;
          const message = fault.message ?? DEFAULT_FAULT_MESSAGE;
          rc.entry.outcome = 'fault';
          writer.fail(500, message, format.errorChunk(message));
          return false;
        }
        const pieces = new Array<string>(tokens.length);
        for (let i = 0; i < tokens.length; i++) pieces[i] = format.tokenChunk(tokens[i]);
        return writer.write(pieces);
      },
      (result) => writer.end(format.finalChunks(result, msToNs(performance.now() - rc.t0))),
    );
    if (!completed && !failed && !writer.dropped) throw new SimAbortError();
    return;
  }

  const parts: string[] = [];
  const completed = await engine.generate(
    rc,
    spec,
    (tokens) => {
      for (const token of tokens) parts.push(token);
      return !rc.closed;
    },
    (result) => {
      const fault = rc.currentFault();
      if (fault?.kind === 'error500') throw new HttpError(500, fault.message ?? DEFAULT_FAULT_MESSAGE, 'fault');
      rc.replyJson(200, format.fullBody(parts.join(''), result, msToNs(performance.now() - rc.t0)));
    },
  );
  if (!completed) throw new SimAbortError();
}
