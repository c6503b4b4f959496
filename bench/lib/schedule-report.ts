import { mean, percentile, table } from './stats';

/** Summary of one run (one strategy, one fleet, one seed). Times are simulated milliseconds. */
export interface RunStats {
  count: number;
  errors: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  makespanMs: number;
  /** Requests served per node. */
  perNode: Record<string, number>;
  /** Share of requests that waited for a model load. */
  coldShare: number;
}

export interface ServedRequest {
  latencyMs: number;
  node: string;
  cold: boolean;
  ok: boolean;
}

/** Latency statistics over the requests that succeeded; makespan from the first arrival to the last answer. */
export function runStats(served: ServedRequest[], makespanMs: number, nodeNames: string[]): RunStats {
  const ok = served.filter((s) => s.ok);
  const latencies = ok.map((s) => s.latencyMs);
  const perNode: Record<string, number> = Object.fromEntries(nodeNames.map((n) => [n, 0]));
  for (const s of ok) perNode[s.node] = (perNode[s.node] ?? 0) + 1;
  return {
    count: served.length,
    errors: served.length - ok.length,
    mean: mean(latencies),
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    makespanMs,
    perNode,
    coldShare: ok.length ? ok.filter((s) => s.cold).length / ok.length : NaN,
  };
}

/** The mean of every field over runs (e.g. over seeds); counts and errors are summed. */
export function averageStats(runs: RunStats[]): RunStats {
  if (runs.length === 0) throw new Error('averageStats: no runs');
  const avg = (f: (r: RunStats) => number): number => mean(runs.map(f));
  const nodes = [...new Set(runs.flatMap((r) => Object.keys(r.perNode)))];
  return {
    count: runs.reduce((s, r) => s + r.count, 0),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    mean: avg((r) => r.mean),
    p50: avg((r) => r.p50),
    p95: avg((r) => r.p95),
    p99: avg((r) => r.p99),
    makespanMs: avg((r) => r.makespanMs),
    perNode: Object.fromEntries(nodes.map((n) => [n, avg((r) => r.perNode[n] ?? 0)])),
    coldShare: avg((r) => r.coldShare),
  };
}

const seconds = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '-');

function perNodeCell(perNode: Record<string, number>, nodeNames: string[]): string {
  return nodeNames.map((n) => String(Math.round(perNode[n] ?? 0))).join(' / ');
}

/** One Markdown table: a row per strategy (and the clairvoyant reference), times in simulated seconds. */
export function statsTable(rows: { label: string; stats: RunStats }[], nodeNames: string[]): string {
  return table(
    ['strategy', 'mean s', 'p50 s', 'p95 s', 'p99 s', 'makespan s', `requests per node (${nodeNames.join(' / ')})`, 'cold', 'errors'],
    rows.map(({ label, stats }) => [
      label,
      seconds(stats.mean),
      seconds(stats.p50),
      seconds(stats.p95),
      seconds(stats.p99),
      seconds(stats.makespanMs),
      perNodeCell(stats.perNode, nodeNames),
      Number.isFinite(stats.coldShare) ? `${(stats.coldShare * 100).toFixed(1)}%` : '-',
      String(stats.errors),
    ]),
  );
}

export function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}x` : '-';
}

/**
 * Replaces the `## heading` section of a Markdown document (up to the next `## ` heading) with `body`,
 * or appends it when absent. Other sections are kept byte for byte.
 */
export function upsertSection(doc: string, heading: string, body: string): string {
  const title = `## ${heading}`;
  const section = `${title}\n\n${body.trim()}\n`;
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => l.trim() === title);
  if (start === -1) {
    const base = doc.trim() === '' ? '# Benchmark results\n' : doc.replace(/\n*$/, '\n');
    return `${base}\n${section}`;
  }
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  if (end === -1) end = lines.length;
  const before = lines.slice(0, start).join('\n');
  const after = lines.slice(end).join('\n');
  return `${before}${before ? '\n' : ''}${section}${after ? `\n${after}` : ''}`;
}
