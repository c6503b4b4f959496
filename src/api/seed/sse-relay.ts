import { once } from 'node:events';
import { StringDecoder } from 'node:string_decoder';
import type { Response } from 'express';
import type { Attempt } from '../../relay/attempt';
import { relayWhole } from '../../relay/answer-relay';
import { setHerdHeaders } from '../../relay/herd-headers';
import type { FinalChunkTimings } from '../../scheduler';
import type { UpstreamResponse } from '../../upstream/ollama-node.client';
import { classifyUpstreamError } from '../../upstream/upstream-error';

/** One Server-Sent Event; `data` is one line of JSON, so it never needs splitting. */
export function sseEvent(data: string, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}data: ${data}\n\n`;
}

type OllamaChunk = FinalChunkTimings & { done?: boolean; error?: unknown };

/**
 * A node's NDJSON stream as Server-Sent Events, for Cluster LLM's POST /chat/stream: each chunk the node sends
 * becomes one `data: <chunk>` event, unchanged; the stream then ends with `event: end` (after the node's final
 * chunk, `done: true`) or with `event: error` carrying `{"error": "..."}`, never a silent cut. Nothing is sent
 * before the node's first complete chunk, so a node that fails before it can still be replaced by another.
 */
export async function relayNdjsonAsSse(upstream: UpstreamResponse, res: Response, attempt: Attempt): Promise<void> {
  if (upstream.statusCode !== 200) return relayWhole(upstream, res, attempt);
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let last: OllamaChunk | undefined;
  const send = async (line: string): Promise<void> => {
    const text = line.trim();
    if (!text) return;
    last = parseChunk(text);
    if (!attempt.committed) commit(res, attempt);
    const event = last?.error !== undefined ? sseEvent(JSON.stringify({ error: typeof last.error === 'string' ? last.error : JSON.stringify(last.error) }), 'error') : sseEvent(text);
    // With the signal: a client that leaves while the socket is full never sends 'drain'.
    if (!res.write(event)) await once(res, 'drain', { signal: attempt.signal });
  };
  const sendLines = async (text: string): Promise<void> => {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      await send(line);
    }
  };
  try {
    for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
      await sendLines(decoder.write(attempt.echo ? attempt.echo.chunk(chunk) : chunk));
    }
  } catch (err) {
    if (attempt.signal.aborted) throw err;
    // Before the first event another node may still serve the request; after it the caller writes the error event.
    throw classifyUpstreamError(err, attempt.node.name);
  }
  attempt.upstreamDone();
  const held = attempt.echo?.end();
  await sendLines((held ? decoder.write(held) : '') + decoder.end());
  await send(pending);
  if (!attempt.committed) {
    attempt.committed = true;
    res.status(502).json({ error: `herd: node ${attempt.node.name} answered an empty stream` });
    return;
  }
  if (last?.done === true) {
    attempt.final = last;
    res.end(sseEvent('{}', 'end'));
  } else if (last?.error !== undefined) {
    res.end(); // the node's own error was the last event
  } else {
    res.end(sseEvent(JSON.stringify({ error: `herd: node ${attempt.node.name} ended the stream before its final chunk` }), 'error'));
  }
}

/** Ends a stream that failed after its first event with an error event (the status line is gone). */
export function endWithErrorEvent(res: Response, message: string): void {
  if (!res.writableEnded) res.end(sseEvent(JSON.stringify({ error: message }), 'error'));
}

function commit(res: Response, attempt: Attempt): void {
  attempt.committed = true;
  attempt.firstByteAt = performance.now();
  setHerdHeaders(res, attempt);
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('X-Accel-Buffering', 'no');
}

function parseChunk(text: string): OllamaChunk | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}
