import { startSimNode, type SimNode } from '../sim';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import type { ModelRates } from '../src/scheduler/scheduler.types';
import { nodeConfig, post, waitFor, type Reply } from './support/herd';
import { spawnHerd, type HerdProcess } from './support/herd-process';
import { startRedis, uniquePrefix } from './support/redis';

/**
 * The completion-time scheduler across two gateway processes sharing one Redis: what one replica learns
 * reaches the other, slots are never overfilled, and X-Herd-Estimate-Ms gets close to the truth once
 * rates are learned. Needs `npm run build` (the gateways run from dist/).
 */
jest.setTimeout(40_000);

const MODEL = 'llama3:latest';
/** Fixed output length: the estimate then depends on the learned rates only, not on a guessed length. */
const NUM_PREDICT = 60;

interface NodeView {
  name: string;
  rates: Record<string, ModelRates>;
}

async function nodesOf(url: string): Promise<NodeView[]> {
  const res = await fetch(`${url}/herd/nodes`);
  const body = (await res.json()) as { nodes: NodeView[] };
  return body.nodes.map((n) => ({ name: n.name, rates: n.rates })).sort((a, b) => (a.name < b.name ? -1 : 1));
}

interface Timed {
  reply: Reply;
  ms: number;
}

async function generate(url: string, prompt: string): Promise<Timed> {
  const t0 = performance.now();
  const reply = await post(`${url}/ollama/generate`, { model: MODEL, prompt, options: { num_predict: NUM_PREDICT } });
  return { reply, ms: performance.now() - t0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** |estimate - actual| / actual of each answer, actual being the latency the client saw. */
function relativeErrors(batch: Timed[]): number[] {
  return batch.map(({ reply, ms }) => Math.abs(Number(reply.headers.get('x-herd-estimate-ms')) - ms) / ms);
}

describe('ECT with two gateway processes on one Redis', () => {
  let redis: EmbeddedRedis;
  let fast: SimNode;
  let slow: SimNode;
  let g1: HerdProcess;
  let g2: HerdProcess;
  const gateways = (): HerdProcess[] => [g1, g2];

  beforeAll(async () => {
    redis = await startRedis();
    // Real time (timeScale 1) and speeds far from Herd's prior (100 tok/s), so learning shows in the estimates.
    const common = { models: [{ name: MODEL }], resident: [MODEL], maxQueue: 100, prefillTps: 5000, timeScale: 1 };
    fast = await startSimNode({ name: 'fast', slots: 2, decodeTps: 400, ...common });
    slow = await startSimNode({ name: 'slow', slots: 1, decodeTps: 200, ...common });
    const nodes = [nodeConfig('fast', fast.url, { slots: 2 }), nodeConfig('slow', slow.url, { slots: 1 })];
    const env = { REDIS_URL: redis.url, HERD_REDIS_PREFIX: uniquePrefix('sched'), HERD_STRATEGY: 'ect', HERD_HEALTH_INTERVAL_MS: '300' };
    [g1, g2] = await Promise.all([spawnHerd({ ...env, HERD_REPLICA_ID: 'g1' }, nodes), spawnHerd({ ...env, HERD_REPLICA_ID: 'g2' }, nodes)]);
  });

  afterAll(async () => {
    await Promise.all([g1?.stop(), g2?.stop()]);
    await fast?.close();
    await slow?.close();
    await redis?.stop();
  });

  it('shares what it learns, never overfills a node, and its estimates converge', async () => {
    // First batch: as many requests as the fleet has slots, all placed at once on nothing learned (priors only).
    const first = await Promise.all([0, 1, 2].map((i) => generate(gateways()[i % 2].url, `first ${i}`)));
    expect(first.map((t) => t.reply.status)).toEqual([200, 200, 200]);
    for (const t of first) expect(t.reply.headers.get('x-herd-estimate-ms')).toMatch(/^\d+$/);

    // Learning: bursts through both gateways, more requests than slots, so the shared queue and both nodes work.
    const served = new Map<string, number>();
    for (let round = 0; round < 4; round++) {
      const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => generate(gateways()[i % 2].url, `round ${round} request ${i}`)));
      for (const { reply } of burst) {
        expect(reply.status).toBe(200);
        expect(reply.body.eval_count).toBe(NUM_PREDICT);
        const node = reply.headers.get('x-herd-node') ?? '';
        served.set(node, (served.get(node) ?? 0) + 1);
      }
    }
    expect([...served.keys()].sort()).toEqual(['fast', 'slow']);
    expect(fast.maxActiveSeen()).toBeLessThanOrEqual(2);
    expect(slow.maxActiveSeen()).toBeLessThanOrEqual(1);
    expect(fast.maxActiveSeen()).toBe(2); // the bursts did fill the fast node

    // Learned rates are batched to Redis every 250 ms and read back on every health tick (300 ms).
    const learnedEverywhere = async (): Promise<boolean> => {
      const [a, b] = await Promise.all(gateways().map((g) => nodesOf(g.url)));
      const complete = a.every((n) => (n.rates[MODEL]?.samples ?? 0) > 0);
      return complete && JSON.stringify(a) === JSON.stringify(b);
    };
    await waitFor(learnedEverywhere, 5000, 'both gateways to report the same learned rates');
    const [viewA, viewB] = await Promise.all(gateways().map((g) => nodesOf(g.url)));
    expect(viewA).toEqual(viewB);
    const decode = Object.fromEntries(viewA.map((n) => [n.name, n.rates[MODEL].decodeTps!]));
    expect(decode.fast).toBeGreaterThan(decode.slow);

    // Last batch, same shape as the first: the estimates now come from learned rates.
    const last = await Promise.all([0, 1, 2].map((i) => generate(gateways()[i % 2].url, `last ${i}`)));
    expect(last.map((t) => t.reply.status)).toEqual([200, 200, 200]);
    const before = median(relativeErrors(first));
    const after = median(relativeErrors(last));
    // Priors (100 tok/s) put the first estimates at 1.5-3x the truth; learned ones are within tens of percent.
    expect(before).toBeGreaterThan(0.5);
    expect(after).toBeLessThan(before / 2);
    expect(after).toBeLessThan(0.5);
    expect(fast.maxActiveSeen()).toBeLessThanOrEqual(2);
    expect(slow.maxActiveSeen()).toBeLessThanOrEqual(1);
  });
});
