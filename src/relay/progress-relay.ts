import { once } from 'node:events';
import { StringDecoder } from 'node:string_decoder';
import type { Response } from 'express';
import { CanceledError, HerdError } from '../common/herd-error';
import type { NodeConfig } from '../config/herd-config';
import type { OllamaNodeClient, UpstreamResponse } from '../upstream/ollama-node.client';
import { classifyUpstreamError } from '../upstream/upstream-error';

/** How one node's part of an admin operation ended. */
export interface NodeOutcome {
  node: string;
  ok: boolean;
  /** HTTP status the node answered with (or Herd's status for a transport failure). */
  status: number;
  /** The node's own words (or Herd's for a transport failure), without the node name. */
  error?: string;
}

export interface AdminTimeouts {
  /** Until the node's response headers arrive. */
  headersTimeoutMs: number;
  /** Longest silence between two chunks of the node's answer. */
  bodyTimeoutMs: number;
}

/** One progress operation (pull, push, create) run on one or several nodes. */
export interface ProgressJob {
  /** Node path: /api/pull, /api/push or /api/create. */
  path: string;
  /** Body for the nodes; `stream` is forced to true there, whatever the client asked, so Herd sees progress. */
  body: Record<string, unknown>;
  nodes: NodeConfig[];
  /** What the client asked for: NDJSON progress (true) or one JSON object at the end (false). */
  stream: boolean;
  /**
   * Several nodes: every forwarded line carries a `node` field and errors are named "node X: ...".
   * One node: its lines and its error messages pass unchanged, as if the client talked to it directly.
   */
  fanOut: boolean;
  /** Runs once every node is done and before the final line is written (Herd polls the fleet here). */
  afterAll?: (outcomes: NodeOutcome[]) => Promise<void>;
}

const NDJSON = 'application/x-ndjson';

/** Text of a node's error body: its `error` field when it is Ollama's JSON, else the raw text. */
export function errorText(text: string, status: number): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
    if (parsed.error && typeof parsed.error === 'object' && typeof (parsed.error as { message?: unknown }).message === 'string') return (parsed.error as { message: string }).message;
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 300) || `status ${status}`;
}

/** A transport failure as a short phrase: "unreachable (ECONNREFUSED)", "timed out (...)", "other side closed". */
export function transportOutcome(err: unknown, node: string): NodeOutcome {
  const e = classifyUpstreamError(err, node);
  const detail = e.message.replace(`herd: node ${node} `, '').replace(/^is /, '').replace(/^failed: /, '');
  return { node, ok: false, status: e.status, error: detail };
}

/** One status for several failures: theirs when they agree, else 502 (the fleet disagrees). */
export function combinedStatus(failures: NodeOutcome[]): number {
  const statuses = new Set(failures.map((f) => f.status));
  return statuses.size === 1 ? [...statuses][0] : 502;
}

/** The message a client sees for failed nodes. */
export function combinedMessage(failures: NodeOutcome[], fanOut: boolean): string {
  if (!fanOut && failures.length === 1) return failures[0].error ?? 'failed';
  return failures.map((f) => `node ${f.node}: ${f.error ?? 'failed'}`).join('; ');
}

export function failureError(failures: NodeOutcome[], fanOut: boolean): HerdError {
  const status = combinedStatus(failures);
  const code = status === 400 ? 'HERD_BAD_REQUEST' : status === 404 ? 'HERD_NOT_FOUND' : 'HERD_UPSTREAM_ERROR';
  return new HerdError(status, code, combinedMessage(failures, fanOut));
}

/** Writes NDJSON lines from several producers; waits for the socket to drain, gives up when the client left. */
class LineWriter {
  private draining?: Promise<void>;

  constructor(
    private readonly res: Response,
    private readonly signal: AbortSignal,
  ) {}

  get open(): boolean {
    return !this.res.writableEnded && !this.res.destroyed;
  }

  async write(line: Record<string, unknown>): Promise<void> {
    if (!this.open) return;
    if (this.res.write(JSON.stringify(line) + '\n')) return;
    this.draining ??= once(this.res, 'drain', { signal: this.signal }).then(
      () => {
        this.draining = undefined;
      },
      () => {
        this.draining = undefined;
      },
    );
    await this.draining;
  }

  end(line: Record<string, unknown>): void {
    if (this.open) this.res.end(JSON.stringify(line) + '\n');
  }
}

interface Opened {
  node: NodeConfig;
  upstream?: UpstreamResponse;
  failure?: NodeOutcome;
}

