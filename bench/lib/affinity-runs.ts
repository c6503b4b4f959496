import type { StrategyName } from '../../src/scheduler/scheduler.types';
import { runConversations, type ConversationRun } from './chat-runner';
import type { Conversation } from './conversations';
import { herdNodeConfigs, type BenchNode } from './fleets';
import { spawnHerd, spawnSimNodes } from './processes';
import { replayTrace } from './replay';
import { runStats, type RunStats } from './schedule-report';
import type { TraceRequest } from './trace';
import type { CacheCounters } from './affinity-report';
import type { SimFleetConfig } from '../../sim/types';
import { herdNodes, waitUntil } from './herd-probe';

/** The processes of one bench:affinity run: simulated nodes and one Herd replica, each its own process, over loopback HTTP. */

export interface AffinityFleet {
  name: string;
  nodes: BenchNode[];
  config: SimFleetConfig;
}

export interface HerdSetup {
  redisUrl: string;
  /** Redis key prefix of this run (every run starts from an empty Herd state). */
  prefix: string;
  strategy: StrategyName;
  /** HERD_AFFINITY. */
  affinity: boolean;
  timeScale: number;
  /** Host-RAM prompt cache entries per node, on the simulated nodes and in Herd's node config alike. */
  promptCacheEntries: number;
  healthIntervalMs: number;
  queueTimeoutMs: number;
  /** Another build's dist/src/main.js (default: this checkout's). */
  herdMain?: string;
}

/** Starts the simulated fleet and a Herd in front of it, runs `body`, and stops both whatever happens. */
export async function withHerd<T>(fleet: AffinityFleet, setup: HerdSetup, body: (herdUrl: string, simUrls: string[]) => Promise<T>): Promise<T> {
  const sim = await spawnSimNodes(
    fleet.config.nodes.map((n) => ({ ...n, timeScale: setup.timeScale, maxQueue: 10_000, ...(setup.promptCacheEntries > 0 ? { promptCacheEntries: setup.promptCacheEntries } : {}) })),
  );
  let herd: Awaited<ReturnType<typeof spawnHerd>> | undefined;
  try {
    herd = await spawnHerd(
      {
        REDIS_URL: setup.redisUrl,
        HERD_REDIS_PREFIX: setup.prefix,
        HERD_STRATEGY: setup.strategy,
        HERD_AFFINITY: setup.affinity ? 'on' : 'off',
        HERD_HEALTH_INTERVAL_MS: String(setup.healthIntervalMs),
        HERD_QUEUE_TIMEOUT_MS: String(setup.queueTimeoutMs),
        LOG_LEVEL: 'info',
      },
      herdNodeConfigs(fleet.nodes, sim.urls).map((n) => (setup.promptCacheEntries > 0 ? { ...n, promptCacheEntries: setup.promptCacheEntries } : n)),
      setup.herdMain,
    );
    const url = herd.url;
    await waitUntil('every node healthy', 10_000, async () => (await herdNodes(url)).every((n) => n.state === 'healthy'));
    return await body(url, sim.urls);
  } finally {
    await herd?.stop();
    await sim.stop();
  }
}

/** Waits until Herd has nothing running on any node. */
export async function waitIdle(herdUrl: string, timeoutMs = 30_000): Promise<void> {
  await waitUntil('every node idle', timeoutMs, async () => (await herdNodes(herdUrl)).every((v) => v.inFlight === 0));
}

/** Clears every node's request log and prompt-cache counters (DELETE /_sim/log); the caches themselves stay warm. */
export async function resetSimCounters(simUrls: string[]): Promise<void> {
  await Promise.all(simUrls.map(async (u) => void (await (await fetch(`${u}/_sim/log`, { method: 'DELETE' })).text())));
}

/** Prompt and cached prompt tokens every node served since its counters were last reset (GET /_sim/cache), summed. */
export async function simCacheCounters(simUrls: string[]): Promise<CacheCounters & { perNode: CacheCounters[] }> {
  const perNode = await Promise.all(
    simUrls.map(async (u) => {
      const res = await fetch(`${u}/_sim/cache`);
      if (res.status !== 200) throw new Error(`GET ${u}/_sim/cache: ${res.status} (a simulator without the prompt cache?)`);
      const { stats } = (await res.json()) as { stats: CacheCounters };
      return { promptTokens: stats.promptTokens, cachedTokens: stats.cachedTokens };
    }),
  );
  return {
    promptTokens: perNode.reduce((s, c) => s + c.promptTokens, 0),
    cachedTokens: perNode.reduce((s, c) => s + c.cachedTokens, 0),
    perNode,
  };
}

export interface ConversationRunResult {
  run: ConversationRun;
  counters: CacheCounters & { perNode: CacheCounters[] };
  warmupFailed: number;
}

/**
 * One conversation run: a warm-up of first turns of other conversations (so ECT has learned the nodes' rates, as it
 * would have in production), then, once the fleet is idle and its counters reset, the measured conversations.
 */
export async function conversationRun(
  fleet: AffinityFleet,
  setup: HerdSetup,
  model: string,
  warm: Conversation[],
  measured: Conversation[],
  deadlineMs: number,
): Promise<ConversationRunResult> {
  return withHerd(fleet, setup, async (url, simUrls) => {
    let warmupFailed = 0;
    if (warm.length > 0) {
      const w = await runConversations(url, warm, { model, timeScale: setup.timeScale, deadlineMs });
      warmupFailed = w.turns.filter((t) => t.status !== 200).length;
      await waitIdle(url);
    }
    await resetSimCounters(simUrls);
    const run = await runConversations(url, measured, { model, timeScale: setup.timeScale, deadlineMs });
    await waitIdle(url).catch(() => undefined);
    return { run, counters: await simCacheCounters(simUrls), warmupFailed };
  });
}

/** Puts every node back to its initial residency (unloads what the warm-up loaded) and waits until Herd has seen it. */
async function resetResidency(fleet: AffinityFleet, simUrls: string[], herdUrl: string): Promise<void> {
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

/** A request counts as cold when it waited at least this long (simulated ms) for its model to load (as in bench:schedule). */
const COLD_LOAD_MS = 100;

/**
 * bench:schedule's single-turn run, the same steps as its runOnce (bench/schedule.ts, which runs on import and exports
 * nothing): a warm-up trace, the residency put back, then the measured trace; times converted to simulated ms.
 */
export async function singleTurnRun(fleet: AffinityFleet, setup: HerdSetup, trace: TraceRequest[], warm: TraceRequest[], drainTimeoutMs: number): Promise<RunStats> {
  const ts = setup.timeScale;
  return withHerd(fleet, setup, async (url, simUrls) => {
    if (warm.length > 0) {
      await replayTrace(url, warm, { timeScale: ts, drainTimeoutMs });
      await resetResidency(fleet, simUrls, url);
    }
    const r = await replayTrace(url, trace, { timeScale: ts, drainTimeoutMs });
    const served = r.outcomes.map((o) => ({ latencyMs: o.latencyMs / ts, node: o.node, cold: o.loadMs / ts >= COLD_LOAD_MS, ok: o.status === 200 }));
    const ends = r.outcomes.map((o) => o.sentMs + o.latencyMs);
    const starts = r.outcomes.map((o) => o.sentMs);
    return runStats(served, (Math.max(...ends) - Math.min(...starts)) / ts, fleet.nodes.map((n) => n.name));
  });
}
