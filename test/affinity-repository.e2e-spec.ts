import { Redis } from 'ioredis';
import { AffinityRepository } from '../src/affinity/affinity.repository';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { RedisKeys } from '../src/redis/redis-keys';
import { startRedis, uniquePrefix } from './support/redis';

/** The conversation tracking of ADR 007 in a real Redis: links by serving sequence, conversations by start order. */
const MODEL = 'llama3:latest';

let redis: EmbeddedRedis;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

describe('AffinityRepository', () => {
  let repo: AffinityRepository;
  let keys: RedisKeys;
  beforeEach(() => {
    keys = new RedisKeys(uniquePrefix('affinity-repo'));
    repo = new AffinityRepository(client, keys);
  });

  const turn = async (node: string, conversation: string, at: number): Promise<void> => {
    await repo.started(node, MODEL, conversation, at, 60_000, 100);
    await repo.served(node, MODEL, [`${conversation}-sys`, `${conversation}-q1`], 60_000, 640);
  };

  it('ranks a conversation by the other conversations that started on the node after it', async () => {
    await turn('n1', 'a', 1000);
    await turn('n1', 'b', 2000);
    await turn('n1', 'c', 3000);
    await turn('n1', 'b', 4000);
    const seen = await repo.lookup(MODEL, ['n1', 'n2'], 'a', ['a-sys', 'a-q1', 'a-q2']);
    // b and c started after a; b's two turns count once.
    expect(seen.get('n1')).toEqual({ seq: 4, lastServed: [1, 1, null], rank: 2 });
    // A node that never served the model has nothing to say.
    expect(seen.has('n2')).toBe(false);
    // A conversation the node never saw has no rank (only its links, if another shared them, can count).
    expect((await repo.lookup(MODEL, ['n1'], 'z', ['a-sys'])).get('n1')).toEqual({ seq: 4, lastServed: [1] });
  });

  it('counts a turn from its start: one still running already pushes the others back', async () => {
    await turn('n1', 'a', 1000);
    await repo.started('n1', MODEL, 'b', 2000, 60_000, 100);
    expect((await repo.lookup(MODEL, ['n1'], 'a', ['a-sys'])).get('n1')?.rank).toBe(1);
  });

  it('keeps the newest conversations only', async () => {
    for (let i = 0; i < 5; i++) await repo.started('n1', MODEL, `c${i}`, 1000 + i, 60_000, 3);
    expect(await client.zrange(keys.affinityConversations('n1', MODEL), 0, -1)).toEqual(['c2', 'c3', 'c4']);
  });

  it('lets every key expire with the model keep-alive', async () => {
    await turn('n1', 'a', 1000);
    for (const key of [keys.affinityLinks('n1', MODEL), keys.affinitySeq('n1', MODEL), keys.affinityConversations('n1', MODEL)]) {
      const ttl = await client.pttl(key);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
  });
});
