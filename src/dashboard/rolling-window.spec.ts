import type { RequestRecord } from '../inference/request-events';
import { bucketOf, bucketValue, HIST_BUCKETS, quantile, RollingWindow, ttftFromArrival } from './rolling-window';

const T0 = 1_700_000_000_000; // a whole second

function rec(endedAt: number, extra: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: `id-${endedAt}`,
    route: '/api/generate',
    model: 'llama3:latest',
    priority: 5,
    replica: 'r',
    stream: true,
    node: 'a',
    queueMs: 10,
    estimateMs: 100,
    ttftMs: 20,
    serviceMs: 100,
    durationMs: 110,
    outcome: 'ok',
    status: 200,
    retries: 0,
    evalCount: 10,
    endedAt,
    ...extra,
  };
}

describe('log histogram', () => {
  it('puts values in buckets whose representative is within 8 %', () => {
    for (const v of [1, 3, 17, 250, 999, 12_345, 400_000]) expect(Math.abs(bucketValue(bucketOf(v)) - v) / v).toBeLessThan(0.08);
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(Number.NaN)).toBe(0);
    expect(bucketOf(1e12)).toBe(HIST_BUCKETS - 1);
  });

  it('computes quantiles', () => {
    const h = new Uint32Array(HIST_BUCKETS);
    for (let v = 1; v <= 1000; v++) h[bucketOf(v)]++;
    expect(quantile(h, 1000, 0.5)! / 500).toBeGreaterThan(0.92);
    expect(quantile(h, 1000, 0.5)! / 500).toBeLessThan(1.08);
    expect(quantile(h, 1000, 0.95)! / 950).toBeGreaterThan(0.92);
    expect(quantile(new Uint32Array(HIST_BUCKETS), 0, 0.5)).toBeNull();
  });
});

describe('RollingWindow', () => {
  it('measures TTFT from arrival, for streamed requests only', () => {
    expect(ttftFromArrival(rec(T0, { durationMs: 500, serviceMs: 300, ttftMs: 50 }))).toBe(250);
    expect(ttftFromArrival(rec(T0, { stream: false }))).toBeUndefined();
  });

  it('charts the life of a young replica in 1 s steps, null before it started', () => {
    const w = new RollingWindow(T0);
    w.add(rec(T0 + 2_100));
    w.add(rec(T0 + 2_900, { outcome: 'error', status: 502, evalCount: undefined }));
    w.add(rec(T0 + 4_500, { evalCount: 30, durationMs: 2_000 }));
    const young = w.series(T0 + 5_200);
    expect(young).toMatchObject({ stepSeconds: 1, windowSeconds: 10 });
    expect(young.points).toHaveLength(10);
    expect(young.points[0].okPerSecond).toBeNull();
    const s = w.series(T0 + 40_200);
    expect(s).toMatchObject({ stepSeconds: 1, windowSeconds: 39 });
    const last = s.points[s.points.length - 1];
    expect(last.t).toBe(T0 + 40_000); // the current, incomplete second is left out
    const at = (ms: number) => s.points.find((p) => p.t === ms)!;
    expect(at(T0 + 3_000)).toMatchObject({ okPerSecond: 1, failedPerSecond: 1, tokensPerSecond: 10 });
    expect(at(T0 + 5_000)).toMatchObject({ okPerSecond: 1, tokensPerSecond: 30 });
    expect(at(T0 + 5_000).p50Ms! / 2000).toBeCloseTo(1, 1);
    expect(at(T0 + 6_000)).toMatchObject({ okPerSecond: 0, p50Ms: null });
    expect(w.series(T0 + 100_200)).toMatchObject({ stepSeconds: 2, windowSeconds: 98 });
  });

  it('uses 5 s steps over five minutes once old enough, and forgets older seconds', () => {
    const w = new RollingWindow(T0);
    w.add(rec(T0 + 1_000));
    w.add(rec(T0 + 400_000));
    w.add(rec(T0 + 400_500));
    const s = w.series(T0 + 401_000);
    expect(s.stepSeconds).toBe(5);
    expect(s.points).toHaveLength(60);
    expect(s.windowSeconds).toBe(300);
    expect(s.points.reduce((a, p) => a + (p.okPerSecond ?? 0) * 5, 0)).toBe(2);
  });

  it('reuses the bin of a second that left the window, and drops records older than the window', () => {
    const w = new RollingWindow(T0);
    w.add(rec(T0 + 1_000));
    w.add(rec(T0 + 302_000)); // same bin as second 1 (301 bins), which must be cleared first
    expect(w.summary(T0 + 303_000, 1).requests).toBe(1);
    w.add(rec(T0 + 1_500)); // second 1 again: older than the bin's current second
    expect(w.summary(T0 + 303_000, 1).requests).toBe(1);
    expect(w.summary(T0 + 303_000, 300).requests).toBe(1);
  });

  it('summarises the last minute', () => {
    const w = new RollingWindow(T0);
    for (let i = 0; i < 30; i++) w.add(rec(T0 + 1_000 + i * 1_000, { durationMs: 100 + i }));
    w.add(rec(T0 + 5_000, { outcome: 'rejected', status: 404, node: undefined }));
    const s = w.summary(T0 + 61_000);
    expect(s.seconds).toBe(60);
    expect(s.requests).toBe(31);
    expect(s.failed).toBe(1);
    expect(s.tokensPerSecond).toBeCloseTo(300 / 60);
    expect(s.p95Ms! / 128).toBeCloseTo(1, 1);
  });

  it('keeps the last requests, newest first', () => {
    const w = new RollingWindow(T0, 3);
    for (let i = 1; i <= 5; i++) w.add(rec(T0 + i));
    expect(w.recent().map((r) => r.endedAt)).toEqual([T0 + 5, T0 + 4, T0 + 3]);
    expect(w.recent(2)).toHaveLength(2);
    expect(Object.keys(w.recent()[0])).not.toContain('prompt');
  });
});
