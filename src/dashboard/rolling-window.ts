import type { RequestRecord } from '../inference/request-events';

/**
 * The dashboard's memory of recent traffic on this replica: one bin per second for the last five minutes
 * (counts plus log-scale histograms of latency, time to first token and queue wait) and the last requests.
 * Adding a request is a few array writes; memory is fixed (about 360 KB) whatever the traffic.
 */
export const WINDOW_SECONDS = 300;
const MIN_CHART_SECONDS = 10;
const MAX_POINTS = 60;

/** Log-scale histogram over milliseconds: bucket 0 is < 1 ms, bucket i covers [F^(i-1), F^i). About ±7 %. */
const FACTOR = 1.15;
const LN_FACTOR = Math.log(FACTOR);
export const HIST_BUCKETS = 100;

export function bucketOf(ms: number): number {
  if (!(ms >= 1)) return 0;
  return Math.min(HIST_BUCKETS - 1, 1 + Math.floor(Math.log(ms) / LN_FACTOR));
}

/** Representative value of a bucket (its geometric middle). */
export function bucketValue(i: number): number {
  return i === 0 ? 0.5 : FACTOR ** (i - 0.5);
}

/** The q-quantile (0..1) of a histogram, or null when it is empty. */
export function quantile(hist: Uint32Array, total: number, q: number): number | null {
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i];
    if (seen >= rank) return bucketValue(i);
  }
  return bucketValue(hist.length - 1);
}

interface Bin {
  second: number;
  ok: number;
  failed: number;
  canceled: number;
  tokens: number;
  durationN: number;
  ttftN: number;
  queueN: number;
  duration: Uint32Array;
  ttft: Uint32Array;
  queue: Uint32Array;
}

function emptyBin(): Bin {
  return {
    second: -1,
    ok: 0,
    failed: 0,
    canceled: 0,
    tokens: 0,
    durationN: 0,
    ttftN: 0,
    queueN: 0,
    duration: new Uint32Array(HIST_BUCKETS),
    ttft: new Uint32Array(HIST_BUCKETS),
    queue: new Uint32Array(HIST_BUCKETS),
  };
}

function clearBin(b: Bin, second: number): void {
  b.second = second;
  b.ok = b.failed = b.canceled = b.tokens = b.durationN = b.ttftN = b.queueN = 0;
  b.duration.fill(0);
  b.ttft.fill(0);
  b.queue.fill(0);
}

/** One line of the "recent requests" table: no prompt, no answer. */
export interface RecentRequest {
  id: string;
  endedAt: number;
  route: string;
  model: string;
  node: string | null;
  priority: number;
  stream: boolean;
  queueMs: number | null;
  estimateMs: number | null;
  serviceMs: number | null;
  /** From arrival to the first byte (streamed requests). */
  ttftMs: number | null;
  durationMs: number;
  evalCount: number | null;
  outcome: RequestRecord['outcome'];
  status: number;
  retries: number;
  error: string | null;
}

export interface SeriesPoint {
  /** Epoch ms at the end of the point's interval. */
  t: number;
  /** Per second over the interval; null before the replica started. */
  okPerSecond: number | null;
  failedPerSecond: number | null;
  tokensPerSecond: number | null;
  /** Milliseconds; null when nothing was measured in the interval. */
  p50Ms: number | null;
  p95Ms: number | null;
  ttftP50Ms: number | null;
  ttftP95Ms: number | null;
  queueP95Ms: number | null;
}

export interface Series {
  stepSeconds: number;
  windowSeconds: number;
  points: SeriesPoint[];
}

export interface WindowSummary {
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  failed: number;
  errorRate: number | null;
  tokensPerSecond: number;
  p50Ms: number | null;
  p95Ms: number | null;
  ttftP95Ms: number | null;
  queueP95Ms: number | null;
}

/** Arrival to first byte, for streamed requests (the record counts TTFT from the final attempt's start). */
export function ttftFromArrival(r: RequestRecord): number | undefined {
  if (!r.stream || r.ttftMs === undefined || r.serviceMs === undefined) return undefined;
  return r.durationMs - r.serviceMs + r.ttftMs;
}

const round = (v: number | undefined): number | null => (v === undefined ? null : Math.round(v * 10) / 10);

export class RollingWindow {
  private readonly bins: Bin[] = Array.from({ length: WINDOW_SECONDS + 1 }, emptyBin);
  private readonly recentRing: (RecentRequest | undefined)[];
  private recentNext = 0;

  constructor(
    readonly startedAt = Date.now(),
    recentSize = 50,
  ) {
    this.recentRing = new Array<RecentRequest | undefined>(recentSize);
  }

