import { Agent, request, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { bodyExcerpt, generateCase, type CaseKind, type FuzzCase, type FuzzContext } from './hostile-bodies';
import { loopbackUrl } from './inspect';

/**
 * Sends generated hostile requests to one running Herd (loopback only) and tallies the answers. Bounded: at
 * most `n` cases, no case started after `seconds`, no request waited on longer than `timeoutMs`.
 */

export interface RunOptions {
  /** Herd's base URL; must be http:// on a loopback address. */
  url: string;
  n: number;
  seed: number;
  concurrency: number;
  /** No case is started after this many seconds. */
  seconds: number;
  /** A request not answered by then is abandoned (the client goes away; Herd should cancel it). */
  timeoutMs: number;
  context: FuzzContext;
  /** First case index (default 0): cases start..start+n-1 of the seed. */
  start?: number;
  /** Told of every case and its answer (e.g. to collect evidence in a test). */
  onResult?: (c: FuzzCase, r: CaseResult) => void;
  /** Stops starting cases once aborted. */
  signal?: AbortSignal;
}

/** HTTP status, or what happened instead of one. */
export type Outcome = number | 'timeout' | 'neterr';

export interface CaseResult {
  outcome: Outcome;
  ms: number;
  /** `error` (or OpenAI's `error.message`) of the answer, or the network error code. */
  error?: string;
  /** X-Herd-Error-Code of the answer. */
  errorCode?: string;
  /** X-Herd-Node of the answer: the node that served (or failed) it. */
  node?: string;
  /** An error reported at the end of a 2xx stream (last NDJSON line or SSE event). */
  streamError?: string;
  bytes: number;
  /** Start of the answer, escaped. */
  excerpt: string;
}

export type FailureReason = 'server-error' | 'accepted-invalid' | 'internal-stream-error';

export interface FailureExample {
  seed: number;
  index: number;
  kind: CaseKind;
  detail: string;
  headers: string;
  request: string;
  response: string;
  node?: string;
  errorCode?: string;
}

/** Failures that look alike (reason, route, status, message), with the smallest request that caused one. */
export interface FailureGroup {
  reason: FailureReason;
  route: string;
  outcome: Outcome;
  message: string;
  count: number;
  example: FailureExample;
  exampleBytes: number;
}

export interface FuzzReport {
  url: string;
  seed: number;
  requested: number;
  sent: number;
  durationMs: number;
  /** The time cap or the abort signal ended the run before `requested` cases. */
  cutShort: boolean;
  /** Route label -> outcome -> count. */
  byRoute: Map<string, Map<string, number>>;
  /** Case kind -> outcome -> count. */
  byKind: Map<string, Map<string, number>>;
  failures: FailureGroup[];
  failureCount: number;
  timeouts: number;
  netErrors: number;
  streamErrors: number;
  /** The first few requests that got no answer (timeout, network error): not failures by themselves. */
  unanswered: Array<{ outcome: Outcome; route: string; index: number; kind: CaseKind; detail: string; error: string }>;
  /** Every 5xx answer (503/504 included) by status and message, for a look at why. */
  serverAnswers: Map<string, number>;
  /** Valid inference bodies sent, and how many got a 2xx. */
  validSent: number;
  validServed: number;
}

const HEAD_BYTES = 4096;
const TAIL_BYTES = 2048;

/** Route label used in tables: method and path template. */
export function routeLabel(c: FuzzCase): string {
  return `${c.route.method} ${c.route.path}`;
}

/** Why an answer is a failure, if it is one. */
export function failureOf(c: FuzzCase, r: CaseResult): FailureReason | undefined {
  if (typeof r.outcome === 'number') {
    if (r.outcome >= 500 && r.outcome !== 503 && r.outcome !== 504) return 'server-error';
    if (c.mustReject && r.outcome < 400) return 'accepted-invalid';
  }
  if (r.streamError && /internal/i.test(r.streamError)) return 'internal-stream-error';
  return undefined;
}

function errorMessage(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (body && typeof body === 'object') {
      if (typeof body.error === 'string') return body.error;
      const e = body.error as { message?: unknown } | undefined;
      if (e && typeof e.message === 'string') return e.message;
      if (typeof body.message === 'string') return body.message;
    }
  } catch {
    // partial or not JSON: fall through to a pattern
  }
  const m = /"(?:error|message)"\s*:\s*"((?:[^"\\]|\\.){0,200})/.exec(text);
  return m?.[1];
}

