import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { isStrategyName, STRATEGY_NAMES } from '../src/scheduler/create-strategy';
import type { StrategyName } from '../src/scheduler/scheduler.types';
import { arg, SCHEDULE_DEFAULTS } from './lib/cli';
import { simulateClairvoyant, toClairvoyantRequests } from './lib/clairvoyant';
import { benchOutputLength, fleetCapacity, fleetModels, herdNodeConfigs, loadBenchFleet, simPromptTokens, toClairvoyantNodes, type BenchNode } from './lib/fleets';
import { spawnHerd, spawnSimNodes } from './lib/processes';
import { replayTrace, type ReplayOutcome } from './lib/replay';
import { averageStats, ratio, runStats, statsTable, upsertSection, type RunStats } from './lib/schedule-report';
import { makeTrace, type TraceRequest } from './lib/trace';
import { percentile } from './lib/stats';
import type { SimFleetConfig } from '../sim/types';
import { herdNodes, repoRoot, waitUntil } from './lib/herd-probe';

/**
 * Scheduling quality: one seeded trace replayed through the real gateway once per strategy, against
 * simulated fleets, next to an offline clairvoyant reference that knows every output length.
 * Usage: npm run bench:schedule -- [--seeds 1,2,3] [--homo-seeds 1] [--count 100] [--homo-count 60] [--warmup 30]
 *        [--time-scale 0.08] [--load 0.75] [--fleets hetero,homo] [--strategies ect,least-connections] [--no-write]
 */

interface Options {
  seeds: number[];
  homoSeeds: number[];
  count: number;
  homoCount: number;
  warmup: number;
  timeScale: number;
  load: number;
  fleets: string[];
  strategies: StrategyName[];
  write: boolean;
  healthIntervalMs: number;
}

/** A request counts as cold when it waited at least this long (simulated ms) for its model to load. */
const COLD_LOAD_MS = 100;
/** Each run gives up on answers still missing this long (real ms) after its last request was sent. */
const DRAIN_TIMEOUT_MS = 90_000;

function numbers(text: string): number[] {
  return text.split(',').filter(Boolean).map(Number);
}

function options(): Options {
  const strategies = (arg('strategies') ?? STRATEGY_NAMES.join(',')).split(',');
  const bad = strategies.filter((s) => !isStrategyName(s));
  if (bad.length) throw new Error(`unknown strategies: ${bad.join(', ')}`);
  const seeds = numbers(arg('seeds') ?? '1,2,3');
  return {
    seeds,
    homoSeeds: numbers(arg('homo-seeds') ?? '1'),
    count: Number(arg('count') ?? 100),
    homoCount: Number(arg('homo-count') ?? arg('count') ?? 60),
    warmup: Number(arg('warmup') ?? SCHEDULE_DEFAULTS.warmup),
    timeScale: Number(arg('time-scale') ?? SCHEDULE_DEFAULTS.timeScale),
    load: Number(arg('load') ?? 0.75),
    fleets: (arg('fleets') ?? 'hetero,homo').split(','),
    strategies: strategies as StrategyName[],
    write: !process.argv.includes('--no-write'),
    healthIntervalMs: Number(arg('health-interval-ms') ?? SCHEDULE_DEFAULTS.healthIntervalMs),
  };
}

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

interface FleetBench {
  name: string;
  nodes: BenchNode[];
  config: SimFleetConfig;
  capacity: number;
  models: { name: string; share: number }[];
}

function fleetBench(name: string): FleetBench {
  const { nodes, config } = loadBenchFleet(name);
  // The model every node has carries most traffic; the others (here: a model present on some nodes only, not loaded) a quarter each.
  const models = fleetModels(nodes).map((m) => ({ name: m, share: nodes.every((n) => n.models.includes(m)) ? 3 : 1 }));
  return { name, nodes, config, capacity: fleetCapacity(nodes), models };
}

function traceFor(fleet: FleetBench, seed: number, count: number, load: number): TraceRequest[] {
  return makeTrace({ seed, count, load, fleetCapacityTokensPerSec: fleet.capacity, models: fleet.models, outputLengthOf: benchOutputLength(fleet.nodes) });
}

