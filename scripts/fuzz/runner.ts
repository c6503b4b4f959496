import { createHash } from 'node:crypto';
import { Agent, request, validateHeaderName, validateHeaderValue, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { bodyExcerpt, FUZZ_ROUTES, generateCase, isFuzzKeyTenant, KEY_ID_PLACEHOLDER, NODE_KEY_FAMILIES, RUNNER_KEY_PLACEHOLDER, TARGET_KEY_PLACEHOLDER, type CaseKind, type FuzzCase, type FuzzContext, type FuzzRoute } from './hostile-bodies';
import { loopbackUrl } from './inspect';

/**
 * Sends generated hostile requests to one running Herd (loopback only) and tallies the answers. Bounded: at
 * most `n` cases, no case started after `seconds`, no request waited on longer than `timeoutMs`.
 *
 * API keys: before the cases the runner makes a key to be the target of PATCH /herd/keys/:id cases (and, with
 * HERD_AUTH=keys, one to send with inference requests); every answer is searched for keys and key hashes; at
 * the end every key the run made (its own, and every 201 to POST /herd/keys) is revoked, and the read views are
 * searched once more. A key showing up anywhere but in the answer that made it is a failure (`key-echoed`).
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
  /** HERD_ADMIN_KEY of the Herd under test, sent to admin routes whose case sends no credential of its own. */
  adminKey?: string;
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
  /** Key-shaped strings (`herd_` + 43) and SHA-256 hex strings found anywhere in the answer, headers included. */
  secrets?: string[];
  /** The whole answer (up to 1 MiB), kept for POST /herd/keys only: it holds the key made. */
  text?: string;
  /**
   * The shape of an error answer read whole as JSON: `openai` ({"error": {"message": ...}}), `ollama` ({"error": "..."})
   * or `other`. Unset when the answer is not an error, not JSON, or longer than the part kept.
   */
  errorShape?: 'openai' | 'ollama' | 'other';
}

export type FailureReason = 'server-error' | 'accepted-invalid' | 'error-shape' | 'internal-stream-error' | 'key-echoed' | 'key-audit';

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

/**
 * Failures that look alike (reason, route, status, message), with the smallest request that caused one (none
 * for a `key-audit` failure: found after the run, in no case's answer).
 */
export interface FailureGroup {
  reason: FailureReason;
  route: string;
  outcome: Outcome;
  message: string;
  count: number;
  example?: FailureExample;
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
  /** What became of the API keys the run made. */
  keys: KeyAudit;
}

export interface KeyAudit {
  /** Keys the runner made for the run itself (PATCH target; inference with HERD_AUTH=keys). */
  runnerKeys: number;
  /** 201 answers to POST /herd/keys from the cases. */
  createdByCases: number;
  /** Keys found active after the run that a case made without the runner reading its answer (a timeout). */
  foundAfter: number;
  /** Keys of the run revoked at the end. */
  revoked: number;
  /** Why the run's keys could not be set up, if they could not (the cases then meet no real key). */
  setupError?: string;
  /** Problems: a key left active, a key or hash in a read view after the run, a failed revocation. */
  problems: KeyProblem[];
}

export interface KeyProblem {
  /** The request that showed it (`DELETE /herd/keys/:id`, `GET /metrics`, ...). */
  route: string;
  outcome: Outcome;
  message: string;
}

const HEAD_BYTES = 4096;
const TAIL_BYTES = 2048;

/** Route label used in tables: method and path template. */
export function routeLabel(c: FuzzCase): string {
  return `${c.route.method} ${c.route.path}`;
}

/** The headers a case is sent with by the runner, and its path: placeholders filled in, credentials added. */
export interface Prepared {
  path: string;
  headers: Record<string, string | string[]>;
}

/** Why an answer is a failure, if it is one. */
export function failureOf(c: FuzzCase, r: CaseResult): FailureReason | undefined {
  if (typeof r.outcome === 'number') {
    if (r.outcome >= 500 && r.outcome !== 503 && r.outcome !== 504) return 'server-error';
    if ((c.mustReject || c.alwaysRefused) && r.outcome < 400) return 'accepted-invalid';
    if (r.errorShape && r.errorShape !== expectedErrorShape(c.path)) return 'error-shape';
  }
  if (r.streamError && /internal/i.test(r.streamError)) return 'internal-stream-error';
  return undefined;
}