/** The error at the end of a stream, if its last line (NDJSON) or last data event (SSE) is one. */
function streamErrorOf(tail: string): string | undefined {
  const lines = tail
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const last = lines[lines.length - 1];
  if (!last) return undefined;
  const payload = last.startsWith('data:') ? last.slice(5).trim() : last;
  try {
    const obj = JSON.parse(payload) as { error?: unknown };
    if (obj && typeof obj === 'object' && 'error' in obj) {
      const e = obj.error as { message?: unknown } | string;
      return typeof e === 'string' ? e : typeof e?.message === 'string' ? e.message : JSON.stringify(e);
    }
  } catch {
    // not a JSON line
  }
  return undefined;
}

function clip(text: string, max: number): string {
  const shown = JSON.stringify(text.length > max ? text.slice(0, max) : text);
  return text.length > max ? `${shown}…` : shown;
}

/** Sends one case; never rejects. */
export function sendCase(base: URL, agent: Agent, c: FuzzCase, timeoutMs: number): Promise<CaseResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    let settled = false;
    let responded = false;
    const finish = (r: Omit<CaseResult, 'ms'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, ms: performance.now() - started });
    };
    const body = c.body === undefined ? undefined : typeof c.body === 'string' ? Buffer.from(c.body, 'utf8') : Buffer.from(c.body);
    const headers: OutgoingHttpHeaders = { ...c.headers };
    // Node frames DELETE bodies only when told to: chunked is said outright, not left to the method's default.
    if (body && c.chunked) headers['transfer-encoding'] = 'chunked';
    else if (body) headers['content-length'] = body.length;
    let req: ReturnType<typeof request>;
    try {
      req = request({ host: base.hostname.replace(/^\[|\]$/g, ''), port: base.port || 80, method: c.route.method, path: c.path, headers, agent });
    } catch (err) {
      finish({ outcome: 'neterr', error: `request not sent: ${(err as Error).message}`, bytes: 0, excerpt: '' });
      return;
    }
    const timer = setTimeout(() => {
      finish({ outcome: 'timeout', error: `no answer within ${timeoutMs} ms`, bytes: 0, excerpt: '' });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      // After the answer began, a write error (the server stopped reading an oversize body) changes nothing.
      if (!responded) finish({ outcome: 'neterr', error: err.code ?? err.message, bytes: 0, excerpt: '' });
    });
    req.on('response', (res: IncomingMessage) => {
      responded = true;
      const head: Buffer[] = [];
      let headLength = 0;
      let tail = Buffer.alloc(0);
      let total = 0;
      res.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (headLength < HEAD_BYTES) {
          const part = chunk.subarray(0, HEAD_BYTES - headLength);
          head.push(part);
          headLength += part.length;
        }
        tail = Buffer.concat([tail, chunk.subarray(Math.max(0, chunk.length - TAIL_BYTES))]);
        if (tail.length > TAIL_BYTES) tail = tail.subarray(tail.length - TAIL_BYTES);
      });
      const done = (): void => {
        const status = res.statusCode ?? 0;
        const headText = Buffer.concat(head).toString('utf8');
        const error = status >= 400 ? errorMessage(headText) : undefined;
        const streamError = status < 300 ? streamErrorOf(tail.toString('utf8')) : undefined;
        finish({
          outcome: status,
          error,
          errorCode: typeof res.headers['x-herd-error-code'] === 'string' ? res.headers['x-herd-error-code'] : undefined,
          node: typeof res.headers['x-herd-node'] === 'string' ? res.headers['x-herd-node'] : undefined,
          streamError,
          bytes: total,
          excerpt: clip(headText, 240),
        });
      };
      res.on('end', done);
      res.on('close', done);
      res.on('error', () => undefined);
    });
    if (body === undefined) req.end();
    else if (c.chunked) {
      const mid = Math.floor(body.length / 2);
      req.write(body.subarray(0, mid));
      req.end(body.subarray(mid));
    } else req.end(body);
  });
}

function bump(table: Map<string, Map<string, number>>, row: string, col: string): void {
  let r = table.get(row);
  if (!r) table.set(row, (r = new Map<string, number>()));
  r.set(col, (r.get(col) ?? 0) + 1);
}

const MAX_GROUPS = 200;

