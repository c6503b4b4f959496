import type { TurnTokens } from './conversation-tokens';
import { mean, percentile, table } from './stats';

/** One answered (or failed) turn, times in simulated ms. */
export interface ServedTurn {
  ok: boolean;
  ttftMs: number;
  latencyMs: number;
  node: string;
  /** prompt_eval_count: every prompt token, cached or not. */
  promptTokens: number;
  /** X-Herd-Cached-Tokens: what Herd expected the node to hold. */
  expectedCachedTokens: number;
}

/** The simulators' prompt-cache counters over a run, summed over the nodes. */
export interface CacheCounters {
  promptTokens: number;
  cachedTokens: number;
}

/** Summary of one conversation run (one strategy, one cache setting, one seed). Times are simulated ms. */
export interface AffinityStats {
  turns: number;
  errors: number;
  /** Turns never sent (an earlier turn of their conversation failed, or the run's deadline passed). */
  skipped: number;
  ttftP50: number;
  ttftP95: number;
  mean: number;
  p99: number;
  /** Cached prompt tokens / prompt tokens, from the simulators' counters. */
  hitRatio: number;
  /** The workload's maximum: every follow-up turn fully cached (maxHitRatio). */
  maxHitRatio: number;
  /** What Herd expected to be cached (X-Herd-Cached-Tokens) / prompt tokens, over the answered turns. */
  expectedHitRatio: number;
  perNode: Record<string, number>;
}

/** Cached prompt tokens / prompt tokens when every follow-up turn finds its conversation so far in a cache. */
export function maxHitRatio(turns: readonly TurnTokens[]): number {
  const prompt = turns.reduce((s, t) => s + t.promptTokens, 0);
  const cached = turns.reduce((s, t) => s + Math.min(t.maxCachedTokens, t.promptTokens), 0);
  return prompt > 0 ? cached / prompt : NaN;
}

export function affinityStats(served: readonly ServedTurn[], counters: CacheCounters, maxHit: number, nodeNames: readonly string[], skipped = 0): AffinityStats {
  const ok = served.filter((s) => s.ok);
  const perNode: Record<string, number> = Object.fromEntries(nodeNames.map((n) => [n, 0]));
  for (const s of ok) perNode[s.node] = (perNode[s.node] ?? 0) + 1;
  const prompt = ok.reduce((s, t) => s + t.promptTokens, 0);
  const ttft = ok.map((s) => s.ttftMs).filter((t) => Number.isFinite(t));
  const latency = ok.map((s) => s.latencyMs);
  return {
    turns: served.length,
    errors: served.length - ok.length,
    skipped,
    ttftP50: percentile(ttft, 50),
    ttftP95: percentile(ttft, 95),
    mean: mean(latency),
    p99: percentile(latency, 99),
    hitRatio: counters.promptTokens > 0 ? counters.cachedTokens / counters.promptTokens : NaN,
    maxHitRatio: maxHit,
    expectedHitRatio: prompt > 0 ? ok.reduce((s, t) => s + t.expectedCachedTokens, 0) / prompt : NaN,
    perNode,
  };
}

/** The mean of every figure over runs (e.g. over seeds); counts are summed. */
export function averageAffinityStats(runs: readonly AffinityStats[]): AffinityStats {
  if (runs.length === 0) throw new Error('averageAffinityStats: no runs');
  const avg = (f: (r: AffinityStats) => number): number => mean(runs.map(f));
  const nodes = [...new Set(runs.flatMap((r) => Object.keys(r.perNode)))];
  return {
    turns: runs.reduce((s, r) => s + r.turns, 0),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    skipped: runs.reduce((s, r) => s + r.skipped, 0),
    ttftP50: avg((r) => r.ttftP50),
    ttftP95: avg((r) => r.ttftP95),
    mean: avg((r) => r.mean),
    p99: avg((r) => r.p99),
    hitRatio: avg((r) => r.hitRatio),
    maxHitRatio: avg((r) => r.maxHitRatio),
    expectedHitRatio: avg((r) => r.expectedHitRatio),
    perNode: Object.fromEntries(nodes.map((n) => [n, avg((r) => r.perNode[n] ?? 0)])),
  };
}

const seconds = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '-');
const percent = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '-');

