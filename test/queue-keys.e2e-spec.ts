import { Redis } from 'ioredis';
import { JobQueueRepository } from '../src/queue/job-queue.repository';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { RedisKeys } from '../src/redis/redis-keys';
import { startRedis, uniquePrefix } from './support/redis';

/**
 * Placement reads the queue's waiting keys with the node loads in one round trip, naming them from RedisKeys;
 * they must be the keys BullMQ keeps waiting jobs in.
 */
let server: EmbeddedRedis;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});

describe('RedisKeys.queueWaiting', () => {
  it.each([false, true])('names the keys BullMQ keeps waiting jobs in (cluster layout: %s)', async (cluster) => {
    const producer = new Redis(server.url);
    const worker = new Redis(server.url, { maxRetriesPerRequest: null });
    const keys = new RedisKeys(uniquePrefix('keys'), cluster);
    const jobs = new JobQueueRepository(producer, worker, keys);
    try {
      expect(keys.queueWaiting).toEqual(jobs.waitingKeys());
    } finally {
      await jobs.close();
      producer.disconnect();
      worker.disconnect();
    }
  });
});
