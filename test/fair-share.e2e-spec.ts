import { startSimNode } from '../sim';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, post, startTestHerd, waitFor, type Reply } from './support/herd';
import { startRedis, uniquePrefix } from './support/redis';

/**
 * Issue #12 item 2: among waiting requests of one priority, the next slot goes to the tenant served least. One
 * tenant floods a one-slot node through one replica; another trickles requests one after another through a
 * second replica. With fair share the trickle's requests start before the flood's later ones; with fair share
 * off (FIFO) every one of them waits behind the whole flood.
 */
jest.setTimeout(90_000);

let redis: EmbeddedRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

const FLOOD = 16;
const TRICKLE = 3;

async function floodAndTrickle(fairShare: boolean): Promise<string[]> {
  const node = await startSimNode({ name: 'one', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], decodeTps: 50 });
  const shared = { redisUrl: redis.url, redisPrefix: uniquePrefix('fair'), fairShare, nodes: [nodeConfig('one', node.url)] };
  const floodSide = await startTestHerd(shared);
  const trickleSide = await startTestHerd(shared);
  const finished: string[] = [];
  const ask = (url: string, tenant: string, tag: string): Promise<void> =>
    post(`${url}/api/generate`, { model: 'llama3', prompt: `${tag} please`, stream: false, options: { num_predict: 10 } }, { 'X-Herd-Tenant': tenant }).then((r) => {
      expect(r.status).toBe(200);
      finished.push(tag);
    });
  try {
    const flood = Array.from({ length: FLOOD }, (_, i) => ask(floodSide.url, 'team-a', `a${i + 1}`));
    await waitFor(async () => (await floodSide.core.queue.waitingCount()) >= FLOOD - 3, 10_000, 'the flood to queue');
    for (let i = 1; i <= TRICKLE; i++) await ask(trickleSide.url, 'team-b', `b${i}`);
    await Promise.all(flood);
    return finished;
  } finally {
    await trickleSide.close(0);
    await floodSide.close(0);
    await node.close();
  }
}

describe('fair share between tenants', () => {
  it("starts the trickling tenant's requests before the flood's later ones", async () => {
    const order = await floodAndTrickle(true);
    expect(order).toHaveLength(FLOOD + TRICKLE);
    // The first trickle request waits only for what already runs and a tie or two, not for the flood; each
    // later one (sent only once the previous answered) again waits for a few of the flood's, never all of them.
    expect(order.indexOf('b1')).toBeLessThanOrEqual(4);
    const lastB = order.indexOf(`b${TRICKLE}`);
    expect(order.length - 1 - lastB).toBeGreaterThanOrEqual(3);
    expect(order.slice(lastB + 1).every((tag) => tag.startsWith('a'))).toBe(true);
  });

  it('with fair share off, serves the flood first (FIFO within a priority)', async () => {
    const order = await floodAndTrickle(false);
    // (Two replicas' pumps race for each freed slot, so the last of the flood may finish just after.)
    expect(order.indexOf('b1')).toBeGreaterThanOrEqual(FLOOD - 2);
  });
});

/**
 * The fair reserve (ADR 006): while requests wait, a tenant with requests running may not take the last free slot
 * of the model's fastest node when another tenant is quiet (seen lately, at most one request in the herd). A floods
 * a fast two-slot node and a slow one; B, which already sent a request lately, sends one after another.
 */
