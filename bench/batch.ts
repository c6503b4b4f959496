import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { followBatch, fileLines, doneBy, submitBatch, type BatchLine, type BatchProgress, type BatchView } from './lib/batch-client';
import { arg, SCHEDULE_DEFAULTS } from './lib/cli';
import { benchOutputLength, fleetCapacity, herdNodeConfigs, loadBenchFleet, type BenchNode } from './lib/fleets';
import { herdNodes, repoRoot, waitUntil } from './lib/herd-probe';
import { spawnHerd, spawnSimNodes } from './lib/processes';
import { replayTrace, type ReplayOutcome } from './lib/replay';
import { upsertSection } from './lib/schedule-report';
import { mean, percentile, table } from './lib/stats';
import { makeTrace, type TraceRequest } from './lib/trace';

/**
 * The batch lane (issue #13): an interactive open-loop workload at about half the heterogeneous fleet's capacity,
 * run alone, then again with a chat batch submitted through /v1/files and /v1/batches at its start. Prints the
 * interactive mean, p95 and p99 of both runs, the batch's completion time, and its lines/s while interactive
 * traffic runs and after. Every time is simulated (real / time scale).
 * Usage: npm run bench:batch -- [--time-scale 0.08] [--count 400] [--load 0.5] [--lines 1000] [--line-tokens 32]
 *        [--seed 1] [--repeat 1] [--keep-fastest 1] [--parts alone,batch] [--write]
 */

interface Options {
  timeScale: number;
  count: number;
  load: number;
  lines: number;
  lineTokens: number;
  seed: number;
  repeat: number;
  keepFastest: number;
  /** Which runs to make: `alone`, `batch` or both (in that order, `repeat` times). */
  parts: string[];
  write: boolean;
}

function options(): Options {
  const o: Options = {
    timeScale: Number(arg('time-scale') ?? SCHEDULE_DEFAULTS.timeScale),
    count: Number(arg('count') ?? 400),
    load: Number(arg('load') ?? 0.5),
    lines: Number(arg('lines') ?? 1000),
    lineTokens: Number(arg('line-tokens') ?? 32),
    seed: Number(arg('seed') ?? 1),
    repeat: Number(arg('repeat') ?? 1),
    keepFastest: Number(arg('keep-fastest') ?? 1),
    parts: (arg('parts') ?? 'alone,batch').split(','),
    write: process.argv.includes('--write'),
  };
  const ints = ['count', 'lines', 'lineTokens', 'seed', 'repeat'] as const;
  if (!(o.timeScale > 0) || !(o.load > 0) || ints.some((k) => !Number.isInteger(o[k]) || o[k] < 1) || !Number.isInteger(o.keepFastest) || o.keepFastest < 0) {
    throw new Error('time-scale and load must be > 0; count, lines, line-tokens, seed and repeat positive integers; keep-fastest an integer >= 0');
  }
  if (o.count > 5000 || o.lines > 10_000 || o.repeat > 5) throw new Error('at most 5000 requests, 10000 lines and 5 repeats');
  return o;
}

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
const WARM_UP = 30;
/** Real ms the batch may take after the interactive run ended before the bench gives up on it. */
const BATCH_BOUND_MS = 10 * 60_000;

interface Summary {
  mean: number;
  p95: number;
  p99: number;
  failed: number;
}

interface BatchResult {
  status: string;
  lines: number;
  /** Distinct custom_ids across the output and error files. */
  distinct: number;
  failedLines: number;
  /** Simulated seconds from submitting to completed. */
  completionS: number;
  duringPerS: number;
  afterPerS: number;
}

interface RunResult {
  label: string;
  interactive: Summary;
  batch?: BatchResult;
}

function summarize(outcomes: ReplayOutcome[], ts: number): Summary {
  const ok = outcomes.filter((o) => o.status === 200).map((o) => o.latencyMs / ts);
  return { mean: mean(ok), p95: percentile(ok, 95), p99: percentile(ok, 99), failed: outcomes.length - ok.length };
}

