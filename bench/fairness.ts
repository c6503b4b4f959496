import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { arg, SCHEDULE_DEFAULTS } from './lib/cli';
import { contentionShares, firstSlotWaits, type DispatchedRequest } from './lib/fairness-shares';
import { barLines, latencyBars, latencySummary, latencyTable, shareBar, shareTable, type BarResult, type LatencyRow, type LatencySummary, type ShareRow } from './lib/fairness-report';
import { fleetCapacity, herdNodeConfigs, loadBenchFleet, type BenchNode } from './lib/fleets';
import { createKey, herdNodes, pollUntil, repoRoot, requestsInHerd } from './lib/herd-probe';
import { spawnHerd, spawnSimNodes, type Child } from './lib/processes';
import { upsertSection } from './lib/schedule-report';
import { mean } from './lib/stats';
import { TenantClient, type TenantOutcome, type TenantSpec } from './lib/tenant-load';
import type { SimFleetConfig } from '../sim/types';

/**
 * Fair share between tenants (issue #12): tenant A floods the heterogeneous simulated fleet with long requests,
 * tenant B sends short ones one after another; B's latency alone, behind A with FIFO, behind A with fair share (with
 * the fair reserve of ADR 006, the default, and without it).
 * Then both tenants stay backlogged and each one's share of the service is measured, weights 1:1 and 3:1.
 * Usage: npm run bench:fairness -- [--time-scale 0.08] [--replicas 2] [--a-count 60] [--a-tokens 512] [--b-count 10]
 *        [--b-tokens 100] [--share-window 8] [--share-seconds 400] [--reserve-window-ms 30000] [--parts latency,shares] [--write]
 */

interface Options {
  timeScale: number;
  replicas: number;
  aCount: number;
  aTokens: number;
  bCount: number;
  bTokens: number;
  /** Requests each tenant keeps outstanding while shares are measured. */
  shareWindow: number;
  /** Simulated seconds during which both tenants keep sending, in the share runs. */
  shareSeconds: number;
  parts: string[];
  write: boolean;
  healthIntervalMs: number;
  /** HERD_FAIR_RESERVE_WINDOW_MS in simulated ms (Herd is given it in real ms: times the time scale). */
  reserveWindowMs: number;
}

function options(): Options {
  const o: Options = {
    timeScale: Number(arg('time-scale') ?? SCHEDULE_DEFAULTS.timeScale),
    replicas: Number(arg('replicas') ?? 2),
    aCount: Number(arg('a-count') ?? 60),
    aTokens: Number(arg('a-tokens') ?? 512),
    bCount: Number(arg('b-count') ?? 10),
    bTokens: Number(arg('b-tokens') ?? 100),
    shareWindow: Number(arg('share-window') ?? 8),
    shareSeconds: Number(arg('share-seconds') ?? 400),
    parts: (arg('parts') ?? 'latency,shares').split(','),
    write: process.argv.includes('--write'),
    healthIntervalMs: Number(arg('health-interval-ms') ?? SCHEDULE_DEFAULTS.healthIntervalMs),
    reserveWindowMs: Number(arg('reserve-window-ms') ?? 30_000),
  };
  const positive = ['timeScale', 'replicas', 'aCount', 'aTokens', 'bCount', 'bTokens', 'shareWindow', 'shareSeconds', 'reserveWindowMs'] as const;
  const bad = positive.filter((k) => !(o[k] > 0) || (k !== 'timeScale' && k !== 'shareSeconds' && k !== 'reserveWindowMs' && !Number.isInteger(o[k])));
  if (bad.length) throw new Error(`options must be positive numbers (integers for counts): ${bad.join(', ')}`);
  if (o.replicas > 8 || o.aCount > 1000 || o.bCount > 1000 || o.shareWindow > 100) throw new Error('at most 8 replicas, 1000 requests and a window of 100');
  return o;
}

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

/** Requests each tenant may send in a share run, whatever the time (a bound besides --share-seconds). */
const SHARE_MAX_REQUESTS = 2000;
/** How long to wait for Herd to have admitted A's burst before B starts anyway (real ms). */
const ADMIT_WAIT_MS = 2000;
const WARM_UP_ROUNDS = 3;
/** The latency runs; `fair` is the default configuration (HERD_FAIR_RESERVE on), the one the bars judge. */
const LATENCY_ROWS = {
  solo: 'B alone',
  fifo: 'B behind A, fair share off (FIFO)',
  fair: 'B behind A, fair share on (default: fair reserve on)',
  noReserve: 'B behind A, fair share on, fair reserve off',
  lone: 'B behind A, fair share on, nobody served for the window before the burst',
} as const;