describe('fair reserve: the fastest node keeps a slot for a quiet tenant', () => {
  const FAST_TPS = 200;
  const A_TOKENS = 200; // ~1.3 s on the fast node beside another stream, ~10 s on the slow one
  const generate = (url: string, tenant: string, tokens: number): Promise<Reply> =>
    post(`${url}/api/generate`, { model: 'llama3', prompt: `${tenant} says hi`, stream: false, options: { num_predict: tokens } }, { 'X-Herd-Tenant': tenant });

  async function fleet(fairReserve: boolean) {
    const model = { models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'] };
    const fast = await startSimNode({ name: 'fast', ...model, slots: 2, decodeTps: FAST_TPS });
    const slow = await startSimNode({ name: 'slow', ...model, decodeTps: 20 });
    const herd = await startTestHerd({
      redisUrl: redis.url,
      redisPrefix: uniquePrefix('reserve'),
      fairReserve,
      nodes: [nodeConfig('fast', fast.url, { slots: 2, tokensPerSecond: FAST_TPS }), nodeConfig('slow', slow.url, { tokensPerSecond: 20 })],
    });
    await waitFor(() => herd.core.fleet.nodesWithModel('llama3:latest').length === 2, 10_000, 'both nodes healthy');
    const fastInFlight = async (): Promise<number> => (await herd.core.ledger.loads(['fast'])).get('fast')?.inFlight ?? 0;
    return {
      herd,
      fastInFlight,
      close: async () => {
        await herd.close(0);
        await fast.close();
        await slow.close();
      },
    };
  }

  /**
   * B's requests behind A's flood: where each ran and how long it waited in the queue, and how many of the fast
   * node's slots were in use once the flood had arrived (the flood arrives while nobody waits: the fast path).
   */
  async function quietTenantBehindFlood(fairReserve: boolean): Promise<{ fastAfterFlood: number; b: { node: string | null; queueMs: number }[] }> {
    const f = await fleet(fairReserve);
    try {
      expect((await generate(f.herd.url, 'team-b', 5)).status).toBe(200); // B is seen, then quiet
      const flood = Array.from({ length: 12 }, () => generate(f.herd.url, 'team-a', A_TOKENS));
      await waitFor(async () => (await f.herd.core.queue.waitingCount()) >= 6, 10_000, 'the flood to queue');
      const fastAfterFlood = await f.fastInFlight();
      const after: { node: string | null; queueMs: number }[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await generate(f.herd.url, 'team-b', 5);
        expect(r.status).toBe(200);
        after.push({ node: r.headers.get('x-herd-node'), queueMs: Number(r.headers.get('x-herd-queue-ms')) });
      }
      for (const r of await Promise.all(flood)) expect(r.status).toBe(200);
      return { fastAfterFlood, b: after };
    } finally {
      await f.close();
    }
  }

  it("lets the quiet tenant's requests start at once on the fast node, behind another tenant's flood, its first one too", async () => {
    const { fastAfterFlood, b } = await quietTenantBehindFlood(true);
    expect(fastAfterFlood).toBe(1); // the flood's fast-path requests left the last fast slot free
    for (const r of b) {
      expect(r.node).toBe('fast');
      expect(r.queueMs).toBeLessThan(250); // without the reserve: the wait for one of the flood's to end, ~0.6 s on average
    }
  });

  it('without the reserve, the flood fills the fast node and B waits for one of its requests to end', async () => {
    const { fastAfterFlood, b } = await quietTenantBehindFlood(false);
    expect(fastAfterFlood).toBe(2);
    expect(b[0].queueMs).toBeGreaterThan(250);
  });

  it('with one tenant, the burst uses every slot: nobody is quiet, nothing is kept', async () => {
    const f = await fleet(true);
    try {
      expect((await generate(f.herd.url, 'team-a', 5)).status).toBe(200); // the only tenant seen lately is A itself
      let done = 0;
      const burst = Array.from({ length: 8 }, () => generate(f.herd.url, 'team-a', A_TOKENS).then((r) => (done++, r)));
      await waitFor(async () => (await f.herd.core.queue.waitingCount()) >= 3, 10_000, 'the burst to queue');
      expect(await f.fastInFlight()).toBe(2); // the fast path kept nothing
      // Once the queue hands out slots (a request of the burst ended), both fast slots are in use again.
      let bothAfterQueue = false;
      await waitFor(
        async () => {
          bothAfterQueue ||= done > 0 && (await f.fastInFlight()) === 2 && (await f.herd.core.queue.waitingCount()) > 0;
          return bothAfterQueue || done === 8;
        },
        30_000,
        'the burst to end',
      );
      expect(bothAfterQueue).toBe(true);
      for (const r of await Promise.all(burst)) expect(r.status).toBe(200);
    } finally {
      await f.close();
    }
  });
});