/** Errors come in OpenAI's shape under /v1/, in Ollama's everywhere else (src/api/errors/herd-exception.filter.ts). */
export function expectedErrorShape(path: string): 'openai' | 'ollama' {
  return path.startsWith('/v1/') ? 'openai' : 'ollama';
}

/** The shape of an error answer's JSON body, if the text is all of it and JSON. */
export function errorShapeOf(text: string): CaseResult['errorShape'] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'other';
  const e = (body as { error?: unknown }).error;
  if (typeof e === 'string') return 'ollama';
  if (e !== null && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') return 'openai';
  return 'other';
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

/** Key-shaped strings and SHA-256 hex strings in an answer, across chunk boundaries; at most 64 distinct. */
export class SecretScanner {
  private static readonly PATTERN = /herd_[A-Za-z0-9_-]{43}|(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])/g;
  private carry = '';
  private readonly found = new Set<string>();

  feed(chunk: Buffer | string): void {
    if (this.found.size >= 64) return;
    const text = this.carry + (typeof chunk === 'string' ? chunk : chunk.toString('latin1'));
    for (const m of text.matchAll(SecretScanner.PATTERN)) if (this.found.size < 64) this.found.add(m[0]);
    // A token cut by the chunk boundary is found whole in the next round (a short one found twice is deduplicated).
    this.carry = text.slice(-80);
  }

  secrets(): string[] | undefined {
    return this.found.size ? [...this.found] : undefined;
  }
}

const KEEP_WHOLE = 1024 * 1024;

/** Whether Node's client refuses these headers or path (control characters, characters above U+00FF, ...). */
function needsRawSocket(path: string, headers: Record<string, string | string[]>): boolean {
  if (/[^\u0021-\u00ff]/.test(path)) return true;
  try {
    for (const [name, value] of Object.entries(headers)) {
      validateHeaderName(name);
      for (const v of [value].flat()) validateHeaderValue(name, v);
    }
    return false;
  } catch {
    return true;
  }
}

/** Collects an answer's head (4 KiB), tail (2 KiB), size, secrets and, when asked, all of it (up to 1 MiB). */
class AnswerSink {
  private readonly head: Buffer[] = [];
  private headLength = 0;
  private tail = Buffer.alloc(0);
  private readonly whole: Buffer[] = [];
  private wholeLength = 0;
  total = 0;
  readonly scanner = new SecretScanner();

  constructor(private readonly keepWhole: boolean) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    this.scanner.feed(chunk);
    if (this.headLength < HEAD_BYTES) {
      const part = chunk.subarray(0, HEAD_BYTES - this.headLength);
      this.head.push(part);
      this.headLength += part.length;
    }
    this.tail = Buffer.concat([this.tail, chunk.subarray(Math.max(0, chunk.length - TAIL_BYTES))]);
    if (this.tail.length > TAIL_BYTES) this.tail = this.tail.subarray(this.tail.length - TAIL_BYTES);
    if (this.keepWhole && this.wholeLength < KEEP_WHOLE) {
      this.whole.push(chunk);
      this.wholeLength += chunk.length;
    }
  }

  result(status: number, headers: Record<string, string | string[] | undefined>): Omit<CaseResult, 'ms'> {
    const headText = Buffer.concat(this.head).toString('utf8');
    const header = (name: string): string | undefined => {
      const v = headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const json = /json/i.test(header('content-type') ?? '');
    return {
      outcome: status,
      error: status >= 400 ? errorMessage(headText) : undefined,
      errorShape: status >= 400 && json && this.total <= HEAD_BYTES ? errorShapeOf(headText) : undefined,
      errorCode: header('x-herd-error-code'),
      node: header('x-herd-node'),
      streamError: status < 300 ? streamErrorOf(this.tail.toString('utf8')) : undefined,
      bytes: this.total,
      excerpt: clip(headText, 240),
      secrets: this.scanner.secrets(),
      text: this.keepWhole ? Buffer.concat(this.whole).toString('utf8') : undefined,
    };
  }
}

