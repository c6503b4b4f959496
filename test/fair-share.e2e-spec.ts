import { startSimNode } from '../sim';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, post, startTestHerd, waitFor } from './support/herd';
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
