import { shareDeviations, sharesWithin, type ContentionShares } from './fairness-shares';
import { mean, percentile, table } from './stats';

/** Latency of one tenant's answered requests, in simulated ms. */
export interface LatencySummary {
  answered: number;
  errors: number;
  mean: number;
  p95: number;
}

export function latencySummary(latenciesMs: number[], errors: number): LatencySummary {
  return { answered: latenciesMs.length, errors, mean: mean(latenciesMs), p95: percentile(latenciesMs, 95) };
}

export interface LatencyRow {
  label: string;
  b: LatencySummary;
  /** Tenant A's requests in the same run; absent when A sent nothing. */
  a?: LatencySummary;
}

export interface ShareRow {
  label: string;
  weights: [number, number];
  result: ContentionShares;
}

/** Tolerances of issue #12's bars. */
export const FAIRNESS_BARS = { fairMeanAtMost: 1.5, fifoMeanAtLeast: 3, shareTolerance: 0.1 } as const;

const seconds = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '-');
const percent = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '-');
const times = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '-');

/** Rows: B alone first (the reference for "x solo"), then B behind A. */
export function latencyTable(rows: LatencyRow[]): string {
  const solo = rows[0]?.b.mean ?? NaN;
  return table(
    ['run', 'B mean s', 'B p95 s', 'B mean / solo', 'B answered', 'B errors', 'A mean s', 'A answered', 'A errors'],
    rows.map(({ label, b, a }) => [label, seconds(b.mean), seconds(b.p95), times(b.mean, solo), String(b.answered), String(b.errors), seconds(a?.mean ?? NaN), a ? String(a.answered) : '-', a ? String(a.errors) : '-']),
  );
}

export function shareTable(rows: ShareRow[], timeScale: number): string {
  return table(
    ['run', 'weights A:B', 'window s', 'requests A / B', 'output-token share A / B', 'cost share A / B (prompt + 2 x output)', 'target A / B', 'cost share vs target'],
    rows.map(({ label, weights, result }) => {
      const [a, b] = result.shares;
      const target = weights.map((w) => w / (weights[0] + weights[1]));
      const dev = shareDeviations([a.costShare, b.costShare], weights);
      return [
        label,
        `${weights[0]}:${weights[1]}`,
        seconds((result.toMs - result.fromMs) / timeScale),
        `${a.requests} / ${b.requests}`,
        `${percent(a.outputShare)} / ${percent(b.outputShare)}`,
        `${percent(a.costShare)} / ${percent(b.costShare)}`,
        `${percent(target[0])} / ${percent(target[1])}`,
        dev.map((d) => (Number.isFinite(d) ? `${d >= 0 ? '+' : ''}${(d * 100).toFixed(1)}%` : '-')).join(' / '),
      ];
    }),
  );
}

export interface BarResult {
  what: string;
  /** undefined: not measured. */
  ok: boolean | undefined;
  measured: string;
}

export function latencyBars(solo: LatencySummary, fifo: LatencySummary | undefined, fair: LatencySummary | undefined): BarResult[] {
  const r = (x: LatencySummary | undefined): number => (x ? x.mean / solo.mean : NaN);
  const fairRatio = r(fair);
  const fifoRatio = r(fifo);
  return [
    { what: `fair share on: B mean <= ${FAIRNESS_BARS.fairMeanAtMost}x solo`, ok: fair && Number.isFinite(fairRatio) ? fairRatio <= FAIRNESS_BARS.fairMeanAtMost : undefined, measured: times(fair?.mean ?? NaN, solo.mean) },
    { what: `fair share off (FIFO): B mean >= ${FAIRNESS_BARS.fifoMeanAtLeast}x solo`, ok: fifo && Number.isFinite(fifoRatio) ? fifoRatio >= FAIRNESS_BARS.fifoMeanAtLeast : undefined, measured: times(fifo?.mean ?? NaN, solo.mean) },
  ];
}

export function shareBar(row: ShareRow): BarResult {
  const costShares = row.result.shares.map((s) => s.costShare);
  const dev = shareDeviations(costShares, row.weights);
  const measured = row.result.counted === 0 ? 'no dispatch while both were backlogged' : `cost shares ${costShares.map(percent).join(' / ')}, deviation ${dev.map(percent).join(' / ')}`;
  return {
    what: `${row.label}: each tenant's cost share within ${FAIRNESS_BARS.shareTolerance * 100}% of its weight's share (${row.weights.join(':')})`,
    ok: row.result.counted === 0 ? undefined : sharesWithin(costShares, row.weights, FAIRNESS_BARS.shareTolerance),
    measured,
  };
}

export function barLines(bars: BarResult[]): string[] {
  return bars.map((b) => `- ${b.what}: ${b.ok === undefined ? 'not measured' : b.ok ? 'yes' : 'NO'} (${b.measured})`);
}