function batchLines(model: string, count: number, tokens: number): BatchLine[] {
  return Array.from({ length: count }, (_, i) => ({
    custom_id: `line-${i}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model, messages: [{ role: 'user', content: `summarise document ${i} of the corpus in a few words` }], max_tokens: tokens },
  }));
}

async function run(redisUrl: string, nodes: BenchNode[], config: ReturnType<typeof loadBenchFleet>['config'], trace: TraceRequest[], warm: TraceRequest[], model: string, withBatch: boolean, opts: Options, tag: string): Promise<RunResult> {
  const ts = opts.timeScale;
  const sim = await spawnSimNodes(config.nodes.map((n) => ({ ...n, timeScale: ts, maxQueue: 10_000 })));
  const herd = await spawnHerd(
    {
      REDIS_URL: redisUrl,
      HERD_REDIS_PREFIX: tag,
      HERD_STRATEGY: 'ect',
      HERD_HEALTH_INTERVAL_MS: String(SCHEDULE_DEFAULTS.healthIntervalMs),
      HERD_BATCH_KEEP_FASTEST: String(opts.keepFastest),
      LOG_LEVEL: 'info',
    },
    herdNodeConfigs(nodes, sim.urls),
  );
  const label = withBatch ? `with a ${opts.lines}-line batch` : 'interactive alone';
  try {
    await waitUntil('every node healthy', 10_000, async () => (await herdNodes(herd.url)).every((n) => n.state === 'healthy'));
    await replayTrace(herd.url, warm, { timeScale: ts, drainTimeoutMs: 120_000 });
    await waitUntil('the warm-up to end', 30_000, async () => (await herdNodes(herd.url)).every((n) => n.inFlight === 0));
    const t0 = performance.now();
    let following: Promise<BatchView> | undefined;
    const samples: BatchProgress[] = [];
    let completedAtMs = NaN;
    if (withBatch) {
      const created = await submitBatch(herd.url, batchLines(model, opts.lines, opts.lineTokens), '/v1/chat/completions');
      following = followBatch(herd.url, created.id, 100, BATCH_BOUND_MS + trace[trace.length - 1].atMs * ts, (b) => {
        const at = performance.now() - t0;
        samples.push({ atMs: at, done: b.request_counts.completed + b.request_counts.failed });
        if (b.status === 'completed' && Number.isNaN(completedAtMs)) completedAtMs = at;
      });
    }
    const replay = await replayTrace(herd.url, trace, { timeScale: ts, drainTimeoutMs: 300_000 });
    const interactiveEndMs = performance.now() - t0;
    const interactive = summarize(replay.outcomes, ts);
    log(`  ${label}: interactive mean ${(interactive.mean / 1000).toFixed(2)} s, p95 ${(interactive.p95 / 1000).toFixed(2)} s, p99 ${(interactive.p99 / 1000).toFixed(2)} s, failed ${interactive.failed}`);
    if (!following) return { label, interactive };
    const final = await following;
    const ids = new Set<string>();
    let rows = 0;
    for (const fileId of [final.output_file_id, final.error_file_id]) {
      if (!fileId) continue;
      for (const line of await fileLines(herd.url, fileId)) {
        rows++;
        ids.add(String(line.custom_id));
      }
    }
    if (rows !== ids.size) log(`  ${label}: ${rows - ids.size} custom_ids appear more than once in the output and error files`);
    const during = doneBy(samples, interactiveEndMs);
    const batch: BatchResult = {
      status: final.status,
      lines: final.request_counts.total,
      distinct: ids.size,
      failedLines: final.request_counts.failed,
      completionS: completedAtMs / 1000 / ts,
      duringPerS: during / (interactiveEndMs / 1000 / ts),
      afterPerS: (final.request_counts.total - during) / Math.max(1e-9, (completedAtMs - interactiveEndMs) / 1000 / ts),
    };
    log(`  ${label}: batch ${batch.status} in ${batch.completionS.toFixed(0)} s, ${batch.distinct}/${opts.lines} custom_ids, ${batch.failedLines} failed lines`);
    return { label, interactive, batch };
  } finally {
    await herd.stop();
    await sim.stop();
  }
}

const secs = (ms: number): string => (ms / 1000).toFixed(2);

async function main(): Promise<void> {
  const opts = options();
  const { nodes, config } = loadBenchFleet('hetero');
  const model = nodes[0].resident.find((m) => nodes.every((n) => n.resident.includes(m)));
  if (!model) throw new Error('the hetero fleet has no model loaded on every node');
  const capacity = fleetCapacity(nodes);
  const outputLengthOf = benchOutputLength(nodes);
  const trace = makeTrace({ seed: opts.seed, count: opts.count, load: opts.load, fleetCapacityTokensPerSec: capacity, models: [{ name: model, share: 1 }], outputLengthOf });
  const warm = makeTrace({ seed: opts.seed + SCHEDULE_DEFAULTS.warmupSeedOffset, count: WARM_UP, load: opts.load, fleetCapacityTokensPerSec: capacity, models: [{ name: model, share: 1 }], outputLengthOf });
  const redis = await startEmbeddedRedis();
  const runs: RunResult[] = [];
  try {
    for (let r = 0; r < opts.repeat; r++) {
      for (const withBatch of [false, true].filter((b) => opts.parts.includes(b ? 'batch' : 'alone'))) runs.push(await run(redis.url, nodes, config, trace, warm, model, withBatch, opts, `bb${Date.now().toString(36)}${r}${withBatch ? 'b' : 'a'}`));
    }
  } finally {
    await redis.stop();
  }
  const rows = runs.map((r) => [
    r.label,
    secs(r.interactive.mean),
    secs(r.interactive.p95),
    secs(r.interactive.p99),
    String(r.interactive.failed),
    r.batch ? `${r.batch.status}, ${r.batch.completionS.toFixed(0)} s` : '-',
    r.batch ? r.batch.duringPerS.toFixed(2) : '-',
    r.batch ? r.batch.afterPerS.toFixed(2) : '-',
    r.batch ? `${r.batch.distinct}/${opts.lines}` : '-',
  ]);
  const alone = runs.filter((r) => !r.batch);
  const withB = runs.filter((r) => r.batch);
  const p99Ratio = mean(withB.map((r) => r.interactive.p99)) / mean(alone.map((r) => r.interactive.p99));
  const meanRatio = mean(withB.map((r) => r.interactive.mean)) / mean(alone.map((r) => r.interactive.mean));
  const completed = withB.length > 0 && withB.every((r) => r.batch?.status === 'completed' && r.batch.distinct === opts.lines);
  const body = [
    `Command: \`npm run bench:batch -- --count ${opts.count} --load ${opts.load} --lines ${opts.lines} --line-tokens ${opts.lineTokens} --seed ${opts.seed} --repeat ${opts.repeat} --keep-fastest ${opts.keepFastest}\`, ${new Date().toISOString().slice(0, 10)}.`,
    '',
    `Fleet hetero (${nodes.map((n) => `${n.name} ${n.decodeTps} tok/s x${n.slots}`).join(', ')}; ${capacity.toFixed(1)} tok/s with every slot busy), ` +
      `model ${model} loaded everywhere, timeScale ${opts.timeScale}; times are simulated (real / ${opts.timeScale}). Each run: fresh simulator nodes, ` +
      `one Herd replica (HERD_STRATEGY=ect, HERD_BATCH_KEEP_FASTEST=${opts.keepFastest}), ${WARM_UP} warm-up requests, then ${opts.count} ` +
      `/ollama/generate requests sent open-loop at ${opts.load} of the fleet's capacity (seed ${opts.seed}, the same trace in every run). ` +
      `The batch: ${opts.lines} /v1/chat/completions lines of max_tokens ${opts.lineTokens}, uploaded and created just before the first interactive request.`,
    '',
    table(['run', 'interactive mean s', 'p95 s', 'p99 s', 'failed', 'batch', 'lines/s during', 'lines/s after', 'custom_ids'], rows),
    '',
    `Interactive p99 with the batch / alone: **${p99Ratio.toFixed(3)}x** (bar <= 1.15x); mean ${meanRatio.toFixed(3)}x. Batch completed with every custom_id once: ${completed ? 'yes' : 'NO'}.`,
  ].join('\n');
  process.stdout.write(`\n## Batch lane\n\n${body}\n`);
  process.stdout.write(`BATCH p99_ratio=${p99Ratio.toFixed(3)} mean_ratio=${meanRatio.toFixed(3)} completed=${completed}\n`);
  if (opts.write) {
    const file = resolve(repoRoot(), 'bench/RESULTS.md');
    const doc = existsSync(file) ? readFileSync(file, 'utf8') : '';
    writeFileSync(file, upsertSection(doc, 'Batch lane', body));
    log(`written to ${file}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
