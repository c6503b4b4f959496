import type { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { classifyUpstreamError } from './upstream-error';

/** A node's answer: status, headers and a body to read (text(), json(), or chunk by chunk), as undici gives it. */
export type UpstreamResponse = Dispatcher.ResponseData;

export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'HEAD';
  path: string;
  /** A Readable is streamed through as it arrives (blob uploads). */
  body?: string | Buffer | Readable;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Time allowed until the response headers arrive (for streams: the first chunk). */
  headersTimeoutMs: number;
  /** Longest silence allowed between two body chunks. */
  bodyTimeoutMs: number;
}

/** The one place Herd talks HTTP to Ollama nodes: a keep-alive pool per node. */
export class OllamaNodeClient {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly connectTimeoutMs: number) {}

  private pool(baseUrl: string): Pool {
    let pool = this.pools.get(baseUrl);
    if (!pool) {
      pool = new Pool(baseUrl, {
        connections: 256,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        connect: { timeout: this.connectTimeoutMs },
      });
      this.pools.set(baseUrl, pool);
    }
    return pool;
  }

  /** Sends a request; transport failures come back as HerdError with a clear status and code. */
  async request(node: { name: string; url: string }, req: UpstreamRequest): Promise<UpstreamResponse> {
    try {
      return await this.pool(node.url).request({
        method: req.method,
        path: req.path,
        body: req.body,
        headers: req.body !== undefined ? { 'content-type': 'application/json', ...req.headers } : req.headers,
        signal: req.signal,
        headersTimeout: req.headersTimeoutMs,
        bodyTimeout: req.bodyTimeoutMs,
      });
    } catch (err) {
      if (req.signal?.aborted) throw err;
      throw classifyUpstreamError(err, node.name);
    }
  }

  /** GET a JSON document (health polls, metadata). */
  async getJson<T>(node: { name: string; url: string }, path: string, timeoutMs: number): Promise<T> {
    const res = await this.request(node, { method: 'GET', path, headersTimeoutMs: timeoutMs, bodyTimeoutMs: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${path} answered ${res.statusCode}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  }

  async forget(url: string): Promise<void> {
    const pool = this.pools.get(url);
    this.pools.delete(url);
    await pool?.close();
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.destroy()));
    this.pools.clear();
  }
}
