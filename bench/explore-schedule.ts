import { EctStrategy, type EctTuning } from '../src/scheduler/ect.strategy';
import { createStrategy, isStrategyName } from '../src/scheduler/create-strategy';
import type { Strategy } from '../src/scheduler/scheduler.types';
import { arg, SCHEDULE_DEFAULTS } from './lib/cli';
import { simulateClairvoyant, toClairvoyantRequests } from './lib/clairvoyant';
import { benchOutputLength, fleetCapacity, fleetModels, loadBenchFleet, simPromptTokens, toClairvoyantNodes, type BenchNode } from './lib/fleets';
import { runHerdModel, type HerdModelOptions } from './lib/herd-model';
import { averageStats, runStats, statsTable, type RunStats } from './lib/schedule-report';
import { makeTrace, type TraceRequest } from './lib/trace';

/**
 * The scheduling bench on the offline Herd model (bench/lib/herd-model.ts): seconds instead of minutes, any
 * number of seeds. Same traces, warm-up and clairvoyant as bench/schedule.ts; the real bench decides.
 * The model gets the queue depth (FleetSnapshot.queued), as the dispatcher passes it.
 * Usage: npm run build --silent && node dist/bench/explore-schedule.js [--seeds 1-20,41] [--fleets hetero,homo]
 *        [--count 100] [--homo-count 60] [--strategies ect,least-connections] [--ect '{"unknownOutputRisk":1}']
 *        [--model '{"jitterMs":3,"jitterSeed":2}'] [--per-seed]
 */

const { timeScale: TIME_SCALE, healthIntervalMs: HEALTH_INTERVAL_MS, warmup: WARMUP, warmupSeedOffset: WARMUP_SEED_OFFSET } = SCHEDULE_DEFAULTS;

function seedList(text: string): number[] {
  return text.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
}

function traceFor(nodes: BenchNode[], seed: number, count: number): TraceRequest[] {
  const models = fleetModels(nodes).map((m) => ({ name: m, share: nodes.every((n) => n.models.includes(m)) ? 3 : 1 }));
  return makeTrace({ seed, count, load: 0.75, fleetCapacityTokensPerSec: fleetCapacity(nodes), models, outputLengthOf: benchOutputLength(nodes) });
}

function strategyFor(label: string, ect: Partial<EctTuning>): Strategy {
  if (label === 'ect') return new EctStrategy(ect);
  if (!isStrategyName(label)) throw new Error(`unknown strategy ${label}`);
  return createStrategy(label);
}

function main(): void {
  const seeds = seedList(arg('seeds') ?? '1-20');
  const strategies = (arg('strategies') ?? 'ect,least-connections').split(',');
  const ect = JSON.parse(arg('ect') ?? '{}') as Partial<EctTuning>;
  const model = JSON.parse(arg('model') ?? '{}') as Partial<HerdModelOptions>;
  for (const fleetName of (arg('fleets') ?? 'hetero,homo').split(',')) {
    const { nodes } = loadBenchFleet(fleetName);
    const names = nodes.map((n) => n.name);
    const count = Number(fleetName === 'homo' ? (arg('homo-count') ?? 60) : (arg('count') ?? 100));
    const perSeed = new Map<string, RunStats[]>();
    const push = (k: string, s: RunStats): void => void perSeed.set(k, [...(perSeed.get(k) ?? []), s]);
    for (const seed of seeds) {
      const trace = traceFor(nodes, seed, count);
      const warm = traceFor(nodes, seed + WARMUP_SEED_OFFSET, WARMUP);
      const cv = simulateClairvoyant(toClairvoyantNodes(nodes), toClairvoyantRequests(trace, simPromptTokens));
      push('clairvoyant', runStats(cv.placements.map((p) => ({ latencyMs: p.latencyMs, node: p.node, cold: p.cold, ok: true })), cv.makespanMs, names));
      for (const label of strategies) {
        const opts: HerdModelOptions = { timeScale: TIME_SCALE, healthIntervalMs: HEALTH_INTERVAL_MS, exposeQueue: true, ...model, strategy: strategyFor(label, ect) };
        const out = runHerdModel(nodes, trace, simPromptTokens, opts, warm);
        const makespanMs = Math.max(...out.map((o, i) => trace[i].atMs + o.latencyMs)) - trace[0].atMs;
        push(label, runStats(out.map((o) => ({ latencyMs: o.latencyMs, node: o.node, cold: o.cold, ok: Number.isFinite(o.latencyMs) })), makespanMs, names));
      }
    }
    const rows = [...strategies, 'clairvoyant'].map((label) => ({ label, stats: averageStats(perSeed.get(label)!) }));
    const by = new Map(rows.map((r) => [r.label, r.stats]));
    const seconds = (runs: RunStats[], f: (s: RunStats) => number): string => runs.map((s) => (f(s) / 1000).toFixed(2)).join(' ');
    process.stdout.write(`\n${fleetName}, seeds ${seeds.join(',')}\n${statsTable(rows, names)}\n`);
    const e = by.get('ect');
    const lc = by.get('least-connections');
    const cv = by.get('clairvoyant')!;
    if (e && lc) {
      const wins = perSeed.get('ect')!.filter((s, i) => s.mean < perSeed.get('least-connections')![i].mean).length;
      process.stdout.write(
        `ect/lc mean ${(e.mean / lc.mean).toFixed(3)} p99 ${(e.p99 / lc.p99).toFixed(3)}; ect/cv mean ${(e.mean / cv.mean).toFixed(3)} p99 ${(e.p99 / cv.p99).toFixed(3)}; ` +
          `ect mean below lc on ${wins}/${seeds.length} seeds\n`,
      );
    }
    if (process.argv.includes('--per-seed')) {
      for (const label of [...strategies, 'clairvoyant']) process.stdout.write(`${label} mean: ${seconds(perSeed.get(label)!, (s) => s.mean)}\n${label} p99: ${seconds(perSeed.get(label)!, (s) => s.p99)}\n`);
    }
  }
}

main();