/** Runs the cases against Herd and returns the tallies; never throws for what Herd answers. */
export async function runFuzz(opts: RunOptions): Promise<FuzzReport> {
  const base = loopbackUrl(opts.url);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const startedAt = Date.now();
  const deadline = startedAt + opts.seconds * 1000;
  const first = opts.start ?? 0;
  const report: FuzzReport = {
    url: base.origin,
    seed: opts.seed,
    requested: opts.n,
    sent: 0,
    durationMs: 0,
    cutShort: false,
    byRoute: new Map(),
    byKind: new Map(),
    failures: [],
    failureCount: 0,
    timeouts: 0,
    netErrors: 0,
    streamErrors: 0,
    serverAnswers: new Map(),
    unanswered: [],
    validSent: 0,
    validServed: 0,
  };
  const groups = new Map<string, FailureGroup>();
  let next = 0;

  const record = (c: FuzzCase, r: CaseResult): void => {
    report.sent++;
    const col = String(r.outcome);
    bump(report.byRoute, routeLabel(c), col);
    bump(report.byKind, c.kind, col);
    if (r.outcome === 'timeout') report.timeouts++;
    if (r.outcome === 'neterr') report.netErrors++;
    if (r.streamError) report.streamErrors++;
    if ((r.outcome === 'timeout' || r.outcome === 'neterr') && report.unanswered.length < 10) {
      report.unanswered.push({ outcome: r.outcome, route: routeLabel(c), index: c.index, kind: c.kind, detail: c.detail, error: r.error ?? '' });
    }
    if (typeof r.outcome === 'number' && r.outcome >= 500) {
      const key = `${r.outcome} ${r.errorCode ?? ''} ${(r.error ?? '').replace(/\d+/g, '#').slice(0, 100)}`;
      report.serverAnswers.set(key, (report.serverAnswers.get(key) ?? 0) + 1);
    }
    if (c.valid && c.route.queued) {
      report.validSent++;
      if (typeof r.outcome === 'number' && r.outcome < 300) report.validServed++;
    }
    const reason = failureOf(c, r);
    if (reason) {
      report.failureCount++;
      const message = (reason === 'internal-stream-error' ? r.streamError : r.error) ?? '';
      const key = `${reason}|${routeLabel(c)}|${r.outcome}|${message.replace(/\d+/g, '#').slice(0, 120)}`;
      const size = c.body === undefined ? 0 : typeof c.body === 'string' ? c.body.length : c.body.length;
      const example: FailureExample = {
        seed: c.seed,
        index: c.index,
        kind: c.kind,
        detail: c.detail,
        headers: clip(JSON.stringify(c.headers), 160),
        request: bodyExcerpt(c.body, 240),
        response: r.excerpt,
        node: r.node,
        errorCode: r.errorCode,
      };
      const g = groups.get(key);
      if (g) {
        g.count++;
        if (size < g.exampleBytes) Object.assign(g, { example, exampleBytes: size });
      } else if (groups.size < MAX_GROUPS) {
        groups.set(key, { reason, route: routeLabel(c), outcome: r.outcome, message, count: 1, example, exampleBytes: size });
      }
    }
    opts.onResult?.(c, r);
  };

  const worker = async (): Promise<void> => {
    while (next < opts.n && Date.now() < deadline && !opts.signal?.aborted) {
      const index = first + next++;
      let c: FuzzCase;
      try {
        c = generateCase(opts.seed, index, opts.context);
      } catch (err) {
        throw new Error(`the generator failed on case ${index} of seed ${opts.seed}: ${(err as Error).message}`);
      }
      record(c, await sendCase(base, agent, c, opts.timeoutMs));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  } finally {
    agent.destroy();
  }
  report.cutShort = report.sent < opts.n;
  report.durationMs = Date.now() - startedAt;
  report.failures = [...groups.values()].sort((a, b) => b.count - a.count);
  return report;
}

// ---- probes ---------------------------------------------------------------------------------------------

export interface GetResult {
  outcome: Outcome;
  text: string;
}

/** GET a path of Herd (loopback only), with a deadline; the body is kept up to 64 KiB. */
export function getPath(url: string, path: string, timeoutMs = 5000): Promise<GetResult> {
  const base = loopbackUrl(url);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: GetResult): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(r);
      }
    };
    const req = request({ host: base.hostname.replace(/^\[|\]$/g, ''), port: base.port || 80, method: 'GET', path, agent: false });
    const timer = setTimeout(() => {
      finish({ outcome: 'timeout', text: '' });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish({ outcome: 'neterr', text: err.code ?? err.message }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 65536) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => finish({ outcome: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').slice(0, 65536) }));
      res.on('error', () => finish({ outcome: 'neterr', text: '' }));
    });
    req.end();
  });
}

export interface HerdHealth {
  /** GET /api/version answered 200. */
  answering: boolean;
  version: Outcome;
  health: Outcome;
  healthText: string;
}

/** Whether Herd still answers (GET /api/version) and what GET /health says. */
export async function probeHerd(url: string, timeoutMs = 5000): Promise<HerdHealth> {
  const [version, health] = await Promise.all([getPath(url, '/api/version', timeoutMs), getPath(url, '/health', timeoutMs)]);
  return { answering: version.outcome === 200, version: version.outcome, health: health.outcome, healthText: health.text.slice(0, 400) };
}

/**
 * Model names Herd serves (GET /api/tags), for valid bodies: without the models an earlier fuzz run pulled or
 * created (loopback registry references, `fuzz-` names, names with control or odd characters).
 */
