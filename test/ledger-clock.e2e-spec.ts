import { Redis } from 'ioredis';
import { LedgerRepository } from '../src/fleet/ledger.repository';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { RedisKeys } from '../src/redis/redis-keys';
import { startRedis, uniquePrefix } from './support/redis';

/**
 * Two replicas whose clocks disagree by a minute share one ledger. Leases and placing marks must expire by
 * Redis' clock, so the skewed replica neither steals a live slot nor keeps a dead one.
 */
let server: EmbeddedRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});
afterEach(() => jest.restoreAllMocks());

function skewClock(ms: number): void {
  const real = Date.now.bind(Date);
  jest.spyOn(Date, 'now').mockImplementation(() => real() + ms);
}

describe('lease expiry by Redis time', () => {
  it('a replica whose clock runs a minute ahead still sees a live lease as held', async () => {
    const ledger = new LedgerRepository(redis, new RedisKeys(uniquePrefix('clock')));
    expect(await ledger.reserve('a', 'r1', 1, 100, 1000, 15_000)).toBe(true);
    skewClock(60_000);
    expect((await ledger.loads(['a'])).get('a')?.inFlight).toBe(1);
    expect(await ledger.reserve('a', 'r2', 1, 100, 1000, 15_000)).toBe(false);
  });

  it('a renewal from a replica whose clock runs a minute behind keeps the lease held', async () => {
    const ledger = new LedgerRepository(redis, new RedisKeys(uniquePrefix('clock')));
    expect(await ledger.reserve('a', 'r1', 1, 100, 1000, 15_000)).toBe(true);
    skewClock(-60_000);
    await ledger.renew([{ node: 'a', requestId: 'r1' }], 15_000);
    jest.restoreAllMocks();
    expect((await ledger.loads(['a'])).get('a')?.inFlight).toBe(1);
    expect(await ledger.reserve('a', 'r2', 1, 100, 1000, 15_000)).toBe(false);
  });

  it('a renewal from a replica whose clock runs a minute ahead cannot keep a dead lease past its expiry', async () => {
    const ledger = new LedgerRepository(redis, new RedisKeys(uniquePrefix('clock')));
    expect(await ledger.reserve('a', 'r1', 1, 100, 1000, 300)).toBe(true);
    skewClock(60_000);
    await ledger.renew([{ node: 'a', requestId: 'r1' }], 300);
    jest.restoreAllMocks();
    await new Promise((r) => setTimeout(r, 450));
    expect((await ledger.loads(['a'])).get('a')?.inFlight).toBe(0);
    expect(await ledger.reserve('a', 'r2', 1, 100, 1000, 15_000)).toBe(true);
  });

  it('the backlog of a running request counts down by Redis time, whatever the clock of the replica reading it says', async () => {
    const ledger = new LedgerRepository(redis, new RedisKeys(uniquePrefix('clock')));
    expect(await ledger.reserve('a', 'r1', 2, 1000, 60_000, 15_000)).toBe(true);
    skewClock(3_600_000);
    const load = (await ledger.loads(['a'])).get('a');
    expect(load?.inFlight).toBe(1);
    // A moment into a one-minute estimate almost all of the 1000 tokens remain.
    expect(load?.backlogTokens).toBeGreaterThan(980);
    expect(load?.backlogTokens).toBeLessThanOrEqual(1000);
  });

  it('placing marks expire by Redis time: a skewed replica neither hides nor inflates placements', async () => {
    const keys = new RedisKeys(uniquePrefix('clock'));
    const ledger = new LedgerRepository(redis, keys);
    const queue = { zsets: [], lists: [] };
    await ledger.markPlacing('p1', 'llama3:latest', 10_000);
    skewClock(60_000);
    expect((await ledger.loadsAndWaiting([], queue)).placing).toBe(1);
    jest.restoreAllMocks();
    skewClock(-60_000);
    await ledger.markPlacing('p2', 'llama3:latest', 200);
    await new Promise((r) => setTimeout(r, 300));
    expect((await ledger.loadsAndWaiting([], queue)).placing).toBe(1);
    await ledger.unmarkPlacing('p1');
    expect(await redis.zcard(keys.placing)).toBe(0);
  });
});
