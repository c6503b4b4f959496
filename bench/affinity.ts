import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import type { StrategyName } from '../src/scheduler/scheduler.types';
import {
  affinityBars,
  affinityLine,
  affinityStats,
  affinityTable,
  averageAffinityStats,
  maxHitRatio,
  safeRatio,
  type AffinityStats,
} from './lib/affinity-report';
import { conversationRun, singleTurnRun, type AffinityFleet, type HerdSetup } from './lib/affinity-runs';
import { arg, SCHEDULE_DEFAULTS } from './lib/cli';
import { conversationTurnTokens } from './lib/conversation-tokens';
import { CONVERSATION_DEFAULTS, conversationsLoad, makeConversations, type Conversation, type FleetRates, type LoadBasis } from './lib/conversations';
import { benchOutputLength, fleetCapacity, fleetModels, loadBenchFleet, type BenchNode } from './lib/fleets';
import { averageStats, statsTable, upsertSection, type RunStats } from './lib/schedule-report';
import { makeTrace } from './lib/trace';
import { repoRoot } from './lib/herd-probe';

/**
 * Conversation affinity (issue #14): multi-turn chats replayed through the real gateway against the simulated
 * heterogeneous fleet, whose nodes cache prompts the way Ollama does, once per strategy and cache setting; then
 * bench:schedule's single-turn hetero workload with affinity on and off.
 * Usage: npm run bench:affinity -- [--seeds 1,2,3] [--time-scale 0.04] [--load 0.7] [--load-basis cached|cold] [--conversations 24] [--turns 6]
 *        [--warmup 12] [--think-ms 5000,15000] [--cache-entries 8] [--settings slots,host]
 *        [--strategies ect+affinity,ect,least-connections,round-robin] [--single-turn-count 100]
 *        [--single-turn-warmup 30] [--single-turn-time-scale 0.08] [--no-single-turn] [--no-write]
 *        [--herd other-build/dist/src/main.js]
 */

interface StrategyRun {
  label: string;
  strategy: StrategyName;
  affinity: boolean;
}

const STRATEGIES: Record<string, StrategyRun> = {
  'ect+affinity': { label: 'ect + affinity', strategy: 'ect', affinity: true },
  ect: { label: 'ect, no affinity', strategy: 'ect', affinity: false },
  'least-connections': { label: 'least-connections', strategy: 'least-connections', affinity: false },
  'round-robin': { label: 'round-robin', strategy: 'round-robin', affinity: false },
};
const WITH = 'ect+affinity';
const WITHOUT = 'ect';

interface CacheSetting {
  key: string;
  label: string;
  entries: number;
}

interface Options {
  seeds: number[];
  timeScale: number;
  load: number;
  loadBasis: LoadBasis;
  conversations: number;
  turns: number;
  warmup: number;
  thinkMs: [number, number];
  settings: CacheSetting[];
  strategies: string[];
  singleTurn: boolean;
  singleTurnCount: number;
  singleTurnWarmup: number;
  singleTurnTimeScale: number;
  write: boolean;
  healthIntervalMs: number;
  herdMain?: string;
}

const FLEET = 'hetero';
const MODEL = 'llama3:latest';
/** Each run gives up on turns still running this long (real ms) after its last conversation started. */
const DRAIN_TIMEOUT_MS = 90_000;
/** A run whose load generator sent a conversation this late (real ms) ran on a busy machine: its times are suspect. */
const LAG_WARN_MS = 25;

function numbers(text: string): number[] {
  return text.split(',').filter(Boolean).map(Number);
}