interface Fleet {
  nodes: BenchNode[];
  config: SimFleetConfig;
  capacity: number;
  /** The model every node has loaded: no request waits for a model load. */
  model: string;
}

function heteroFleet(): Fleet {
  const { nodes, config } = loadBenchFleet('hetero');
  const model = nodes[0].resident.find((m) => nodes.every((n) => n.resident.includes(m)));
  if (!model) throw new Error('the hetero fleet has no model loaded on every node');
  return { nodes, config, capacity: fleetCapacity(nodes), model };
}

interface Herd {
  urls: string[];
  fleet: Fleet;
}

/** The fair reserve's window in real ms (at least the 1 s Herd accepts). */
function reserveWindowRealMs(opts: Options): number {
  return Math.max(1000, Math.round(opts.reserveWindowMs * opts.timeScale));
}

/** Real ms a run may take: its work at the fleet's full capacity, three times over, plus a minute (simulated). */
function runBoundMs(fleet: Fleet, outputTokens: number, opts: Options): number {
  return Math.max(30_000, ((3 * outputTokens) / fleet.capacity + 60) * 1000 * opts.timeScale);
}

/** Fresh simulator nodes and Herd replicas (one Redis prefix per run), torn down after `fn`. */
async function withHerd<T>(redisUrl: string, prefix: string, env: Record<string, string>, fleet: Fleet, opts: Options, boundMs: number, fn: (h: Herd) => Promise<T>): Promise<T> {
  const sim = await spawnSimNodes(fleet.config.nodes.map((n) => ({ ...n, timeScale: opts.timeScale, maxQueue: 10_000 })));
  const replicas: Child[] = [];
  try {
    for (let i = 0; i < opts.replicas; i++) {
      replicas.push(
        await spawnHerd(
          {
            REDIS_URL: redisUrl,
            HERD_REDIS_PREFIX: prefix,
            HERD_STRATEGY: 'ect',
            HERD_HEALTH_INTERVAL_MS: String(opts.healthIntervalMs),
            HERD_QUEUE_TIMEOUT_MS: String(Math.round(boundMs * 2)),
            // The window is a client's pause between requests: simulated time, like every other time here.
            HERD_FAIR_RESERVE_WINDOW_MS: String(reserveWindowRealMs(opts)),
            LOG_LEVEL: 'info',
            ...env,
          },
          herdNodeConfigs(fleet.nodes, sim.urls),
        ),
      );
    }
    const urls = replicas.map((r) => r.url);
    for (const url of urls) {
      const healthy = await pollUntil(10_000, async () => (await herdNodes(url)).every((n) => n.state === 'healthy'));
      if (!healthy) throw new Error(`timed out waiting for every node to be healthy on ${url}`);
    }
    return await fn({ urls, fleet });
  } finally {
    for (const r of replicas) await r.stop();
    await sim.stop();
  }
}

/** A few rounds of short requests over every slot, so ECT has learned each node's rates (as in production), then idle. */
async function warmUp(h: Herd, spec: TenantSpec): Promise<void> {
  const slots = h.fleet.nodes.reduce((s, n) => s + n.slots, 0);
  const client = new TenantClient(h.urls, performance.now(), 60_000);
  const nodes = new Set<string>();
  try {
    for (let round = 0; round < WARM_UP_ROUNDS; round++) {
      for (const o of await Promise.all(client.burst({ ...spec, outputTokens: 32 }, 2 * slots))) {
        if (o.status !== 200) log(`  warm-up request failed: ${o.status} ${o.error}`);
        else nodes.add(o.node);
      }
    }
  } finally {
    await client.close();
  }
  const missing = h.fleet.nodes.map((n) => n.name).filter((n) => !nodes.has(n));
  if (missing.length) log(`  warm-up: no answer from ${missing.join(', ')} (ECT has not learned their rates)`);
  const idle = await pollUntil(10_000, async () => (await herdNodes(h.urls[0])).every((n) => n.inFlight === 0));
  if (!idle) log('  warm-up: nodes still busy after 10 s');
}

function summary(outcomes: TenantOutcome[], ts: number): LatencySummary {
  const ok = outcomes.filter((o) => o.status === 200);
  return latencySummary(ok.map((o) => o.latencyMs / ts), outcomes.length - ok.length);
}

function firstError(outcomes: TenantOutcome[]): string {
  const bad = outcomes.find((o) => o.status !== 200);
  return bad ? `, first error: ${bad.status} ${bad.error}` : '';
}

