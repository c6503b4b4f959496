import { createServer, type AddressInfo, type Socket } from 'node:net';
import { arg } from './cli';

/**
 * A bench-only Ollama node that puts on the wire the same bytes, in the same writes, as Ollama's Go server
 * (net/http + gin), so that bench:overhead can see what a gateway does in front of the real framing:
 *
 * - a whole (non-streamed) answer is ONE write: status line, `Content-Type: application/json; charset=utf-8`,
 *   `Date`, `Content-Length`, blank line, body. Go buffers what a handler writes (2048 bytes,
 *   bufferBeforeChunkingSize); when the handler returns and everything fit, Go knows the length and sends
 *   Content-Length. A bigger answer goes out chunked instead (headers + one chunk + `0\r\n\r\n`; in one write as
 *   long as it fits Go's 4 KB connection buffer, which is what this node does for any size).
 * - a stream (`Content-Type: application/x-ndjson`, `Transfer-Encoding: chunked`): one chunk per NDJSON line,
 *   flushed as it is produced (gin's c.Stream flushes after every step), the headers going out with the first
 *   one; after the final line the handler returns and Go writes the `0\r\n\r\n` terminator in a write of its own.
 * - header order is Go's: the handler's headers (Content-Type), then Date, then Content-Length or
 *   Transfer-Encoding. No `Connection: keep-alive` or `Keep-Alive` header (HTTP/1.1 keeps the connection open
 *   anyway); TCP_NODELAY on, as Go sets it on every TCP connection.
 *
 * Service time: `--service-ms S` (default 0). A whole answer goes out S ms after its request arrived; a stream
 * spreads S over its tokens (token i of N is due at i*S/N, the final chunk right after the last token).
 * Node's timers have 1 ms resolution, so a few hundred µs become 1 ms: the "direct" rows of bench:overhead show
 * what the node really took. Tokens: options.num_predict, else `--tokens` (default 8). Requests run in parallel,
 * each with the same service time (no slots, no queue). One model (`--model`, default llama3:latest).
 *
 * Routes: POST /api/generate, POST /api/chat (stream true by default, as in Ollama), GET /api/tags, /api/ps,
 * /api/version (Herd's health poll), GET / ("Ollama is running"). Request bodies must carry Content-Length
 * (undici, which Herd and the bench use, always sends it for a string body).
 *
 * Usage: node dist/bench/lib/go-style-node.js [--service-ms 2] [--tokens 8] [--model llama3:latest] [--port 0]
 * It prints "URL http://127.0.0.1:<port>" once listening and stops on SIGTERM.
 */

const serviceMs = Number(arg('service-ms') ?? '0');
const defaultTokens = Number(arg('tokens') ?? '8');
const modelName = arg('model') ?? 'llama3:latest';
const startedAt = new Date().toISOString();

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed' };
const JSON_TYPE = 'application/json; charset=utf-8';

/** Go's Date header (http.TimeFormat), recomputed at most once a second like Go's cached value. */
let dateSecond = -1;
let dateText = '';
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

