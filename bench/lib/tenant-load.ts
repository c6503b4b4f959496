import { setMaxListeners } from 'node:events';
import { Pool } from 'undici';

/** How a tenant identifies itself: the X-Herd-Tenant header (keys off) or an API key. */
export type TenantAuth = { header: string } | { key: string };

export interface TenantSpec {
  name: string;
  auth: TenantAuth;
  model: string;
  /** num_predict of every request: exactly this many output tokens. */
  outputTokens: number;
}

/** One answered (or failed) request. Times are real ms from the shared clock's origin. */
export interface TenantOutcome {
  tenant: string;
  status: number;
  sentMs: number;
  latencyMs: number;
  /** X-Herd-Queue-Ms; NaN when absent. */
  queueMs: number;
  node: string;
  promptTokens: number;
  evalCount: number;
  error?: string;
}

const PROMPT_WORDS = 'explain the queue and the fleet in detail with an example of each step and the reason for it'.split(' ');

/** A prompt of about 40 words (the bench trace's median), different for every request. */
export function benchPrompt(tenant: string, n: number): string {
  const words = Array.from({ length: 36 }, (_, i) => PROMPT_WORDS[(i + n) % PROMPT_WORDS.length]);
  return `tenant ${tenant} request ${n}: ${words.join(' ')}`;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
}

/**
 * Sends tenants' requests to Herd replicas over loopback HTTP (/api/generate, whole answers), spreading each
 * tenant's requests over the replicas in turn. Every request is cut off at the shared deadline.
 */
export class TenantClient {
  private readonly pools: Pool[];
  private readonly abort = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly sentPerTenant = new Map<string, number>();

  constructor(
    replicaUrls: string[],
    private readonly t0: number,
    deadlineMs: number,
  ) {
    this.pools = replicaUrls.map((u) => new Pool(u, { connections: 128, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 }));
    setMaxListeners(10_000, this.abort.signal);
    this.timer = setTimeout(() => this.abort.abort(), deadlineMs);
  }

  now(): number {
    return performance.now() - this.t0;
  }

  async send(spec: TenantSpec): Promise<TenantOutcome> {
    const n = this.sentPerTenant.get(spec.name) ?? 0;
    this.sentPerTenant.set(spec.name, n + 1);
    const pool = this.pools[n % this.pools.length];
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if ('header' in spec.auth) headers['x-herd-tenant'] = spec.auth.header;
    else headers.authorization = `Bearer ${spec.auth.key}`;
    const body = JSON.stringify({ model: spec.model, prompt: benchPrompt(spec.name, n), stream: false, options: { num_predict: spec.outputTokens } });
    const sentMs = this.now();
    const failed = (status: number, error: string): TenantOutcome => ({ tenant: spec.name, status, sentMs, latencyMs: this.now() - sentMs, queueMs: NaN, node: '', promptTokens: NaN, evalCount: NaN, error });
    try {
      const res = await pool.request({ method: 'POST', path: '/api/generate', body, headers, signal: this.abort.signal });
      const text = await res.body.text();
      const latencyMs = this.now() - sentMs;
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // not JSON: reported as the error below
      }
      if (res.statusCode !== 200) return failed(res.statusCode, typeof parsed.error === 'string' ? parsed.error : text.slice(0, 200));
      const header = (name: string): string => {
        const v = res.headers[name];
        return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
      };
      const queue = header('x-herd-queue-ms');
      return {
        tenant: spec.name,
        status: 200,
        sentMs,
        latencyMs,
        queueMs: queue === '' ? NaN : Number(queue),
        node: header('x-herd-node'),
        promptTokens: num(parsed.prompt_eval_count),
        evalCount: num(parsed.eval_count),
      };
    } catch (err) {
      return failed(0, (err as Error).message);
    }
  }

  /** `count` requests at once. */
  burst(spec: TenantSpec, count: number): Promise<TenantOutcome>[] {
    return Array.from({ length: count }, () => this.send(spec));
  }

  /**
   * A closed loop: keeps `window` requests outstanding, each answer sending the next, until `count` were sent
   * or `stopAtMs` (real ms from the origin) has passed; resolves when every sent request is answered.
   */
  async closedLoop(spec: TenantSpec, opts: { window: number; count: number; stopAtMs: number }): Promise<TenantOutcome[]> {
    const outcomes: TenantOutcome[] = [];
    let sent = 0;
    const lane = async (): Promise<void> => {
      while (sent < opts.count && this.now() < opts.stopAtMs && !this.abort.signal.aborted) {
        sent++;
        outcomes.push(await this.send(spec));
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.window, opts.count) }, lane));
    return outcomes;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.abort.abort();
    await Promise.all(this.pools.map((p) => p.close().catch(() => undefined)));
  }
}