export async function fetchModels(url: string): Promise<string[]> {
  const r = await getPath(url, '/api/tags');
  if (r.outcome !== 200) return [];
  try {
    const tags = JSON.parse(r.text) as { models?: Array<{ name?: unknown }> };
    return (tags.models ?? [])
      .map((m) => m.name)
      .filter((n): n is string => typeof n === 'string')
      .filter((n) => !n.startsWith('127.0.0.1:') && !n.startsWith('fuzz-') && /^[\w.:/@+-]+$/.test(n));
  } catch {
    return [];
  }
}

// ---- report ---------------------------------------------------------------------------------------------

function sortOutcomes(cols: Iterable<string>): string[] {
  return [...new Set(cols)].sort((a, b) => {
    const na = Number(a);
    const nb = Number(b);
    if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
    if (Number.isFinite(na)) return -1;
    if (Number.isFinite(nb)) return 1;
    return a.localeCompare(b);
  });
}

/** A text table: rows x outcomes, with totals. */
export function formatTable(title: string, table: Map<string, Map<string, number>>): string {
  const cols = sortOutcomes([...table.values()].flatMap((r) => [...r.keys()]));
  const rows = [...table.keys()].sort();
  const width = Math.max(title.length, ...rows.map((r) => r.length));
  const colWidth = (c: string): number => Math.max(c.length, 5);
  const line = (label: string, cells: string[]): string => `${label.padEnd(width)}  ${cells.map((v, i) => v.padStart(colWidth(cols[i] ?? 'total'))).join(' ')}`;
  const out = [line(title, [...cols, 'total'])];
  const totals = new Map<string, number>();
  for (const row of rows) {
    const r = table.get(row) ?? new Map<string, number>();
    let sum = 0;
    const cells = cols.map((c) => {
      const v = r.get(c) ?? 0;
      sum += v;
      totals.set(c, (totals.get(c) ?? 0) + v);
      return v ? String(v) : '.';
    });
    out.push(line(row, [...cells, String(sum)]));
  }
  const grand = [...totals.values()].reduce((a, b) => a + b, 0);
  out.push(line('total', [...cols.map((c) => String(totals.get(c) ?? 0)), String(grand)]));
  return out.join('\n');
}

const REASON_TEXT: Record<FailureReason, string> = {
  'server-error': '5xx (not 503/504)',
  'accepted-invalid': 'accepted a body with an out-of-range priority',
  'internal-stream-error': 'internal error at the end of a stream',
};

export function formatFailures(report: FuzzReport, max = 10): string {
  if (report.failures.length === 0) return 'failures: none';
  const out = [`failures: ${report.failureCount} in ${report.failures.length} kinds (showing ${Math.min(max, report.failures.length)}):`];
  for (const g of report.failures.slice(0, max)) {
    const e = g.example;
    out.push(
      `- ${g.count}x ${REASON_TEXT[g.reason]}: ${g.route} -> ${g.outcome}${g.message ? ` ${clip(g.message, 160)}` : ''}`,
      `    smallest: case ${e.index} (seed ${e.seed}, replay: --seed ${e.seed} --case ${e.index}) ${e.kind}: ${e.detail}`,
      `    headers:  ${e.headers}`,
      `    body:     ${e.request}`,
      `    answer:   ${e.response}${e.node ? ` [X-Herd-Node ${e.node}]` : ''}${e.errorCode ? ` [X-Herd-Error-Code ${e.errorCode}]` : ''}`,
    );
  }
  return out.join('\n');
}

export function formatReport(report: FuzzReport, maxExamples = 10): string {
  const secs = (report.durationMs / 1000).toFixed(1);
  return [
    `herd fuzz: ${report.sent}/${report.requested} cases to ${report.url} (seed ${report.seed}) in ${secs} s${report.cutShort ? ' (cut short by the time cap)' : ''}`,
    '',
    formatTable('route', report.byRoute),
    '',
    formatTable('case kind', report.byKind),
    '',
    `valid inference bodies served: ${report.validServed}/${report.validSent}; timeouts: ${report.timeouts}; network errors: ${report.netErrors}; errors at the end of a 2xx stream: ${report.streamErrors}`,
    ...(report.unanswered.length ? ['not answered (first 10):', ...report.unanswered.map((u) => `  ${u.outcome} ${u.route} case ${u.index} ${u.kind}: ${u.detail} (${u.error})`)] : []),
    ...(report.serverAnswers.size ? ['5xx answers (all, 503/504 included):', ...[...report.serverAnswers].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, n]) => `  ${String(n).padStart(5)}x ${k}`)] : []),
    formatFailures(report, maxExamples),
  ].join('\n');
}
