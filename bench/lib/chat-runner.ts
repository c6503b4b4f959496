import { setMaxListeners } from 'node:events';
import { Pool } from 'undici';
import { turnMessages, type Conversation } from './conversations';

/** What happened to one turn of one conversation sent through the gateway. Times are real milliseconds. */
export interface TurnOutcome {
  conversation: string;
  turn: number;
  status: number;
  /** X-Herd-Node; '' when no node answered. */
  node: string;
  /** When it was sent, from the start of the run. */
  sentMs: number;
  /** From sending to the first chunk that carries answer text (or, without any, the first chunk). NaN when none came. */
  ttftMs: number;
  /** From sending to the last chunk read. */
  latencyMs: number;
  /** X-Herd-Cached-Tokens: the prompt tokens Herd expected the node to hold (0 when absent). */
  expectedCachedTokens: number;
  /** X-Herd-Estimate-Ms, NaN when absent. */
  estimateMs: number;
  /** X-Herd-Queue-Ms: how long Herd kept it queued before a node was reserved; NaN when absent. */
  queueMs: number;
  /** prompt_eval_count of the final chunk (every prompt token, cached or not), NaN when absent. */
  promptEvalCount: number;
  /** prompt_eval_duration of the final chunk, real ms; NaN when absent. */
  promptEvalMs: number;
  evalCount: number;
  answer: string;
  error?: string;
}

export interface ConversationRun {
  turns: TurnOutcome[];
  /** The answers each conversation got, in turn order (shorter than its turns when one failed). */
  answers: Map<string, string[]>;
  /** Turns never sent because an earlier turn of their conversation failed or the run's deadline passed. */
  skipped: number;
  /** Largest delay between a conversation's due start and its sending, real ms. */
  maxSendLagMs: number;
}

export interface ConversationRunOptions {
  model: string;
  /** Multiplies every start and think time (the simulator's timeScale). */
  timeScale: number;
  /** Aborts whatever is still running this long (real ms) after the run started. */
  deadlineMs: number;
  path?: string;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
}

/**
 * Plays every conversation through the gateway's /api/chat, streamed: each first turn at its start time (open loop),
 * each later turn after the previous answer and the turn's think time, with the answer actually returned in its
 * messages (so the prefix a node holds matches). Bounded: everything still running at the deadline is aborted.
 */
export async function runConversations(baseUrl: string, conversations: Conversation[], opts: ConversationRunOptions): Promise<ConversationRun> {
  const pool = new Pool(baseUrl, { connections: Math.min(128, conversations.length * 2), pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
  const abort = new AbortController();
  setMaxListeners(conversations.length * 4 + 16, abort.signal);
  const path = opts.path ?? '/api/chat';
  const t0 = performance.now();
  const deadline = setTimeout(() => abort.abort(), opts.deadlineMs);
  const turns: TurnOutcome[] = [];
  const answers = new Map<string, string[]>();
  let skipped = 0;
  let maxSendLagMs = 0;

  const sendTurn = async (c: Conversation, k: number, got: string[]): Promise<TurnOutcome> => {
    const sent = performance.now();
    const base = { conversation: c.id, turn: k, sentMs: sent - t0 };
    const body = JSON.stringify({ model: opts.model, messages: turnMessages(c, k, got), stream: true, options: { num_predict: c.turns[k].numPredict } });
    let ttftMs = NaN;
    let firstChunkMs = NaN;
    try {
      const res = await pool.request({ method: 'POST', path, body, headers: { 'content-type': 'application/json' }, signal: abort.signal });
      const header = (name: string): string => {
        const v = res.headers[name];
        return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
      };
      let buffered = '';
      let answer = '';
      let final: Record<string, unknown> = {};
      let error: string | undefined;
      const line = (text: string): void => {
        if (text.trim() === '') return;
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          error ??= `not JSON: ${text.slice(0, 200)}`;
          return;
        }
        if (typeof parsed.error === 'string') error ??= parsed.error;
        const content = (parsed.message as { content?: unknown } | undefined)?.content;
        if (typeof content === 'string' && content !== '') {
          if (Number.isNaN(ttftMs)) ttftMs = performance.now() - sent;
          answer += content;
        }
        if (parsed.done === true) final = parsed;
      };
      for await (const chunk of res.body) {
        if (Number.isNaN(firstChunkMs)) firstChunkMs = performance.now() - sent;
        buffered += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          line(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
        }
      }
      line(buffered);
      const latencyMs = performance.now() - sent;
      const ok = res.statusCode === 200 && error === undefined && final.done === true;
      const cached = header('x-herd-cached-tokens');
      const estimate = header('x-herd-estimate-ms');
      const queued = header('x-herd-queue-ms');
      return {
        ...base,
        status: ok ? 200 : res.statusCode === 200 ? 0 : res.statusCode,
        node: header('x-herd-node'),
        ttftMs: Number.isNaN(ttftMs) ? firstChunkMs : ttftMs,
        latencyMs,
        expectedCachedTokens: cached === '' ? 0 : Number(cached),
        estimateMs: estimate === '' ? NaN : Number(estimate),
        queueMs: queued === '' ? NaN : Number(queued),
        promptEvalCount: num(final.prompt_eval_count),
        promptEvalMs: num(final.prompt_eval_duration) / 1e6,
        evalCount: num(final.eval_count),
        answer,
        ...(ok ? {} : { error: error ?? (final.done === true ? `status ${res.statusCode}` : 'stream ended without a done chunk') }),
      };
    } catch (err) {
      return {
        ...base,
        status: 0,
        node: '',
        ttftMs: firstChunkMs,
        latencyMs: performance.now() - sent,
        expectedCachedTokens: 0,
        estimateMs: NaN,
        queueMs: NaN,
        promptEvalCount: NaN,
        promptEvalMs: NaN,
        evalCount: NaN,
        answer: '',
        error: (err as Error).message,
      };
    }
  };

  const play = async (c: Conversation): Promise<void> => {
    const due = t0 + c.startMs * opts.timeScale;
    await sleep(due - performance.now(), abort.signal);
    maxSendLagMs = Math.max(maxSendLagMs, performance.now() - due);
    const got: string[] = [];
    answers.set(c.id, got);
    for (let k = 0; k < c.turns.length; k++) {
      if (k > 0) await sleep(c.turns[k].thinkMs * opts.timeScale, abort.signal);
      if (abort.signal.aborted) {
        skipped += c.turns.length - k;
        return;
      }
      const outcome = await sendTurn(c, k, got);
      turns.push(outcome);
      if (outcome.status !== 200) {
        skipped += c.turns.length - k - 1;
        return;
      }
      got.push(outcome.answer);
    }
  };

  try {
    await Promise.all(conversations.map(play));
    return { turns, answers, skipped, maxSendLagMs };
  } finally {
    clearTimeout(deadline);
    await pool.close();
  }
}