/** Sends one case (with the runner's keys filled in, when given); never rejects. */
export function sendCase(base: URL, agent: Agent, c: FuzzCase, timeoutMs: number, keys?: FuzzKeys): Promise<CaseResult> {
  const { path, headers } = keys ? keys.prepare(c) : { path: c.path, headers: c.headers };
  const body = c.body === undefined ? undefined : typeof c.body === 'string' ? Buffer.from(c.body, 'utf8') : Buffer.from(c.body);
  const keepWhole = c.route.family === 'key-create';
  if (needsRawSocket(path, headers)) return sendRaw(base, c.route.method, path, headers, body, c.chunked, timeoutMs, keepWhole);
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
    const outgoing: OutgoingHttpHeaders = { ...headers };
    // Node frames DELETE bodies only when told to: chunked is said outright, not left to the method's default.
    if (body && c.chunked) outgoing['transfer-encoding'] = 'chunked';
    else if (body) outgoing['content-length'] = body.length;
    let req: ReturnType<typeof request>;
    try {
      req = request({ host: base.hostname.replace(/^\[|\]$/g, ''), port: base.port || 80, method: c.route.method, path, headers: outgoing, agent });
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
      const sink = new AnswerSink(keepWhole);
      sink.scanner.feed(res.rawHeaders.join('\n'));
      res.on('data', (chunk: Buffer) => sink.push(chunk));
      const done = (): void => finish(sink.result(res.statusCode ?? 0, res.headers));
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

/** A header value as bytes: Latin-1 when every character fits (as Node sends it), else UTF-8. */
const headerBytes = (text: string): Buffer => Buffer.from(text, [...text].some((ch) => ch.charCodeAt(0) > 0xff) ? 'utf8' : 'latin1');

/** The body of an HTTP/1.1 answer sent with chunked transfer encoding, decoded as far as it goes. */
function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const eol = data.indexOf('\r\n', at, 'latin1');
    if (eol < 0) break;
    const size = parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size <= 0) break;
    parts.push(data.subarray(eol + 2, Math.min(data.length, eol + 2 + size)));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/**
 * Sends a request Node's client would refuse to write (control characters or UTF-8 in a header, a space in the
 * path) over a plain socket, `Connection: close`, and reads the answer until the server closes. The body goes out
 * a moment after the head, so that a server refusing the head does not also meet unread bytes (which would turn
 * its close into a reset and lose the answer).
 */
function sendRaw(base: URL, method: FuzzRoute['method'], path: string, headers: Record<string, string | string[]>, body: Buffer | undefined, chunked: boolean, timeoutMs: number, keepWhole: boolean): Promise<CaseResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (r: Omit<CaseResult, 'ms'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...r, ms: performance.now() - started });
    };
    const host = base.hostname.replace(/^\[|\]$/g, '');
    const socket = connect({ host, port: Number(base.port || 80) });
    const timer = setTimeout(() => finish({ outcome: 'timeout', error: `no answer within ${timeoutMs} ms`, bytes: 0, excerpt: '' }), timeoutMs);
    const lines: Buffer[] = [headerBytes(`${method} ${path} HTTP/1.1\r\nHost: ${base.host}\r\nConnection: close\r\n`)];
    for (const [name, value] of Object.entries(headers)) for (const v of [value].flat()) lines.push(headerBytes(`${name}: ${v}\r\n`));
    if (body && chunked) lines.push(Buffer.from('Transfer-Encoding: chunked\r\n'));
    else if (body) lines.push(Buffer.from(`Content-Length: ${body.length}\r\n`));
    lines.push(Buffer.from('\r\n'));
    const parse = (): void => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n', 0, 'latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(all.subarray(0, 64).toString('latin1'));
      if (end < 0 || !status) {
        finish({ outcome: 'neterr', error: all.length ? `not an HTTP answer: ${clip(all.toString('latin1'), 80)}` : 'closed without an answer', bytes: all.length, excerpt: '' });
        return;
      }
      const answerHeaders: Record<string, string> = {};
      for (const line of all.subarray(0, end).toString('latin1').split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) answerHeaders[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const rest = all.subarray(end + 4);
      const sink = new AnswerSink(keepWhole);
      sink.scanner.feed(all.subarray(0, end));
      sink.push(/chunked/i.test(answerHeaders['transfer-encoding'] ?? '') ? dechunk(rest) : rest);
      finish(sink.result(Number(status[1]), answerHeaders));
    };
    socket.on('data', (chunk: Buffer) => {
      if (size < 8 * 1024 * 1024) chunks.push(chunk);
      size += chunk.length;
    });
    socket.on('close', parse);
    socket.on('error', () => undefined); // a reset after the answer: parsed on close all the same
    socket.on('connect', () => {
      socket.write(Buffer.concat(lines));
      if (!body) return;
      setTimeout(() => {
        if (socket.destroyed || chunks.length > 0) return;
        socket.write(chunked ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : body);
      }, 20);
    });
  });
}

