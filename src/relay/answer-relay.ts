import { once } from 'node:events';
import type { Response } from 'express';
import type { FinalChunkTimings } from '../scheduler';
import { setHerdHeaders } from './herd-headers';
import type { Attempt } from './attempt';
import type { UpstreamResponse } from '../upstream/ollama-node.client';
import { classifyUpstreamError } from '../upstream/upstream-error';

export type StreamFormat = 'ndjson' | 'sse';

/**
 * The node's answer to a non-streamed request, passed through byte for byte (its status too, 4xx included),
 * except for the echoed model name when the node was sent its own spelling (ModelEcho).
 */
export async function relayWhole(upstream: UpstreamResponse, res: Response, attempt: Attempt): Promise<void> {
  const text = await readWhole(upstream, attempt);
  setHerdHeaders(res, attempt);
  res.status(upstream.statusCode).type('application/json').send(text);
}

/**
 * The node's whole answer as text, the client's model spelling put back; the slot is free once it is read, and
 * the attempt is committed (nothing is retried after this) and learns from a 200's timings.
 */
export async function readWhole(upstream: UpstreamResponse, attempt: Attempt): Promise<string> {
  const raw = await upstream.body.text();
  const text = attempt.echo ? attempt.echo.text(raw) : raw;
  attempt.upstreamDone();
  attempt.committed = true;
  attempt.firstByteAt = performance.now();
  if (upstream.statusCode === 200) {
    try {
      attempt.final = JSON.parse(text) as FinalChunkTimings;
    } catch {
      // not JSON: nothing to learn from
    }
  }
  return text;
}

/**
 * The last bytes of a stream (at least `keep` of them), held as the chunks they came in: nothing is copied per
 * chunk, only once at the end, where the final line is read.
 */
class StreamTail {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly keep = 8192) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - this.chunks[0].length >= this.keep) this.size -= this.chunks.shift()!.length;
  }

  text(): string {
    return this.chunks.length === 1 ? this.chunks[0].toString('utf8') : Buffer.concat(this.chunks).toString('utf8');
  }

  /** Last complete line, for the final chunk's timings. */
  lastLine(): string {
    const lines = this.text().split('\n').map((l) => l.trim()).filter(Boolean);
    return lines[lines.length - 1] ?? '';
  }
}

/**
 * Streams the node's chunks to the client as they arrive. Nothing is sent before the first chunk, so a node
 * that fails before producing anything can still be replaced; after that the stream must end with the node's
 * own final chunk, or Herd writes an error line (NDJSON) or error event (SSE) — never a silent cut.
 */
export async function relayStream(upstream: UpstreamResponse, res: Response, attempt: Attempt, format: StreamFormat): Promise<void> {
  if (upstream.statusCode !== 200) return relayWhole(upstream, res, attempt);
  const tail = new StreamTail();
  try {
    for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
      if (!attempt.committed) {
        attempt.committed = true;
        attempt.firstByteAt = performance.now();
        setHerdHeaders(res, attempt);
        res.status(200);
        res.setHeader('Content-Type', format === 'ndjson' ? 'application/x-ndjson' : 'text/event-stream');
        res.setHeader('Cache-Control', 'no-cache');
        res.setHeader('X-Accel-Buffering', 'no');
      }
      // With the signal: a client that leaves while the socket is full never sends 'drain'.
      if (!res.write(attempt.echo ? attempt.echo.chunk(chunk) : chunk)) await once(res, 'drain', { signal: attempt.signal });
      tail.push(chunk);
    }
  } catch (err) {
    // A node that dies mid-body gets a clear message (and, before the first byte, a retry elsewhere).
    if (attempt.signal.aborted) throw err;
    // The error line that follows must not be glued to a half-written line or event.
    const end = format === 'ndjson' ? '\n' : '\n\n';
    const held = attempt.echo?.end();
    if (held && attempt.committed && !res.writableEnded) res.write(held);
    const text = tail.text();
    if (attempt.committed && !res.writableEnded && !text.endsWith(end)) res.write(format === 'sse' && text.endsWith('\n') ? '\n' : end);
    throw classifyUpstreamError(err, attempt.node.name);
  }
  attempt.upstreamDone();
  const held = attempt.echo?.end();
  if (held) res.write(held);
  const last = tail.lastLine();
  if (format === 'ndjson') {
    let final: (FinalChunkTimings & { done?: boolean; error?: string; status?: string }) | undefined;
    try {
      final = JSON.parse(last) as typeof final;
    } catch {
      final = undefined;
    }
    if (final?.done === true) attempt.final = final;
    else if (final?.error === undefined && final?.status !== 'success') {
      res.write(JSON.stringify({ error: `herd: node ${attempt.node.name} ended the stream before its final chunk` }) + '\n');
    }
  } else if (last !== 'data: [DONE]') {
    res.write(`data: ${JSON.stringify({ error: { message: `herd: node ${attempt.node.name} ended the stream early`, type: 'server_error', code: 'HERD_UPSTREAM_RESET' } })}\n\n`);
  }
  if (!attempt.committed) {
    // An empty 200 body: answer with an error rather than nothing.
    attempt.committed = true;
    res.status(502).json({ error: `herd: node ${attempt.node.name} answered an empty stream` });
    return;
  }
  res.end();
}