function head(status: number, contentType: string, framing: string, close: boolean): string {
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}\r\n` +
    `Content-Type: ${contentType}\r\n` +
    `Date: ${httpDate()}\r\n` +
    framing +
    (close ? 'Connection: close\r\n' : '') +
    '\r\n'
  );
}

/** Go's chunked encoding: hex length, CRLF, data, CRLF. */
function chunk(data: string): string {
  return `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`;
}

const GO_BUFFER_BEFORE_CHUNKING = 2048;

/** One connection: requests are read and answered one after the other, like Go's conn.serve loop. */
class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private busy = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => {
      this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
      this.next();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
    });
  }

  /** Parses and serves the next complete request in the buffer, if no answer is in progress. */
  private next(): void {
    if (this.busy || this.socket.destroyed) return;
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const lines = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
    const [method, target, version] = lines[0].split(' ');
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = Number(headers.get('content-length') ?? '0');
    if (!method || !target || !version?.startsWith('HTTP/1.') || headers.has('transfer-encoding') || !Number.isInteger(length) || length < 0) {
      // What Go answers to a request it cannot read (a chunked request body is only refused here, for brevity).
      this.socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request');
      return;
    }
    if (this.buffer.length < end + 4 + length) return;
    const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
    this.buffer = this.buffer.subarray(end + 4 + length);
    const close = version === 'HTTP/1.0' || headers.get('connection')?.toLowerCase() === 'close';
    this.busy = true;
    this.serve(method, target.split('?')[0], body, close);
  }

  private done(close: boolean): void {
    this.busy = false;
    if (close) this.socket.end();
    else this.next();
  }

  private later(ms: number, fn: () => void): void {
    if (ms <= 0) return fn();
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** gin's c.JSON: the whole answer in one write (Content-Length when it fits Go's 2048-byte buffer). */
  private whole(status: number, value: unknown, close: boolean, contentType = JSON_TYPE): void {
    const body = typeof value === 'string' ? value : JSON.stringify(value);
    const size = Buffer.byteLength(body);
    if (size <= GO_BUFFER_BEFORE_CHUNKING) this.socket.write(head(status, contentType, `Content-Length: ${size}\r\n`, close) + body);
    else this.socket.write(head(status, contentType, 'Transfer-Encoding: chunked\r\n', close) + chunk(body) + '0\r\n\r\n');
    this.done(close);
  }

  private serve(method: string, path: string, text: string, close: boolean): void {
    if (method === 'GET' && path === '/') return this.whole(200, 'Ollama is running', close, 'text/plain; charset=utf-8');
    if (method === 'GET' && path === '/api/version') return this.whole(200, { version: '0.12.6' }, close);
    if (method === 'GET' && path === '/api/tags') return this.whole(200, { models: [modelInfo()] }, close);
    if (method === 'GET' && path === '/api/ps') {
      const expires = new Date(Date.now() + 5 * 60_000).toISOString();
      return this.whole(200, { models: [{ ...modelInfo(), expires_at: expires, size_vram: 4_661_224_676, context_length: 4096 }] }, close);
    }
    if (path !== '/api/generate' && path !== '/api/chat') return this.whole(404, '404 page not found', close, 'text/plain');
    if (method !== 'POST') return this.whole(405, '405 method not allowed', close, 'text/plain');
    let req: { model?: unknown; stream?: unknown; options?: { num_predict?: unknown } };
    try {
      req = JSON.parse(text) as typeof req;
    } catch {
      return this.whole(400, { error: 'invalid character in request body' }, close);
    }
    if (typeof req.model !== 'string' || req.model === '') return this.whole(400, { error: 'model is required' }, close);
    if (withTag(req.model).toLowerCase() !== modelName.toLowerCase()) {
      return this.whole(404, { error: `model "${req.model}" not found, try pulling it first` }, close);
    }
    const asked = req.options?.num_predict;
    const tokens = typeof asked === 'number' && asked > 0 ? Math.floor(asked) : defaultTokens;
    const answer = new Answer(req.model, path === '/api/chat', tokens);
    if (req.stream === false) {
      this.later(serviceMs, () => this.whole(200, answer.whole(), close));
      return;
    }
    this.stream(answer, close);
  }

  /** Token i of N at i*S/N after arrival, each line its own flushed chunk; then the final line; then the terminator. */
  private stream(answer: Answer, close: boolean): void {
    const started = performance.now();
    let sent = 0;
    // `woken`: called by the timer set for the next token, which is then sent even if Node's millisecond
    // timers woke a hair early.
    const step = (woken: boolean): void => {
      if (this.socket.destroyed) return;
      const now = performance.now() - started;
      while (sent < answer.tokens && (woken || ((sent + 1) * serviceMs) / answer.tokens <= now)) {
        woken = false;
        const line = answer.tokenLine(sent++);
        this.socket.write(sent === 1 ? head(200, 'application/x-ndjson', 'Transfer-Encoding: chunked\r\n', close) + chunk(line) : chunk(line));
      }
      if (sent < answer.tokens) return this.later(((sent + 1) * serviceMs) / answer.tokens - now, () => step(true));
      const last = answer.finalLine();
      this.socket.write(sent === 0 ? head(200, 'application/x-ndjson', 'Transfer-Encoding: chunked\r\n', close) + chunk(last) : chunk(last));
      this.socket.write('0\r\n\r\n');
      this.done(close);
    };
    step(false);
  }
}

/** Ollama's field shapes for one answer of N tokens (durations in ns, as measured since the request arrived). */
class Answer {
  private readonly t0 = performance.now();

  constructor(
    private readonly model: string,
    private readonly chat: boolean,
    readonly tokens: number,
  ) {}

  private text(i: number): string {
    return i === 0 ? 'Hi' : ' there';
  }

  private content(text: string): Record<string, unknown> {
    return this.chat ? { message: { role: 'assistant', content: text } } : { response: text };
  }

  tokenLine(i: number): string {
    return JSON.stringify({ model: this.model, created_at: new Date().toISOString(), ...this.content(this.text(i)), done: false }) + '\n';
  }

  private final(text: string): Record<string, unknown> {
    const elapsedNs = Math.max(1, Math.round((performance.now() - this.t0) * 1e6));
    const timings = {
      total_duration: elapsedNs,
      load_duration: 1,
      prompt_eval_count: 3,
      prompt_eval_duration: 1,
      eval_count: this.tokens,
      eval_duration: elapsedNs,
    };
    const created = { model: this.model, created_at: new Date().toISOString(), ...this.content(text) };
    // Go's field order: GenerateResponse has done before done_reason (and context), ChatResponse the other way round.
    if (this.chat) return { ...created, done_reason: 'length', done: true, ...timings };
    return { ...created, done: true, done_reason: 'length', context: [1, 2, 3], ...timings };
  }

  finalLine(): string {
    return JSON.stringify(this.final('')) + '\n';
  }

  whole(): Record<string, unknown> {
    let text = '';
    for (let i = 0; i < this.tokens; i++) text += this.text(i);
    return this.final(text);
  }
}

function withTag(name: string): string {
  return name.includes(':') ? name : `${name}:latest`;
}

function modelInfo(): Record<string, unknown> {
  return {
    name: modelName,
    model: modelName,
    modified_at: startedAt,
    size: 4_661_224_676,
    digest: '365c0bd3c000a25d28ddbf732fe1c6add414de7275464c4e4d1c3b5fcb5d8ad1',
    details: { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '8.0B', quantization_level: 'Q4_0' },
  };
}

function main(): void {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    new Connection(socket);
  });
  server.listen(Number(arg('port') ?? '0'), '127.0.0.1', () => process.stdout.write(`URL http://127.0.0.1:${(server.address() as AddressInfo).port}\n`));
  process.on('SIGTERM', () => {
    for (const s of sockets) s.destroy();
    server.close(() => process.exit(0));
  });
}

main();