function bump(table: Map<string, Map<string, number>>, row: string, col: string): void {
  let r = table.get(row);
  if (!r) table.set(row, (r = new Map<string, number>()));
  r.set(col, (r.get(col) ?? 0) + 1);
}

const MAX_GROUPS = 200;

/** The failure example of a case: its replay coordinates, request (as generated: placeholders, no keys) and answer. */
function exampleOf(c: FuzzCase, r: CaseResult): FailureExample {
  return {
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
}

const bodySize = (c: FuzzCase): number => (c.body === undefined ? 0 : c.body.length);

/** Where a key or hash turned up: a case's answer. */
interface Sighting {
  index: number;
  route: string;
  outcome: Outcome;
  example: FailureExample;
  size: number;
}

/** A key echoed where it must not be: in an answer other than the 201 that made it. */
export interface KeyEcho {
  id: string;
  /** The key itself, or its SHA-256. */
  what: 'key' | 'hash';
  /** The case whose answer made the key (-1: the runner). */
  madeBy: number;
  sighting: Sighting;
}

interface KeyView {
  id: string;
  tenant: string;
  status: string;
  createdAt: string;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const MAX_TOKENS = 20_000;

/**
 * The run's API keys: the runner's own (a PATCH target; with HERD_AUTH=keys one for inference), every key a case
 * made, where each key or its hash was seen, and their revocation at the end.
 */
export class FuzzKeys {
  /** Sent with inference requests that carry no credential of their own (HERD_AUTH=keys). */
  authKey?: string;
  /** The target of PATCH and GET /herd/keys/:id cases, and of TARGET_KEY_PLACEHOLDER. */
  targetKey?: string;
  targetId?: string;
  setupError?: string;
  createdByCases = 0;
  private runnerKeys = 0;
  /** Every key the run made: secret -> id and the case whose answer made it (-1: the runner). */
  private readonly made = new Map<string, { id: string; madeBy: number }>();
  private readonly hashes = new Map<string, string>();
  private readonly ids = new Set<string>();
  /** Key-shaped and hash-shaped strings seen in answers, with the first few answers each was in. */
  private readonly seen = new Map<string, Sighting[]>();
  private before?: Set<string>;
  private since = '';
  private readonly admin: Record<string, string>;

  constructor(
    private readonly url: string,
    private readonly adminKey: string | undefined,
    private readonly auth: 'off' | 'keys',
    private readonly timeoutMs = 10_000,
  ) {
    this.admin = adminKey ? { authorization: `Bearer ${adminKey}` } : {};
  }

  /** Makes the runner's keys; a Herd that refuses (admin locked, keys off) leaves the cases without them. */
  async setUp(): Promise<void> {
    this.since = new Date(Date.now() - 2000).toISOString();
    const listed = await this.list();
    if (listed) this.before = new Set(listed.map((k) => k.id));
    const target = await this.create({ tenant: 'fuzz-runner', name: 'herd fuzz: PATCH target' });
    if (target) [this.targetKey, this.targetId] = [target.key, target.id];
    if (this.auth === 'keys') this.authKey = (await this.create({ tenant: 'fuzz-runner', name: 'herd fuzz: inference' }))?.key;
  }

  private async create(body: Record<string, unknown>): Promise<{ id: string; key: string } | undefined> {
    const r = await callHerd(this.url, 'POST', '/herd/keys', { headers: this.admin, body, timeoutMs: this.timeoutMs });
    const made = r.outcome === 201 ? madeKeyOf(r.text) : undefined;
    if (!made) {
      this.setupError ??= `POST /herd/keys answered ${r.outcome}: ${r.text.slice(0, 160)}`;
      return undefined;
    }
    this.register(made.key, made.id, -1);
    this.runnerKeys++;
    return made;
  }

  private register(key: string, id: string, madeBy: number): void {
    this.made.set(key, { id, madeBy });
    this.hashes.set(sha256(key), key);
    this.ids.add(id);
  }

  /** The case as sent: placeholders replaced by the runner's keys, the admin or inference key added when absent. */
  prepare(c: FuzzCase): Prepared {
    const swaps: Array<[string, string]> = [];
    for (const [placeholder, key] of [
      [RUNNER_KEY_PLACEHOLDER, this.authKey],
      [TARGET_KEY_PLACEHOLDER, this.targetKey],
    ] as const) {
      if (key) swaps.push([placeholder, key], [placeholder.toUpperCase(), key.toUpperCase()]);
    }
    const fill = (v: string): string => swaps.reduce((out, [from, to]) => out.split(from).join(to), v);
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(c.headers)) headers[name] = Array.isArray(value) ? value.map(fill) : fill(value);
    const has = (name: string): boolean => Object.keys(headers).some((h) => h.toLowerCase() === name);
    if (c.route.admin && !NODE_KEY_FAMILIES.has(c.route.family) && this.adminKey && !has('authorization') && !has('x-herd-admin-key')) headers.authorization = `Bearer ${this.adminKey}`;
    if (c.route.caller && this.authKey && !has('authorization') && !has('x-api-key')) headers.authorization = `Bearer ${this.authKey}`;
    const path = this.targetId ? c.path.split(KEY_ID_PLACEHOLDER).join(this.targetId) : c.path;
    return { path, headers };
  }

  /** Notes the key a 201 to POST /herd/keys made, and every key-like string in the answer. */
  observe(c: FuzzCase, r: CaseResult): void {
    if (c.route.family === 'key-create' && r.outcome === 201) {
      this.createdByCases++;
      const made = madeKeyOf(r.text ?? '');
      if (made) this.register(made.key, made.id, c.index);
    }
    for (const token of r.secrets ?? []) {
      let list = this.seen.get(token);
      if (!list) {
        if (this.seen.size >= MAX_TOKENS) continue;
        this.seen.set(token, (list = []));
      }
      if (list.length < 3) list.push({ index: c.index, route: routeLabel(c), outcome: r.outcome, example: exampleOf(c, r), size: bodySize(c) });
    }
  }

  /** Every answer that held a key of the run (other than the 201 that made it) or a key's hash. */
  echoes(): KeyEcho[] {
    const out: KeyEcho[] = [];
    for (const [token, sightings] of this.seen) {
      const key = this.made.has(token) ? token : this.hashes.get(token);
      if (key === undefined) continue;
      const { id, madeBy } = this.made.get(key)!;
      const what = key === token ? 'key' : 'hash';
      for (const s of sightings) if (what === 'hash' || s.index !== madeBy) out.push({ id, what, madeBy, sighting: s });
    }
    return out;
  }

  /** Which keys of the run a text holds (key or hash), described. */
  private leaksIn(secrets: readonly string[] | undefined): string[] {
    return (secrets ?? []).flatMap((token) => {
      const key = this.made.has(token) ? token : this.hashes.get(token);
      if (key === undefined) return [];
      const { id, madeBy } = this.made.get(key)!;
      return [`${key === token ? 'key' : 'hash of key'} ${id} (made by ${madeBy < 0 ? 'the runner' : `case ${madeBy}`})`];
    });
  }

  private async list(): Promise<KeyView[] | undefined> {
    const r = await callHerd(this.url, 'GET', '/herd/keys', { headers: this.admin, timeoutMs: this.timeoutMs, keep: 64 * 1024 * 1024 });
    if (r.outcome !== 200) return undefined;
    try {
      const keys = (JSON.parse(r.text) as { keys?: unknown }).keys;
      return Array.isArray(keys) ? (keys as KeyView[]) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Revokes every key of the run: the runner's, those whose 201 was read, and those made after the run began with
   * a tenant only the generator uses (their answer was lost). Then checks they are all revoked and that no read
   * view shows a key or a hash.
   */
  async tearDown(): Promise<KeyAudit> {
    const problems: KeyProblem[] = [];
    let foundAfter = 0;
    if (this.before) {
      for (const k of (await this.list()) ?? []) {
        if (this.ids.has(k.id) || this.before.has(k.id) || k.status === 'revoked') continue;
        if (typeof k.tenant === 'string' && isFuzzKeyTenant(k.tenant) && typeof k.createdAt === 'string' && k.createdAt >= this.since) {
          this.ids.add(k.id);
          foundAfter++;
        }
      }
    }
    let revoked = 0;
    for (const id of this.ids) {
      const route = 'DELETE /herd/keys/:id';
      const r = await callHerd(this.url, 'DELETE', `/herd/keys/${encodeURIComponent(id)}`, { headers: this.admin, timeoutMs: this.timeoutMs });
      let status: unknown;
      try {
        status = (JSON.parse(r.text) as { status?: unknown }).status;
      } catch {
        status = undefined;
      }
      if (r.outcome === 200 && status === 'revoked') revoked++;
      else problems.push({ route, outcome: r.outcome, message: `key ${id} not revoked: ${clip(r.text, 120)}` });
      problems.push(...this.leaksIn(r.secrets).map((l) => ({ route, outcome: r.outcome, message: `${l} in the answer to revoking ${id}` })));
    }
    if (this.ids.size > 0) {
      const after = await this.list();
      if (!after) problems.push({ route: 'GET /herd/keys', outcome: 'neterr', message: 'no list of keys after the run' });
      const status = new Map((after ?? []).map((k) => [k.id, k.status]));
      for (const id of this.ids) {
        if (after && status.get(id) !== 'revoked') problems.push({ route: 'GET /herd/keys', outcome: 200, message: `key ${id} is ${status.get(id) ?? 'not listed'} after the run, not revoked` });
      }
      for (const path of ['/herd/keys', '/herd/usage', '/metrics', '/health', '/herd/dashboard', '/herd/nodes', '/api/tags', '/api/ps']) {
        const r = await callHerd(this.url, 'GET', path, { headers: this.admin, timeoutMs: this.timeoutMs, keep: 1024 });
        problems.push(...this.leaksIn(r.secrets).map((l) => ({ route: `GET ${path}`, outcome: r.outcome, message: `${l} after the run` })));
      }
    }
    return { runnerKeys: this.runnerKeys, createdByCases: this.createdByCases, foundAfter, revoked, setupError: this.setupError, problems };
  }

}

/** The id and key of a 201 answer to POST /herd/keys. */
function madeKeyOf(text: string): { id: string; key: string } | undefined {
  try {
    const body = JSON.parse(text) as { id?: unknown; key?: unknown };
    if (typeof body.id === 'string' && typeof body.key === 'string') return { id: body.id, key: body.key };
  } catch {
    // cut or not JSON: look for the fields
  }
  const id = /"id"\s*:\s*"([^"]{1,200})"/.exec(text)?.[1];
  const key = /"key"\s*:\s*"(herd_[A-Za-z0-9_-]{43})"/.exec(text)?.[1];
  return id && key ? { id, key } : undefined;
}

/** Runs the cases against Herd and returns the tallies; never throws for what Herd answers. */
export async function runFuzz(opts: RunOptions): Promise<FuzzReport> {
  const base = loopbackUrl(opts.url);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const routes = opts.context.routes?.length ? opts.context.routes : FUZZ_ROUTES;
  const keys = new FuzzKeys(opts.url, opts.adminKey, opts.context.auth ?? 'off', Math.max(opts.timeoutMs, 5000));
  if (opts.context.auth === 'keys' || routes.some((r) => r.family.startsWith('key-'))) await keys.setUp();
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
    keys: { runnerKeys: 0, createdByCases: 0, foundAfter: 0, revoked: 0, problems: [] },
  };
  const groups = new Map<string, FailureGroup>();
  let next = 0;

  const addFailure = (reason: FailureReason, route: string, outcome: Outcome, message: string, example: FailureExample | undefined, size: number): void => {
    report.failureCount++;
    const key = `${reason}|${route}|${outcome}|${message.replace(/\d+/g, '#').slice(0, 120)}`;
    const g = groups.get(key);
    if (g) {
      g.count++;
      if (size < g.exampleBytes) Object.assign(g, { example, exampleBytes: size });
    } else if (groups.size < MAX_GROUPS) {
      groups.set(key, { reason, route, outcome, message, count: 1, example, exampleBytes: size });
    }
  };

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
    keys.observe(c, r);
    const reason = failureOf(c, r);
    if (reason) addFailure(reason, routeLabel(c), r.outcome, (reason === 'internal-stream-error' ? r.streamError : r.error) ?? '', exampleOf(c, r), bodySize(c));
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
      record(c, await sendCase(base, agent, c, opts.timeoutMs, keys));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  } finally {
    agent.destroy();
    // Even when the run stops on an error: no key of the run stays active.
    report.keys = await keys.tearDown();
  }
  for (const e of keys.echoes()) {
    const s = e.sighting;
    addFailure('key-echoed', s.route, s.outcome, `the ${e.what === 'key' ? 'key' : 'SHA-256 of the key'} ${e.id} made by ${e.madeBy < 0 ? 'the runner' : `case ${e.madeBy}`}`, s.example, s.size);
  }
  for (const p of report.keys.problems) addFailure('key-audit', p.route, p.outcome, p.message, undefined, 0);
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
  return callHerd(url, 'GET', path, { timeoutMs });
}