interface LatencyRun {
  row: LatencyRow;
  /** B's mean time queued (simulated ms). */
  bQueueMs: number;
  /** B's mean time from sending to the next slot anybody got (simulated ms). */
  bFirstSlotMs: number;
  outcomes: TenantOutcome[];
}

/** B alone (`withA` false) or B starting just after A's burst has been admitted. */
async function latencyRun(h: Herd, a: TenantSpec, b: TenantSpec, withA: boolean, label: string, opts: Options, boundMs: number): Promise<LatencyRun> {
  const client = new TenantClient(h.urls, performance.now(), boundMs);
  try {
    const aPending = withA ? client.burst(a, opts.aCount) : [];
    if (withA) {
      // Each replica's pump may hold one job while it places it, counted neither as queued nor as running.
      const admitted = await pollUntil(ADMIT_WAIT_MS, async () => (await requestsInHerd(h.urls[0])) >= opts.aCount - h.urls.length);
      if (!admitted) log(`  ${label}: Herd did not report A's ${opts.aCount} requests queued or running within ${ADMIT_WAIT_MS} ms; B starts anyway`);
    }
    const bOutcomes = await client.closedLoop(b, { window: 1, count: opts.bCount, stopAtMs: boundMs });
    const aOutcomes = await Promise.all(aPending);
    const ts = opts.timeScale;
    const bOk = bOutcomes.filter((o) => o.status === 200);
    const aSummary = withA ? summary(aOutcomes, ts) : undefined;
    const row: LatencyRow = { label, b: summary(bOutcomes, ts), ...(aSummary ? { a: aSummary } : {}) };
    log(`  ${label}: B mean ${(row.b.mean / 1000).toFixed(2)} s${firstError(bOutcomes)}${aSummary ? `; A mean ${(aSummary.mean / 1000).toFixed(2)} s${firstError(aOutcomes)}` : ''}`);
    const outcomes = [...aOutcomes, ...bOutcomes];
    const bFirstSlotMs = mean(firstSlotWaits(dispatched(outcomes), b.name)) / ts;
    return { row, bQueueMs: mean(bOk.map((o) => o.queueMs / ts)), bFirstSlotMs, outcomes };
  } finally {
    await client.close();
  }
}

/** An API key per tenant (HERD_AUTH=keys) with its weight; the tenants then send it. An error text when Herd refused one. */
async function withKeys(url: string, specs: TenantSpec[], weights: number[]): Promise<TenantSpec[] | string> {
  const keyed: TenantSpec[] = [];
  for (const [i, spec] of specs.entries()) {
    const k = await createKey(url, spec.name, weights[i]);
    if (!k.ok) return `POST /herd/keys answered ${k.status} ${k.error}`;
    keyed.push({ ...spec, auth: { key: k.key } });
  }
  return keyed;
}

function dispatched(outcomes: TenantOutcome[]): DispatchedRequest[] {
  return outcomes
    .filter((o) => o.status === 200 && Number.isFinite(o.queueMs) && Number.isFinite(o.promptTokens) && Number.isFinite(o.evalCount))
    .map((o) => ({ tenant: o.tenant, sentMs: o.sentMs, dispatchMs: o.sentMs + o.queueMs, promptTokens: o.promptTokens, outputTokens: o.evalCount }));
}

/** Both tenants keep `shareWindow` requests outstanding for `shareSeconds` (simulated); shares while both wait. */
async function shareRun(h: Herd, a: TenantSpec, b: TenantSpec, weights: [number, number], label: string, opts: Options, boundMs: number): Promise<{ row: ShareRow; outcomes: TenantOutcome[] }> {
  const client = new TenantClient(h.urls, performance.now(), boundMs);
  try {
    const stopAtMs = opts.shareSeconds * 1000 * opts.timeScale;
    const loop = { window: opts.shareWindow, count: SHARE_MAX_REQUESTS, stopAtMs };
    const [aOut, bOut] = await Promise.all([client.closedLoop(a, loop), client.closedLoop(b, loop)]);
    const outcomes = [...aOut, ...bOut];
    const result = contentionShares(dispatched(outcomes), [a.name, b.name]);
    const [sa, sb] = result.shares;
    log(
      `  ${label}: ${aOut.length} + ${bOut.length} requests, ${result.counted} dispatched while both waited; cost share ` +
        `${(sa.costShare * 100).toFixed(1)}% / ${(sb.costShare * 100).toFixed(1)}%${firstError(outcomes)}`,
    );
    return { row: { label, weights, result }, outcomes };
  } finally {
    await client.close();
  }
}

