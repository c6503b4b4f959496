import { setMaxListeners } from 'node:events';
import { Pool } from 'undici';
import type { TraceRequest } from './trace';

/** What happened to one trace request sent through the gateway. Times are real milliseconds. */
export interface ReplayOutcome {
  id: string;
  model: string;
  status: number;
  /** Node that answered (X-Herd-Node), '' when none did. */
  node: string;
  /** When it was sent, from the start of the replay. */
  sentMs: number;
  /** From sending to the whole answer read. */
  latencyMs: number;
  /** Herd's predicted completion (X-Herd-Estimate-Ms); NaN when absent. */
  estimateMs: number;
  /** Time Herd kept it queued before a node was reserved (X-Herd-Queue-Ms); NaN when absent. */
  queueMs: number;
  /** load_duration of the answer in ms; NaN when absent. */
  loadMs: number;
  evalCount: number;
  error?: string;
}

export interface ReplayOptions {
  /** Multiplies every arrival time (the simulator's timeScale). */
  timeScale: number;
  /** Gives up on requests still running this long after the last one was sent. */
  drainTimeoutMs: number;
  path?: string;
}

export interface Replay {
  outcomes: ReplayOutcome[];
  /** Largest delay between a request's due time and its sending (load-generator lag), real ms. */
  maxSendLagMs: number;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
}

/** Sends each request at its arrival time (scaled), all concurrently, and waits for every answer (bounded). */
export async function replayTrace(baseUrl: string, trace: TraceRequest[], opts: ReplayOptions): Promise<Replay> {
  const pool = new Pool(baseUrl, { connections: Math.min(256, trace.length), pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
  const abort = new AbortController();
  setMaxListeners(trace.length + 16, abort.signal);
  const path = opts.path ?? '/ollama/generate';
  const t0 = performance.now();
  let maxSendLagMs = 0;

  const send = async (r: TraceRequest): Promise<ReplayOutcome> => {
    const sent = performance.now();
    const base = { id: r.id, model: r.model, sentMs: sent - t0 };
    const body = JSON.stringify({ model: r.model, prompt: r.prompt, stream: false, ...(r.numPredict === undefined ? {} : { options: { num_predict: r.numPredict } }) });
    try {
      const res = await pool.request({ method: 'POST', path, body, headers: { 'content-type': 'application/json' }, signal: abort.signal });
      const text = await res.body.text();
      const latencyMs = performance.now() - sent;
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // not JSON: reported through status and error
      }
      const header = (name: string): string => {
        const v = res.headers[name];
        return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
      };
      return {
        ...base,
        status: res.statusCode,
        node: header('x-herd-node'),
        latencyMs,
        estimateMs: header('x-herd-estimate-ms') === '' ? NaN : Number(header('x-herd-estimate-ms')),
        queueMs: header('x-herd-queue-ms') === '' ? NaN : Number(header('x-herd-queue-ms')),
        loadMs: num(parsed.load_duration) / 1e6,
        evalCount: num(parsed.eval_count),
        ...(res.statusCode === 200 ? {} : { error: typeof parsed.error === 'string' ? parsed.error : text.slice(0, 200) }),
      };
    } catch (err) {
      return { ...base, status: 0, node: '', latencyMs: performance.now() - sent, estimateMs: NaN, queueMs: NaN, loadMs: NaN, evalCount: NaN, error: (err as Error).message };
    }
  };

  const pending: Promise<ReplayOutcome>[] = [];
  for (const r of trace) {
    const due = t0 + r.atMs * opts.timeScale;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    maxSendLagMs = Math.max(maxSendLagMs, performance.now() - due);
    pending.push(send(r));
  }
  const timer = setTimeout(() => abort.abort(), opts.drainTimeoutMs);
  try {
    const outcomes = await Promise.all(pending);
    return { outcomes, maxSendLagMs };
  } finally {
    clearTimeout(timer);
    await pool.close();
  }
}