/** One Markdown table: a row per strategy, times in simulated seconds. */
export function affinityTable(rows: readonly { label: string; stats: AffinityStats }[], nodeNames: readonly string[]): string {
  return table(
    ['strategy', 'TTFT p50 s', 'TTFT p95 s', 'mean s', 'p99 s', 'hit ratio', 'of max', 'Herd expected', `turns per node (${nodeNames.join(' / ')})`, 'errors'],
    rows.map(({ label, stats }) => [
      label,
      seconds(stats.ttftP50),
      seconds(stats.ttftP95),
      seconds(stats.mean),
      seconds(stats.p99),
      percent(stats.hitRatio),
      Number.isFinite(stats.hitRatio / stats.maxHitRatio) ? `${((stats.hitRatio / stats.maxHitRatio) * 100).toFixed(0)}%` : '-',
      percent(stats.expectedHitRatio),
      nodeNames.map((n) => String(Math.round(stats.perNode[n] ?? 0))).join(' / '),
      `${stats.errors}${stats.skipped ? ` (+${stats.skipped} skipped)` : ''}`,
    ]),
  );
}

export interface Bar {
  what: string;
  ok: boolean;
  /** The measured figure, already formatted. */
  value: string;
}

const r2 = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-');

/** a / b, NaN unless both are finite and b is not 0. */
export function safeRatio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN;
}

const EPS = 1e-9;

export interface SingleTurnFigures {
  mean: number;
  p99: number;
}

/**
 * The issue's bars. With the host-RAM cache: ect with affinity has TTFT p50 <= 0.6x and mean latency <= 0.8x those of
 * ect without it, and a hit ratio >= 90% of the workload's maximum. With slot caches only: affinity no worse than
 * without on TTFT p50 and p95, mean and p99 latency (<= 1.03x each). Single-turn: mean and p99 within 3% either way.
 * A NaN figure fails its bar.
 */
export function affinityBars(
  host: { with: AffinityStats; without: AffinityStats },
  slots: { with: AffinityStats; without: AffinityStats },
  single: { with: SingleTurnFigures; without: SingleTurnFigures } | null,
): Bar[] {
  // EPS: a ratio exactly at a limit passes despite floating point (0.97 / 1 - 1 is -0.030000000000000027)
  const le = (x: number, limit: number): boolean => Number.isFinite(x) && x <= limit + EPS;
  const hostTtft = safeRatio(host.with.ttftP50, host.without.ttftP50);
  const hostMean = safeRatio(host.with.mean, host.without.mean);
  const ofMax = safeRatio(host.with.hitRatio, host.with.maxHitRatio);
  const bars: Bar[] = [
    { what: 'host-RAM cache: TTFT p50 with / without affinity <= 0.60x', ok: le(hostTtft, 0.6), value: r2(hostTtft) },
    { what: 'host-RAM cache: mean latency with / without affinity <= 0.80x', ok: le(hostMean, 0.8), value: r2(hostMean) },
    {
      what: 'host-RAM cache: hit ratio with affinity >= 90% of the maximum',
      ok: Number.isFinite(ofMax) && ofMax >= 0.9 - EPS,
      value: `${percent(host.with.hitRatio)} of max ${percent(host.with.maxHitRatio)} (${Number.isFinite(ofMax) ? `${(ofMax * 100).toFixed(0)}%` : '-'})`,
    },
  ];
  const slotFigures: [string, (s: AffinityStats) => number][] = [
    ['TTFT p50', (s) => s.ttftP50],
    ['TTFT p95', (s) => s.ttftP95],
    ['mean', (s) => s.mean],
    ['p99', (s) => s.p99],
  ];
  for (const [name, f] of slotFigures) {
    const x = safeRatio(f(slots.with), f(slots.without));
    bars.push({ what: `slot caches only: ${name} with / without affinity <= 1.03x`, ok: le(x, 1.03), value: r2(x) });
  }
  if (single) {
    for (const name of ['mean', 'p99'] as const) {
      const x = safeRatio(single.with[name], single.without[name]);
      bars.push({ what: `single-turn hetero: ${name} with / without affinity within 3%`, ok: Number.isFinite(x) && Math.abs(x - 1) <= 0.03 + EPS, value: r2(x) });
    }
  }
  return bars;
}

/** The closing machine-readable line; a figure that could not be measured is printed as NaN. */
export function affinityLine(ttftP50Ratio: number, meanRatio: number, singleTurnMeanRatio: number): string {
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : 'NaN');
  return `AFFINITY ttft_p50_ratio=${f(ttftP50Ratio)} mean_ratio=${f(meanRatio)} single_turn_mean_ratio=${f(singleTurnMeanRatio)}`;
}