async function open(client: OllamaNodeClient, node: NodeConfig, job: ProgressJob, timeouts: AdminTimeouts, signal: AbortSignal): Promise<Opened> {
  try {
    const upstream = await client.request(node, {
      method: 'POST',
      path: job.path,
      body: JSON.stringify({ ...job.body, stream: true }),
      signal,
      headersTimeoutMs: timeouts.headersTimeoutMs,
      bodyTimeoutMs: timeouts.bodyTimeoutMs,
    });
    if (upstream.statusCode === 200) return { node, upstream };
    const text = await upstream.body.text().catch(() => '');
    return { node, failure: { node: node.name, ok: false, status: upstream.statusCode, error: errorText(text, upstream.statusCode) } };
  } catch (err) {
    return { node, failure: transportOutcome(err, node.name) };
  }
}

/**
 * Reads one node's progress lines until its `success` or `error` line. Progress lines are forwarded (with
 * `node` when fanning out); the node's own success and error lines never are: the client gets exactly one
 * final line for the whole operation.
 */
async function pump(opened: Opened & { upstream: UpstreamResponse }, writer: LineWriter | undefined, fanOut: boolean): Promise<NodeOutcome> {
  const name = opened.node.name;
  const decoder = new StringDecoder('utf8');
  let buffer = '';
  const handle = async (raw: string): Promise<NodeOutcome | undefined> => {
    const text = raw.trim();
    if (!text) return undefined;
    let line: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
      line = parsed as Record<string, unknown>;
    } catch {
      return undefined; // not a progress line: nothing a client could use
    }
    if (line.error !== undefined) return { node: name, ok: false, status: 500, error: typeof line.error === 'string' ? line.error : JSON.stringify(line.error) };
    if (line.status === 'success') return { node: name, ok: true, status: 200 };
    await writer?.write(fanOut ? { ...line, node: name } : line);
    return undefined;
  };
  try {
    for await (const chunk of opened.upstream.body as AsyncIterable<Buffer>) {
      buffer += decoder.write(chunk);
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const outcome = await handle(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        if (outcome) return outcome; // leaving the loop closes the node's body
      }
    }
    const outcome = await handle(buffer + decoder.end());
    if (outcome) return outcome;
    return { node: name, ok: false, status: 502, error: 'ended the stream before its success line' };
  } catch (err) {
    return transportOutcome(err, name);
  }
}

/**
 * Runs a progress operation (pull, push, create) on the job's nodes at once and answers the client with ONE
 * stream (or one object): the nodes' progress interleaved, then exactly one `{"status":"success"}` when all
 * succeeded, or one `{"error": "node X: ..."}` line when any failed. A failure before any node produced a
 * line gets a real status instead.
 */
export async function relayProgress(client: OllamaNodeClient, timeouts: AdminTimeouts, job: ProgressJob, res: Response, signal: AbortSignal): Promise<void> {
  const opened = await Promise.all(job.nodes.map((node) => open(client, node, job, timeouts, signal)));
  if (signal.aborted) throw new CanceledError();
  const live = opened.filter((o): o is Opened & { upstream: UpstreamResponse } => o.upstream !== undefined);
  if (live.length === 0) {
    // Nothing reached the client yet: the failure gets a real status.
    throw failureError(
      opened.map((o) => o.failure!),
      job.fanOut,
    );
  }
  let writer: LineWriter | undefined;
  if (job.stream) {
    writer = new LineWriter(res, signal);
    res.status(200);
    res.setHeader('Content-Type', NDJSON);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
  }
  const outcomes = await Promise.all(opened.map((o) => (o.upstream ? pump(o as Opened & { upstream: UpstreamResponse }, writer, job.fanOut) : Promise.resolve(o.failure!))));
  if (signal.aborted) {
    if (job.afterAll && outcomes.some((o) => o.ok)) void job.afterAll(outcomes).catch(() => undefined);
    throw new CanceledError();
  }
  await job.afterAll?.(outcomes);
  const failures = outcomes.filter((o) => !o.ok);
  if (writer) {
    writer.end(failures.length === 0 ? { status: 'success' } : { error: combinedMessage(failures, job.fanOut) });
    return;
  }
  if (failures.length > 0) throw failureError(failures, job.fanOut);
  res.status(200).json({ status: 'success' });
}

/** A plain request (delete, copy) sent to several nodes at once; every node's answer is classified. */
export async function fanOut(
  client: OllamaNodeClient,
  timeouts: AdminTimeouts,
  nodes: NodeConfig[],
  req: { method: 'POST' | 'DELETE'; path: string; body: Record<string, unknown> },
  signal: AbortSignal,
): Promise<NodeOutcome[]> {
  return Promise.all(
    nodes.map(async (node): Promise<NodeOutcome> => {
      try {
        const upstream = await client.request(node, { method: req.method, path: req.path, body: JSON.stringify(req.body), signal, ...timeouts });
        const text = await upstream.body.text();
        const ok = upstream.statusCode >= 200 && upstream.statusCode < 300;
        return { node: node.name, ok, status: upstream.statusCode, error: ok ? undefined : errorText(text, upstream.statusCode) };
      } catch (err) {
        return transportOutcome(err, node.name);
      }
    }),
  );
}