/**
 * One request to Herd (loopback only), with a deadline; the body is kept up to `keep` bytes (64 KiB), and the
 * whole answer, headers included, is searched for keys (`secrets`).
 */
export function callHerd(url: string, method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown; timeoutMs?: number; keep?: number } = {}): Promise<GetResult & { secrets?: string[] }> {
  const base = loopbackUrl(url);
  const keep = opts.keep ?? 65536;
  const body = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body), 'utf8');
  const headers: OutgoingHttpHeaders = { ...opts.headers, ...(body ? { 'content-type': 'application/json', 'content-length': body.length } : {}) };
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: GetResult & { secrets?: string[] }): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(r);
      }
    };
    const req = request({ host: base.hostname.replace(/^\[|\]$/g, ''), port: base.port || 80, method, path, headers, agent: false });
    const timer = setTimeout(() => {
      finish({ outcome: 'timeout', text: '' });
      req.destroy();
    }, opts.timeoutMs ?? 5000);
    req.on('error', (err: NodeJS.ErrnoException) => finish({ outcome: 'neterr', text: err.code ?? err.message }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      const scanner = new SecretScanner();
      scanner.feed(res.rawHeaders.join('\n'));
      let size = 0;
      res.on('data', (c: Buffer) => {
        scanner.feed(c);
        if (size < keep) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => finish({ outcome: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').slice(0, keep), secrets: scanner.secrets() }));
      res.on('error', () => finish({ outcome: 'neterr', text: '' }));
    });
    req.end(body);
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
  'accepted-invalid': 'accepted a request Herd must refuse (out-of-range priority, bad tenant or key, unknown id, bad upload)',
  'error-shape': 'an error not in the shape of its API (OpenAI\'s {"error": {"message"}} under /v1/, Ollama\'s {"error": "..."} elsewhere)',
  'internal-stream-error': 'internal error at the end of a stream',
  'key-echoed': 'an API key (or its hash) in an answer other than the 201 that made it',
  'key-audit': 'after the run, an API key of the run not revoked, or shown in a read view',
};

export function formatFailures(report: FuzzReport, max = 10): string {
  if (report.failures.length === 0) return 'failures: none';
  const out = [`failures: ${report.failureCount} in ${report.failures.length} kinds (showing ${Math.min(max, report.failures.length)}):`];
  for (const g of report.failures.slice(0, max)) {
    const e = g.example;
    out.push(`- ${g.count}x ${REASON_TEXT[g.reason]}: ${g.route} -> ${g.outcome}${g.message ? ` ${clip(g.message, 160)}` : ''}`);
    if (!e) continue;
    out.push(
      `    smallest: case ${e.index} (seed ${e.seed}, replay: --seed ${e.seed} --case ${e.index}) ${e.kind}: ${e.detail}`,
      `    headers:  ${e.headers}`,
      `    body:     ${e.request}`,
      `    answer:   ${e.response}${e.node ? ` [X-Herd-Node ${e.node}]` : ''}${e.errorCode ? ` [X-Herd-Error-Code ${e.errorCode}]` : ''}`,
    );
  }
  return out.join('\n');
}

export function formatKeys(k: KeyAudit): string {
  const made = k.runnerKeys + k.createdByCases + k.foundAfter;
  return [
    `API keys: ${k.runnerKeys} made by the runner, ${k.createdByCases} by cases (201), ${k.foundAfter} more found after the run; ${k.revoked}/${made} revoked at the end${k.setupError ? ` (runner's keys not made: ${k.setupError})` : ''}`,
    ...(k.problems.length ? ['API key problems:', ...k.problems.slice(0, 20).map((p) => `  ${p.route} -> ${p.outcome}: ${p.message}`)] : []),
  ].join('\n');
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
    formatKeys(report.keys),
    formatFailures(report, maxExamples),
  ].join('\n');
}