/** Puts every node back to its initial residency (unloads what the warm-up loaded) and waits until Herd has seen it. */
async function resetResidency(fleet: FleetBench, simUrls: string[], herdUrl: string): Promise<void> {
  await Promise.all(
    fleet.nodes.flatMap((n, i) =>
      n.models
        .filter((m) => !n.resident.includes(m))
        .map(async (m) => {
          const res = await fetch(`${simUrls[i]}/api/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: m, prompt: '', keep_alive: 0 }) });
          await res.text();
        }),
    ),
  );
  const want = new Map(fleet.nodes.map((n) => [n.name, [...n.resident].sort().join(',')]));
  await waitUntil('Herd to see the initial residency', 10_000, async () =>
    (await herdNodes(herdUrl)).every((v) => v.inFlight === 0 && [...v.resident].sort().join(',') === want.get(v.name)),
  );
}

interface RunResult {
  stats: RunStats;
  outcomes: ReplayOutcome[];
  /** Median |estimate - time from placement to answer| / that time, over answered requests. */
  estimateError: number;
  mismatched: number;
  maxSendLagMs: number;
}

async function runOnce(redisUrl: string, fleet: FleetBench, strategy: StrategyName, trace: TraceRequest[], warm: TraceRequest[], opts: Options, tag: string): Promise<RunResult> {
  const ts = opts.timeScale;
  const sim = await spawnSimNodes(fleet.config.nodes.map((n) => ({ ...n, timeScale: ts, maxQueue: 10_000 })));
  let herd: Awaited<ReturnType<typeof spawnHerd>> | undefined;
  try {
    herd = await spawnHerd(
      {
        REDIS_URL: redisUrl,
        HERD_REDIS_PREFIX: tag,
        HERD_STRATEGY: strategy,
        HERD_HEALTH_INTERVAL_MS: String(opts.healthIntervalMs),
        HERD_QUEUE_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS * 2),
        LOG_LEVEL: 'info',
      },
      herdNodeConfigs(fleet.nodes, sim.urls),
    );
    const url = herd.url;
    await waitUntil('every node healthy', 10_000, async () => (await herdNodes(url)).every((n) => n.state === 'healthy'));
    if (warm.length > 0) {
      const w = await replayTrace(url, warm, { timeScale: ts, drainTimeoutMs: DRAIN_TIMEOUT_MS });
      const failed = w.outcomes.filter((o) => o.status !== 200);
      if (failed.length) log(`  warm-up: ${failed.length} failed, first: ${failed[0].status} ${failed[0].error}`);
      await resetResidency(fleet, sim.urls, url);
    }
    const r = await replayTrace(url, trace, { timeScale: ts, drainTimeoutMs: DRAIN_TIMEOUT_MS });
    const expected = new Map(trace.map((t) => [t.id, t.outputTokens]));
    let mismatched = 0;
    const served = r.outcomes.map((o) => {
      const ok = o.status === 200;
      if (ok && o.evalCount !== expected.get(o.id)) mismatched++;
      return { latencyMs: o.latencyMs / ts, node: o.node, cold: o.loadMs / ts >= COLD_LOAD_MS, ok };
    });
    const ends = r.outcomes.map((o) => o.sentMs + o.latencyMs);
    const starts = r.outcomes.map((o) => o.sentMs);
    const makespanMs = (Math.max(...ends) - Math.min(...starts)) / ts;
    const placed = r.outcomes.filter((o) => o.status === 200 && Number.isFinite(o.estimateMs) && Number.isFinite(o.queueMs));
    const errs = placed.map((o) => Math.abs(o.estimateMs - (o.latencyMs - o.queueMs)) / (o.latencyMs - o.queueMs));
    return {
      stats: runStats(served, makespanMs, fleet.nodes.map((n) => n.name)),
      outcomes: r.outcomes,
      estimateError: percentile(errs, 50),
      mismatched,
      maxSendLagMs: r.maxSendLagMs,
    };
  } finally {
    await herd?.stop();
    await sim.stop();
  }
}

interface FleetReport {
  fleet: FleetBench;
  seeds: number[];
  count: number;
  /** Per strategy (and 'clairvoyant'), one RunStats per seed. */
  perSeed: Map<string, RunStats[]>;
  /** Per strategy, the raw outcomes of each seed (for the JSON dump). */
  raw: Map<string, ReplayOutcome[][]>;
}

async function benchFleet(redisUrl: string, fleet: FleetBench, seeds: number[], count: number, opts: Options, runId: string): Promise<FleetReport> {
  const perSeed = new Map<string, RunStats[]>();
  const raw = new Map<string, ReplayOutcome[][]>();
  const push = (k: string, s: RunStats): void => void perSeed.set(k, [...(perSeed.get(k) ?? []), s]);
  const names = fleet.nodes.map((n) => n.name);
  let run = 0;
  for (const seed of seeds) {
    const trace = traceFor(fleet, seed, count, opts.load);
    const warm = opts.warmup > 0 ? traceFor(fleet, seed + SCHEDULE_DEFAULTS.warmupSeedOffset, opts.warmup, opts.load) : [];
    const cv = simulateClairvoyant(toClairvoyantNodes(fleet.nodes), toClairvoyantRequests(trace, simPromptTokens));
    const cvStats = runStats(
      cv.placements.map((p) => ({ latencyMs: p.latencyMs, node: p.node, cold: p.cold, ok: true })),
      cv.makespanMs,
      names,
    );
    push('clairvoyant', cvStats);
    log(`${fleet.name} seed ${seed}: clairvoyant mean ${(cvStats.mean / 1000).toFixed(2)} s, p99 ${(cvStats.p99 / 1000).toFixed(2)} s`);
    for (const strategy of opts.strategies) {
      const started = performance.now();
      const r = await runOnce(redisUrl, fleet, strategy, trace, warm, opts, `${runId}${fleet.name.slice(0, 2)}${run++}`);
      push(strategy, r.stats);
      raw.set(strategy, [...(raw.get(strategy) ?? []), r.outcomes]);
      const s = r.stats;
      log(
        `${fleet.name} seed ${seed}: ${strategy.padEnd(20)} mean ${(s.mean / 1000).toFixed(2)} s, p99 ${(s.p99 / 1000).toFixed(2)} s, ` +
          `nodes ${names.map((n) => s.perNode[n]).join('/')}, errors ${s.errors}, est. error ${(r.estimateError * 100).toFixed(0)}%, ` +
          `send lag ${r.maxSendLagMs.toFixed(0)} ms${r.mismatched ? `, ${r.mismatched} lengths differ from the trace` : ''} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
      );
    }
  }
  return { fleet, seeds, count, perSeed, raw };
}

/** The issue's bar: on unequal nodes, mean <= 1.15x and p99 <= 1.5x the clairvoyant's and better than least-connections on both; on equal nodes, within 5% of least-connections. */
function barCheck(fleet: FleetBench, ect: RunStats, lc: RunStats, cv: RunStats): string {
  const heterogeneous = new Set(fleet.nodes.map((n) => `${n.slots}x${n.decodeTps}`)).size > 1;
  if (heterogeneous) {
    const checks = [
      [`mean <= 1.15x clairvoyant`, ect.mean <= 1.15 * cv.mean],
      [`p99 <= 1.5x clairvoyant`, ect.p99 <= 1.5 * cv.p99],
      [`mean < least-connections`, ect.mean < lc.mean],
      [`p99 < least-connections`, ect.p99 < lc.p99],
    ] as const;
    return `bar: ${checks.map(([what, ok]) => `${what} ${ok ? 'yes' : 'NO'}`).join('; ')}`;
  }
  const within = Math.abs(ect.mean / lc.mean - 1) <= 0.05 && Math.abs(ect.p99 / lc.p99 - 1) <= 0.05;
  return `bar: mean and p99 within 5% of least-connections ${within ? 'yes' : 'NO'}`;
}

function describeFleet(f: FleetBench): string {
  return f.nodes
    .map((n) => `${n.name} ${n.decodeTps} tok/s x${n.slots}${n.models.filter((m) => !n.resident.includes(m)).map((m) => `, ${m} not loaded`).join('')}`)
    .join('; ');
}

function fleetSection(rep: FleetReport, opts: Options): string {
  const names = rep.fleet.nodes.map((n) => n.name);
  const rows = [...opts.strategies, 'clairvoyant'].map((label) => ({ label, stats: averageStats(rep.perSeed.get(label)!) }));
  const avg = new Map(rows.map((r) => [r.label, r.stats]));
  const cv = avg.get('clairvoyant')!;
  const ect = avg.get('ect');
  const lc = avg.get('least-connections');
  const lines = [
    `### ${rep.fleet.name}: ${describeFleet(rep.fleet)}`,
    '',
    `Seeds ${rep.seeds.join(', ')} (${rep.seeds.length > 1 ? 'every figure is the mean over the seeds' : 'one seed'}), ${rep.count} requests each, ` +
      `models ${rep.fleet.models.map((m) => `${m.name} x${m.share}`).join(', ')}, offered load ${opts.load} of ${rep.fleet.capacity.toFixed(1)} tok/s.`,
    '',
    statsTable(rows, names),
    '',
  ];
  if (ect) {
    lines.push(`- ect / clairvoyant: mean ${ratio(ect.mean, cv.mean)}, p99 ${ratio(ect.p99, cv.p99)}`);
    if (lc) lines.push(`- ect / least-connections: mean ${ratio(ect.mean, lc.mean)}, p99 ${ratio(ect.p99, lc.p99)}`);
    if (lc) lines.push(`- ${barCheck(rep.fleet, ect, lc, cv)}`);
    if (rep.seeds.length > 1) {
      const per = (k: string, f: (s: RunStats) => number): string => (rep.perSeed.get(k) ?? []).map((s) => (f(s) / 1000).toFixed(2)).join(' / ');
      lines.push(`- per seed, mean s: ect ${per('ect', (s) => s.mean)}${lc ? `; least-connections ${per('least-connections', (s) => s.mean)}` : ''}; clairvoyant ${per('clairvoyant', (s) => s.mean)}`);
      lines.push(`- per seed, p99 s: ect ${per('ect', (s) => s.p99)}${lc ? `; least-connections ${per('least-connections', (s) => s.p99)}` : ''}; clairvoyant ${per('clairvoyant', (s) => s.p99)}`);
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const opts = options();
  const started = Date.now();
  const runId = `s${started.toString(36).slice(-5)}`;
  const redis = await startEmbeddedRedis();
  const reports: FleetReport[] = [];
  try {
    for (const name of opts.fleets) {
      const fleet = fleetBench(name);
      const homo = name === 'homo';
      reports.push(await benchFleet(redis.url, fleet, homo ? opts.homoSeeds : opts.seeds, homo ? opts.homoCount : opts.count, opts, runId));
    }
  } finally {
    await redis.stop();
  }
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const command = `npm run bench:schedule${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const body = [
    `\`${command}\`, ${new Date().toISOString().slice(0, 10)}, ${minutes} min on this machine.`,
    '',
    `The real gateway (one process per strategy run, fresh Redis prefix, HERD_HEALTH_INTERVAL_MS=${opts.healthIntervalMs}) in front of simulated ` +
      `Ollama nodes at timeScale ${opts.timeScale}; every time below is converted back to simulated time (real / ${opts.timeScale}). ` +
      `Each run first replays a ${opts.warmup}-request warm-up trace with another seed (so a learning scheduler has learned something, ` +
      `as it would have in production), then unloads whatever the warm-up loaded, then replays the measured trace. ` +
      `Arrivals are Poisson; output lengths follow the simulator's own rule and are unknown to Herd; a tenth of the requests set num_predict. ` +
      `The clairvoyant row is bench/lib/clairvoyant.ts on the same trace: it knows every output length and places each request on arrival ` +
      `where it would finish first, with no gateway overhead. "cold" is the share of requests that waited for a model load. ` +
      `Herd's own cost per request (a few ms, more per hand-over through the queue) is real time, so at timeScale ${opts.timeScale} ` +
      `it weighs ${(1 / opts.timeScale).toFixed(1)} times more against the simulated times than it would in front of real Ollama.`,
    '',
    ...reports.map((r) => fleetSection(r, opts) + '\n'),
  ].join('\n');
  process.stdout.write(`\n## Scheduling quality\n\n${body}\n`);
  if (opts.write) {
    const file = resolve(repoRoot(), 'bench/RESULTS.md');
    const doc = existsSync(file) ? readFileSync(file, 'utf8') : '';
    writeFileSync(file, upsertSection(doc, 'Scheduling quality', body));
    log(`written to ${file}`);
  }
  const json = { opts, reports: reports.map((r) => ({ fleet: r.fleet.name, seeds: r.seeds, perSeed: Object.fromEntries(r.perSeed), raw: Object.fromEntries(r.raw) })) };
  writeFileSync(resolve(tmpdir(), 'herd-bench-schedule.json'), JSON.stringify(json, null, 1));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