function options(): Options {
  const strategies = (arg('strategies') ?? Object.keys(STRATEGIES).join(',')).split(',');
  const bad = strategies.filter((s) => !(s in STRATEGIES));
  if (bad.length) throw new Error(`unknown strategies: ${bad.join(', ')} (known: ${Object.keys(STRATEGIES).join(', ')})`);
  const entries = Number(arg('cache-entries') ?? 8);
  const known: Record<string, CacheSetting> = {
    slots: { key: 'slots', label: 'slot caches only', entries: 0 },
    host: { key: 'host', label: `slot caches + host-RAM cache of ${entries} sequences per node`, entries },
  };
  const settings = (arg('settings') ?? 'slots,host').split(',').map((s) => {
    if (!known[s]) throw new Error(`unknown cache setting ${s} (known: slots, host)`);
    return known[s];
  });
  const think = numbers(arg('think-ms') ?? CONVERSATION_DEFAULTS.thinkMs.join(','));
  if (think.length !== 2) throw new Error('--think-ms takes min,max');
  return {
    seeds: numbers(arg('seeds') ?? '1,2,3'),
    timeScale: Number(arg('time-scale') ?? 0.04),
    load: Number(arg('load') ?? CONVERSATION_DEFAULTS.load),
    loadBasis: (arg('load-basis') ?? CONVERSATION_DEFAULTS.loadBasis) as LoadBasis,
    conversations: Number(arg('conversations') ?? CONVERSATION_DEFAULTS.count),
    turns: Number(arg('turns') ?? CONVERSATION_DEFAULTS.turns),
    warmup: Number(arg('warmup') ?? 12),
    thinkMs: [think[0], think[1]],
    settings,
    strategies,
    singleTurn: !process.argv.includes('--no-single-turn'),
    singleTurnCount: Number(arg('single-turn-count') ?? 100),
    singleTurnWarmup: Number(arg('single-turn-warmup') ?? SCHEDULE_DEFAULTS.warmup),
    singleTurnTimeScale: Number(arg('single-turn-time-scale') ?? SCHEDULE_DEFAULTS.timeScale),
    write: !process.argv.includes('--no-write'),
    healthIntervalMs: Number(arg('health-interval-ms') ?? SCHEDULE_DEFAULTS.healthIntervalMs),
    herdMain: arg('herd'),
  };
}

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
const secs = (ms: number): string => (ms / 1000).toFixed(2);

/** Prefill and decode throughput of the fleet with every slot busy (the same parallel slowdown for both). */
function fleetRates(nodes: BenchNode[]): FleetRates {
  return {
    decodeTps: fleetCapacity(nodes),
    prefillTps: nodes.reduce((s, n) => s + (n.slots * n.prefillTps) / (1 + n.slowdown * (n.slots - 1)), 0),
  };
}

function workload(opts: Options, rates: FleetRates, seed: number, count: number): Conversation[] {
  return makeConversations({ seed, count, turns: opts.turns, thinkMs: opts.thinkMs, load: opts.load, loadBasis: opts.loadBasis, capacity: rates });
}

interface SettingReport {
  setting: CacheSetting;
  /** Per strategy key, one AffinityStats per seed. */
  perSeed: Map<string, AffinityStats[]>;
}

function describeFleet(nodes: BenchNode[]): string {
  return nodes.map((n) => `${n.name} ${n.decodeTps} tok/s, prefill ${n.prefillTps} tok/s x${n.slots}`).join('; ');
}