function describeFleet(f: Fleet): string {
  return f.nodes.map((n) => `${n.name} ${n.decodeTps} tok/s x${n.slots}`).join('; ');
}

async function main(): Promise<void> {
  const opts = options();
  const started = Date.now();
  const runId = `f${started.toString(36).slice(-5)}`;
  const fleet = heteroFleet();
  const spec = (name: string, outputTokens: number): TenantSpec => ({ name, auth: { header: name }, model: fleet.model, outputTokens });
  const a = spec('a', opts.aTokens);
  const b = spec('b', opts.bTokens);
  const warm = spec('warmup', 32);
  const latencyBound = runBoundMs(fleet, opts.aCount * opts.aTokens + opts.bCount * opts.bTokens, opts);
  const shareBound = runBoundMs(fleet, opts.shareSeconds * fleet.capacity + 2 * opts.shareWindow * opts.aTokens, opts);
  const redis = await startEmbeddedRedis();
  const latencyRuns: LatencyRun[] = [];
  const shareRows: ShareRow[] = [];
  const notes: string[] = [];
  const raw: Record<string, TenantOutcome[]> = {};
  let run = 0;
  try {
    if (opts.parts.includes('latency')) {
      // The last: the warm-up tenant leaves the window before A's burst, so Herd has seen nobody but A lately.
      const rows: [string, boolean, Record<string, string>, boolean][] = [
        [LATENCY_ROWS.solo, false, { HERD_FAIR_SHARE: 'on' }, false],
        [LATENCY_ROWS.fifo, true, { HERD_FAIR_SHARE: 'off' }, false],
        [LATENCY_ROWS.fair, true, { HERD_FAIR_SHARE: 'on' }, false],
        [LATENCY_ROWS.noReserve, true, { HERD_FAIR_SHARE: 'on', HERD_FAIR_RESERVE: 'off' }, false],
        [LATENCY_ROWS.lone, true, { HERD_FAIR_SHARE: 'on' }, true],
      ];
      for (const [label, withA, fairEnv, pause] of rows) {
        const r = await withHerd(redis.url, `${runId}${run++}`, { HERD_AUTH: 'off', ...fairEnv }, fleet, opts, latencyBound, async (h) => {
          await warmUp(h, warm);
          if (pause) await new Promise((r) => setTimeout(r, reserveWindowRealMs(opts) + 500));
          return latencyRun(h, a, b, withA, label, opts, latencyBound);
        });
        latencyRuns.push(r);
        raw[label] = r.outcomes;
      }
    }
    if (opts.parts.includes('shares')) {
      const cases: [string, [number, number], string][] = [
        ['fair share on', [1, 1], 'on'],
        ['fair share on', [3, 1], 'on'],
        ['fair share off (FIFO), for reference', [1, 1], 'off'],
      ];
      for (const [label, weights, fair] of cases) {
        const keyed = weights[0] !== 1 || weights[1] !== 1;
        const env = { HERD_AUTH: keyed ? 'keys' : 'off', HERD_FAIR_SHARE: fair };
        const r = await withHerd(redis.url, `${runId}${run++}`, env, fleet, opts, shareBound, async (h) => {
          const tenants = keyed ? await withKeys(h.urls[0], [a, b, warm], [...weights, 1]) : [a, b, warm];
          if (typeof tenants === 'string') return tenants;
          const [ta, tb, tw] = tenants;
          await warmUp(h, tw);
          return shareRun(h, ta, tb, weights, `${label}, ${weights.join(':')}`, opts, shareBound);
        });
        if (typeof r === 'string') {
          notes.push(`- ${label}, weights ${weights.join(':')}: not measured (${r}).`);
          log(`  ${label}, ${weights.join(':')}: not measured: ${r}`);
          continue;
        }
        shareRows.push(r.row);
        raw[r.row.label] = r.outcomes;
      }
    }
  } finally {
    await redis.stop();
  }

  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const command = `npm run bench:fairness${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const ts = opts.timeScale;
  const lines = [
    `\`${command}\`, ${new Date().toISOString().slice(0, 10)}, ${minutes} min on this machine.`,
    '',
    `Fleet hetero (${describeFleet(fleet)}; ${fleet.capacity.toFixed(1)} tok/s with every slot busy), model ${fleet.model} loaded everywhere, ` +
      `simulated at timeScale ${ts}; every time below is simulated (real / ${ts}). Each run starts fresh simulator nodes and ${opts.replicas} ` +
      `Herd replica(s) on one Redis (fresh prefix, HERD_STRATEGY=ect), warms ECT up with ${WARM_UP_ROUNDS} rounds of short requests on every slot, then measures. ` +
      `Each tenant's requests alternate between the replicas. Requests are /api/generate with num_predict (A: ${opts.aTokens} tokens, ` +
      `B: ${opts.bTokens}, the simulator's median length) and prompts of about 40 words.`,
    '',
  ];
  let bars: BarResult[] = [];
  if (latencyRuns.length) {
    lines.push(
      `### B's latency behind A's burst`,
      '',
      `A sends ${opts.aCount} requests at once; once Herd reports them queued or running, B sends ${opts.bCount} requests one after another ` +
        `(the next when the previous is answered). Tenants by X-Herd-Tenant (HERD_AUTH=off), weight 1 each. The fair reserve (ADR 006, ` +
        `HERD_FAIR_RESERVE, on by default with fair share) keeps a tenant with requests under way out of the fast node's last free slot ` +
        `while another tenant seen within the window is quiet (window ${(reserveWindowRealMs(opts) / ts / 1000).toFixed(0)} s simulated, ` +
        `HERD_FAIR_RESERVE_WINDOW_MS=${reserveWindowRealMs(opts)} real), on the fast path as in the queue. In every run but the last, the ` +
        `warm-up tenant was served just before A's burst, so the herd is in shared use when the burst comes and A leaves that slot free ` +
        `from its first request on. In the last run the warm-up ends a window before the burst: Herd has seen nobody but A lately, keeps ` +
        `nothing, and B's first request waits for one of A's to end. The bars judge the default (third row).`,
      '',
      latencyTable(latencyRuns.map((r) => r.row)),
      '',
      `- B's mean time queued (X-Herd-Queue-Ms): ${latencyRuns.map((r) => `${r.row.label} ${(r.bQueueMs / 1000).toFixed(2)} s`).join('; ')}`,
      `- B's mean time from sending to the first slot freed after it (given to anybody; with every slot busy, no scheduler ` +
        `that cannot preempt and never keeps a slot empty starts B sooner): ${latencyRuns.map((r) => `${r.row.label} ${(r.bFirstSlotMs / 1000).toFixed(2)} s`).join('; ')}`,
      '',
    );
    const find = (label: string): LatencySummary | undefined => latencyRuns.find((r) => r.row.label === label)?.row.b;
    const solo = find(LATENCY_ROWS.solo);
    // The bars judge the default configuration: fair share with the fair reserve.
    if (solo) bars = latencyBars(solo, find(LATENCY_ROWS.fifo), find(LATENCY_ROWS.fair));
  }
  if (shareRows.length || notes.length) {
    lines.push(
      `### Service shares while both tenants are backlogged`,
      '',
      `A and B each keep ${opts.shareWindow} requests outstanding (closed loop, the next when one is answered) for ${opts.shareSeconds} s; ` +
        `A's requests ask ${opts.aTokens} output tokens, B's ${opts.bTokens}. A request counts when it was dispatched (sent + X-Herd-Queue-Ms) ` +
        `while the other tenant also had a request waiting; its whole service is charged then: output tokens, and the cost fair share ` +
        `weighs (prompt + 2 x output tokens, from prompt_eval_count and eval_count). Weights 1:1 by X-Herd-Tenant; 3:1 by API keys ` +
        `(HERD_AUTH=keys, POST /herd/keys). "window" is from the first to the last counted dispatch. The bar's 10% is relative to ` +
        `each tenant's target share: 45-55% at 1:1; 67.5-82.5% for A and 22.5-27.5% for B at 3:1.`,
      '',
    );
    if (shareRows.length) lines.push(shareTable(shareRows, ts), '');
    lines.push(...notes);
    if (notes.length) lines.push('');
    bars = [...bars, ...shareRows.filter((r) => r.label.startsWith('fair share on')).map(shareBar)];
  }
  if (bars.length) lines.push(`### Bars of issue #12`, '', ...barLines(bars), '');
  const body = lines.join('\n');
  process.stdout.write(`\n## Fairness between tenants\n\n${body}\n`);
  if (opts.write) {
    const file = resolve(repoRoot(), 'bench/RESULTS.md');
    const doc = existsSync(file) ? readFileSync(file, 'utf8') : '';
    writeFileSync(file, upsertSection(doc, 'Fairness between tenants', body));
    log(`written to ${file}`);
  }
  writeFileSync(resolve(tmpdir(), 'herd-bench-fairness.json'), JSON.stringify({ opts, raw }, null, 1));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