  add(r: RequestRecord): void {
    const second = Math.floor(r.endedAt / 1000);
    const b = this.bins[second % this.bins.length];
    if (b.second !== second) {
      if (b.second > second) return; // older than the window
      clearBin(b, second);
    }
    if (r.outcome === 'ok') b.ok++;
    else if (r.outcome === 'canceled') b.canceled++;
    else b.failed++;
    if (r.outcome === 'ok' && r.evalCount) b.tokens += r.evalCount;
    if (r.outcome !== 'rejected') {
      b.duration[bucketOf(r.durationMs)]++;
      b.durationN++;
    }
    const ttft = ttftFromArrival(r);
    if (ttft !== undefined) {
      b.ttft[bucketOf(ttft)]++;
      b.ttftN++;
    }
    if (r.queueMs !== undefined) {
      b.queue[bucketOf(r.queueMs)]++;
      b.queueN++;
    }
    this.recentRing[this.recentNext] = {
      id: r.id,
      endedAt: r.endedAt,
      route: r.route,
      model: r.model,
      node: r.node ?? null,
      priority: r.priority,
      stream: r.stream,
      queueMs: round(r.queueMs),
      estimateMs: round(r.estimateMs),
      serviceMs: round(r.serviceMs),
      ttftMs: round(ttft),
      durationMs: round(r.durationMs) ?? 0,
      evalCount: r.evalCount ?? null,
      outcome: r.outcome,
      status: r.status,
      retries: r.retries,
      error: r.errorMessage ? r.errorMessage.slice(0, 200) : null,
    };
    this.recentNext = (this.recentNext + 1) % this.recentRing.length;
  }

  /** Newest first. */
  recent(limit = this.recentRing.length): RecentRequest[] {
    const out: RecentRequest[] = [];
    const n = this.recentRing.length;
    for (let k = 1; k <= n && out.length < limit; k++) {
      const r = this.recentRing[(this.recentNext - k + n) % n];
      if (r) out.push(r);
    }
    return out;
  }

  private bin(second: number): Bin | undefined {
    const b = this.bins[second % this.bins.length];
    return b.second === second ? b : undefined;
  }

  /** Sums the bins of seconds (from, to], merging their histograms. */
  private merge(from: number, to: number): { ok: number; failed: number; tokens: number; durationN: number; ttftN: number; queueN: number; duration: Uint32Array; ttft: Uint32Array; queue: Uint32Array } {
    const acc = { ok: 0, failed: 0, tokens: 0, durationN: 0, ttftN: 0, queueN: 0, duration: new Uint32Array(HIST_BUCKETS), ttft: new Uint32Array(HIST_BUCKETS), queue: new Uint32Array(HIST_BUCKETS) };
    for (let s = from + 1; s <= to; s++) {
      const b = this.bin(s);
      if (!b) continue;
      acc.ok += b.ok;
      acc.failed += b.failed;
      acc.tokens += b.tokens;
      acc.durationN += b.durationN;
      acc.ttftN += b.ttftN;
      acc.queueN += b.queueN;
      for (let i = 0; i < HIST_BUCKETS; i++) {
        acc.duration[i] += b.duration[i];
        acc.ttft[i] += b.ttft[i];
        acc.queue[i] += b.queue[i];
      }
    }
    return acc;
  }

  /**
   * Chart points up to the last complete second. The window is the replica's age (at least 10 s, at most five
   * minutes), so a young replica's charts show its whole life; at most 60 points (1 s steps up to a minute,
   * 5 s steps for five).
   */
  series(now = Date.now()): Series {
    const end = Math.floor(now / 1000) - 1;
    const started = Math.floor(this.startedAt / 1000);
    const age = end - started;
    const windowSeconds = Math.min(WINDOW_SECONDS, Math.max(MIN_CHART_SECONDS, age));
    const stepSeconds = Math.ceil(windowSeconds / MAX_POINTS);
    const count = Math.floor(windowSeconds / stepSeconds);
    const points: SeriesPoint[] = [];
    for (let k = count - 1; k >= 0; k--) {
      const to = end - k * stepSeconds;
      const from = to - stepSeconds;
      const t = (to + 1) * 1000;
      if (to < started) {
        points.push({ t, okPerSecond: null, failedPerSecond: null, tokensPerSecond: null, p50Ms: null, p95Ms: null, ttftP50Ms: null, ttftP95Ms: null, queueP95Ms: null });
        continue;
      }
      const m = this.merge(from, to);
      points.push({
        t,
        okPerSecond: m.ok / stepSeconds,
        failedPerSecond: m.failed / stepSeconds,
        tokensPerSecond: m.tokens / stepSeconds,
        p50Ms: quantile(m.duration, m.durationN, 0.5),
        p95Ms: quantile(m.duration, m.durationN, 0.95),
        ttftP50Ms: quantile(m.ttft, m.ttftN, 0.5),
        ttftP95Ms: quantile(m.ttft, m.ttftN, 0.95),
        queueP95Ms: quantile(m.queue, m.queueN, 0.95),
      });
    }
    return { stepSeconds, windowSeconds: count * stepSeconds, points };
  }

  /** Totals over the last `seconds` complete seconds (or the replica's age, if shorter). */
  summary(now = Date.now(), seconds = 60): WindowSummary {
    const end = Math.floor(now / 1000) - 1;
    const span = Math.max(1, Math.min(seconds, end - Math.floor(this.startedAt / 1000)));
    const m = this.merge(end - span, end);
    const requests = m.ok + m.failed;
    return {
      seconds: span,
      requests,
      requestsPerSecond: requests / span,
      failed: m.failed,
      errorRate: requests ? m.failed / requests : null,
      tokensPerSecond: m.tokens / span,
      p50Ms: quantile(m.duration, m.durationN, 0.5),
      p95Ms: quantile(m.duration, m.durationN, 0.95),
      ttftP95Ms: quantile(m.ttft, m.ttftN, 0.95),
      queueP95Ms: quantile(m.queue, m.queueN, 0.95),
    };
  }
}