async function main(): Promise<void> {
  const opts = options();
  const started = Date.now();
  const runId = `a${started.toString(36).slice(-5)}`;
  const { nodes, config } = loadBenchFleet(FLEET);
  const fleet: AffinityFleet = { name: FLEET, nodes, config };
  const names = nodes.map((n) => n.name);
  const rates = fleetRates(nodes);
  const setupOf = (strategy: StrategyName, affinity: boolean, entries: number, timeScale: number, redisUrl: string, tag: string): HerdSetup => ({
    redisUrl,
    prefix: tag,
    strategy,
    affinity,
    timeScale,
    promptCacheEntries: entries,
    healthIntervalMs: opts.healthIntervalMs,
    queueTimeoutMs: DRAIN_TIMEOUT_MS * 2,
    ...(opts.herdMain ? { herdMain: resolve(opts.herdMain) } : {}),
  });

  const reports: SettingReport[] = opts.settings.map((setting) => ({ setting, perSeed: new Map() }));
  const single = new Map<string, RunStats[]>([
    ['on', []],
    ['off', []],
  ]);
  const loads: { cold: number; cached: number }[] = [];
  const raw: unknown[] = [];
  const lagged: string[] = [];
  let run = 0;

  const redis = await startEmbeddedRedis();
  try {
    for (const seed of opts.seeds) {
      const measured = workload(opts, rates, seed, opts.conversations);
      const warm = opts.warmup > 0 ? workload(opts, rates, seed + SCHEDULE_DEFAULTS.warmupSeedOffset, opts.warmup).map((c) => ({ ...c, turns: c.turns.slice(0, 1) })) : [];
      loads.push({ cold: conversationsLoad(measured, rates, false), cached: conversationsLoad(measured, rates, true) });
      const lastStart = measured[measured.length - 1].startMs;
      const deadlineMs = lastStart * opts.timeScale + DRAIN_TIMEOUT_MS;
      for (const rep of reports) {
        for (const key of opts.strategies) {
          const s = STRATEGIES[key];
          const t0 = performance.now();
          const setup = setupOf(s.strategy, s.affinity, rep.setting.entries, opts.timeScale, redis.url, `${runId}c${run++}`);
          const r = await conversationRun(fleet, setup, MODEL, warm, measured, deadlineMs);
          const ts = opts.timeScale;
          const served = r.run.turns.map((t) => ({
            ok: t.status === 200,
            ttftMs: t.ttftMs / ts,
            latencyMs: t.latencyMs / ts,
            node: t.node,
            promptTokens: t.promptEvalCount,
            expectedCachedTokens: t.expectedCachedTokens,
          }));
          const turnTokens = measured.flatMap((c) => conversationTurnTokens(c, r.run.answers.get(c.id) ?? []));
          const stats = affinityStats(served, r.counters, maxHitRatio(turnTokens), names, r.run.skipped);
          rep.perSeed.set(key, [...(rep.perSeed.get(key) ?? []), stats]);
          raw.push({ seed, setting: rep.setting.key, strategy: key, counters: r.counters, turns: r.run.turns.map(({ answer: _a, ...t }) => t) });
          if (r.run.maxSendLagMs > LAG_WARN_MS) lagged.push(`seed ${seed} ${rep.setting.key} ${s.label} (${r.run.maxSendLagMs.toFixed(0)} ms)`);
          const failed = r.run.turns.find((t) => t.status !== 200);
          log(
            `seed ${seed} ${rep.setting.key.padEnd(5)} ${s.label.padEnd(18)} TTFT p50 ${secs(stats.ttftP50)} s p95 ${secs(stats.ttftP95)} s, ` +
              `mean ${secs(stats.mean)} s, p99 ${secs(stats.p99)} s, hit ${(stats.hitRatio * 100).toFixed(1)}% of max ${(stats.maxHitRatio * 100).toFixed(1)}%, ` +
              `nodes ${names.map((n) => stats.perNode[n]).join('/')}, errors ${stats.errors}${stats.skipped ? ` (+${stats.skipped} skipped)` : ''}` +
              `${r.warmupFailed ? `, warm-up failed ${r.warmupFailed}` : ''}${failed ? `, first error: ${failed.status} ${failed.error}` : ''}, ` +
              `send lag ${r.run.maxSendLagMs.toFixed(0)} ms (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
          );
        }
      }
      if (opts.singleTurn) {
        const models = fleetModels(nodes).map((m) => ({ name: m, share: nodes.every((n) => n.models.includes(m)) ? 3 : 1 }));
        const traceOf = (s: number, count: number) =>
          makeTrace({ seed: s, count, load: 0.75, fleetCapacityTokensPerSec: fleetCapacity(nodes), models, outputLengthOf: benchOutputLength(nodes) });
        const trace = traceOf(seed, opts.singleTurnCount);
        const warmTrace = opts.singleTurnWarmup > 0 ? traceOf(seed + SCHEDULE_DEFAULTS.warmupSeedOffset, opts.singleTurnWarmup) : [];
        for (const mode of ['on', 'off'] as const) {
          const t0 = performance.now();
          const setup = setupOf('ect', mode === 'on', 0, opts.singleTurnTimeScale, redis.url, `${runId}s${run++}`);
          const stats = await singleTurnRun(fleet, setup, trace, warmTrace, DRAIN_TIMEOUT_MS);
          single.get(mode)!.push(stats);
          log(
            `seed ${seed} single-turn ect, affinity ${mode.padEnd(3)} mean ${secs(stats.mean)} s, p99 ${secs(stats.p99)} s, ` +
              `nodes ${names.map((n) => stats.perNode[n]).join('/')}, errors ${stats.errors} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
          );
        }
      }
    }
  } finally {
    await redis.stop();
  }

  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const command = `npm run bench:affinity${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const avgLoad = (f: (l: { cold: number; cached: number }) => number): string => (loads.reduce((s, l) => s + f(l), 0) / loads.length).toFixed(2);
  const lines: string[] = [
    `\`${command}\`, ${new Date().toISOString().slice(0, 10)}, ${minutes} min on this machine.`,
    '',
    `Fleet ${FLEET}: ${describeFleet(nodes)}. One gateway process per run (fresh Redis prefix${opts.herdMain ? `, the build at ${opts.herdMain}` : ''}), simulated nodes at timeScale ` +
      `${opts.timeScale}; every time is converted back to simulated time (real / ${opts.timeScale}), so Herd's own few ms per request ` +
      `weigh ${(1 / opts.timeScale).toFixed(0)} times more than in front of real Ollama.`,
    '',
    `Workload (seeds ${opts.seeds.join(', ')}; every figure is the mean over the seeds): ${opts.conversations} conversations on ${MODEL}, each with a ` +
      `${CONVERSATION_DEFAULTS.systemTokens}-token system prompt of its own and ${opts.turns} turns; each turn adds a user message of about ` +
      `${CONVERSATION_DEFAULTS.userTokens} tokens and an answer of ${CONVERSATION_DEFAULTS.answerTokens.join('-')} tokens (num_predict), about 100 prompt tokens a turn; ` +
      `think time ${opts.thinkMs.map((t) => t / 1000).join('-')} s (uniform) after each answer. Streamed /api/chat; each turn's messages carry every ` +
      `earlier answer as the node returned it. First turns start as a Poisson process (open loop) at the rate that offers ` +
      `${avgLoad((l) => l.cached)} of the fleet's capacity if every follow-up turn is fully cached, ${avgLoad((l) => l.cold)} if nothing is ` +
      `(load basis: ${opts.loadBasis}; capacity = decode and prefill throughput with every slot busy). Each run first sends the ` +
      `first turns of ${opts.warmup} other conversations (so ECT has learned the nodes' rates), then resets the nodes' counters. ` +
      `TTFT is the time to the first chunk carrying answer text. "hit ratio" is cached prompt tokens / prompt tokens from the simulators' ` +
      `counters; "of max" compares it with the workload's maximum (every follow-up turn fully cached); "Herd expected" is X-Herd-Cached-Tokens / prompt tokens.`,
    '',
  ];
  const avgOf = (rep: SettingReport, key: string): AffinityStats | undefined => {
    const runs = rep.perSeed.get(key);
    return runs && runs.length ? averageAffinityStats(runs) : undefined;
  };
  for (const rep of reports) {
    const rows = opts.strategies.map((key) => ({ label: STRATEGIES[key].label, stats: avgOf(rep, key)! }));
    lines.push(`### ${rep.setting.label}`, '', `Workload maximum hit ratio: ${(rows[0].stats.maxHitRatio * 100).toFixed(1)}%.`, '', affinityTable(rows, names), '');
    const w = avgOf(rep, WITH);
    const wo = avgOf(rep, WITHOUT);
    if (w && wo) {
      lines.push(
        `- ect + affinity / ect without: TTFT p50 ${safeRatio(w.ttftP50, wo.ttftP50).toFixed(2)}x, TTFT p95 ${safeRatio(w.ttftP95, wo.ttftP95).toFixed(2)}x, ` +
          `mean ${safeRatio(w.mean, wo.mean).toFixed(2)}x, p99 ${safeRatio(w.p99, wo.p99).toFixed(2)}x`,
      );
      const per = (key: string, f: (s: AffinityStats) => number, unit: (x: number) => string): string => (rep.perSeed.get(key) ?? []).map((s) => unit(f(s))).join(' / ');
      lines.push(`- per seed, TTFT p50 s: with ${per(WITH, (s) => s.ttftP50, secs)}; without ${per(WITHOUT, (s) => s.ttftP50, secs)}`);
      lines.push(`- per seed, mean s: with ${per(WITH, (s) => s.mean, secs)}; without ${per(WITHOUT, (s) => s.mean, secs)}`);
      const perRatio = (f: (s: AffinityStats) => number): string =>
        (rep.perSeed.get(WITH) ?? []).map((s, i) => `${safeRatio(f(s), f(rep.perSeed.get(WITHOUT)![i])).toFixed(2)}x`).join(' / ');
      lines.push(`- per seed, with / without: TTFT p50 ${perRatio((s) => s.ttftP50)}; mean ${perRatio((s) => s.mean)}`);
      lines.push(`- per seed, hit ratio: with ${per(WITH, (s) => s.hitRatio, (x) => `${(x * 100).toFixed(1)}%`)}; without ${per(WITHOUT, (s) => s.hitRatio, (x) => `${(x * 100).toFixed(1)}%`)}`);
      lines.push('');
    }
  }
  if (lagged.length) {
    lines.push(`Runs whose load generator sent a turn more than ${LAG_WARN_MS} ms (real) late, so the machine was busy and their times are suspect: ${lagged.join('; ')}.`, '');
  }
  let singleRatio = NaN;
  let singleFigures: { with: RunStats; without: RunStats } | null = null;
  if (opts.singleTurn && single.get('on')!.length > 0) {
    const on = averageStats(single.get('on')!);
    const off = averageStats(single.get('off')!);
    singleFigures = { with: on, without: off };
    singleRatio = safeRatio(on.mean, off.mean);
    lines.push(
      `### single-turn: bench:schedule's ${FLEET} workload, ect with affinity on and off`,
      '',
      `${opts.singleTurnCount} requests per seed after a ${opts.singleTurnWarmup}-request warm-up, offered load 0.75, timeScale ${opts.singleTurnTimeScale}, no host-RAM cache (as bench:schedule).`,
      '',
      statsTable(
        [
          { label: 'ect + affinity', stats: on },
          { label: 'ect, no affinity', stats: off },
        ],
        names,
      ),
      '',
      `- with / without: mean ${safeRatio(on.mean, off.mean).toFixed(2)}x, p99 ${safeRatio(on.p99, off.p99).toFixed(2)}x; ` +
        `per seed, mean s: with ${single.get('on')!.map((s) => secs(s.mean)).join(' / ')}; without ${single.get('off')!.map((s) => secs(s.mean)).join(' / ')}`,
      '',
    );
  }

  const host = reports.find((r) => r.setting.entries > 0);
  const slots = reports.find((r) => r.setting.entries === 0);
  const pair = (rep: SettingReport | undefined): { with: AffinityStats; without: AffinityStats } | null => {
    const w = rep && avgOf(rep, WITH);
    const wo = rep && avgOf(rep, WITHOUT);
    return w && wo ? { with: w, without: wo } : null;
  };
  const hostPair = pair(host);
  const slotPair = pair(slots);
  if (hostPair && slotPair) {
    const bars = affinityBars(hostPair, slotPair, singleFigures);
    lines.push('### Bars (issue #14, means over the seeds)', '', ...bars.map((b) => `- ${b.ok ? 'PASS' : 'FAIL'} ${b.what}: ${b.value}`), '');
  } else {
    lines.push('Bars not checked: they need both cache settings and both ect runs.', '');
  }
  const body = lines.join('\n');
  process.stdout.write(`\n## Conversation affinity\n\n${body}\n`);
  if (opts.write) {
    const file = resolve(repoRoot(), 'bench/RESULTS.md');
    const doc = existsSync(file) ? readFileSync(file, 'utf8') : '';
    writeFileSync(file, upsertSection(doc, 'Conversation affinity', body));
    log(`written to ${file}`);
  }
  writeFileSync(resolve(tmpdir(), 'herd-bench-affinity.json'), JSON.stringify({ opts, reports: reports.map((r) => ({ setting: r.setting, perSeed: Object.fromEntries(r.perSeed) })), single: Object.fromEntries(single), raw }, null, 1));
  process.stdout.write(`${affinityLine(hostPair ? safeRatio(hostPair.with.ttftP50, hostPair.without.ttftP50) : NaN, hostPair ? safeRatio(hostPair.with.mean, hostPair.without.mean) : NaN, singleRatio)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
