import { startSimNode } from '../sim';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, post, startTestHerd, waitFor } from './support/herd';
import { startRedis } from './support/redis';

/**
 * Issue #11 item 2: a queued job is held back only when no node that could serve *its* model has room. A job
 * for a model whose only node is busy waits at the head of the queue; a job behind it for a model an idle node
 * serves starts at once instead of waiting behind it.
 */
jest.setTimeout(60_000);

let redis: EmbeddedRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

describe('the queue pump and models', () => {
  it('starts a queued job for an idle model while the model ahead of it waits', async () => {
    const llama = await startSimNode({ name: 'llama-box', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], decodeTps: 20 });
    const qwen = await startSimNode({ name: 'qwen-box', models: [{ name: 'qwen2.5:7b' }], resident: ['qwen2.5:7b'], decodeTps: 200 });
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('llama-box', llama.url), nodeConfig('qwen-box', qwen.url)] });
    try {
      // llama-box's only slot is busy for ~3 s.
      const long = post(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'long', stream: false, options: { num_predict: 60 } });
      await waitFor(() => llama.active() === 1, 5000, 'the long llama request to start');
      // A llama job waits in the queue at the best priority; a qwen job arrives behind it at a worse one.
      const llamaWaiting = post(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'waits', stream: false, priority: 1, options: { num_predict: 2 } });
      await waitFor(async () => (await herd.core.queue.waitingCount()) >= 1 || herd.core.inference.pendingCount() >= 2, 5000, 'the llama job to queue');
      const started = Date.now();
      const qwenReply = await post(`${herd.url}/api/generate`, { model: 'qwen2.5:7b', prompt: 'idle node', stream: false, priority: 9, options: { num_predict: 2 } });
      const qwenMs = Date.now() - started;
      expect(qwenReply.status).toBe(200);
      expect(qwenReply.headers.get('x-herd-node')).toBe('qwen-box');
      // It did not wait for llama-box to free up (the long request still runs).
      expect(llama.active()).toBe(1);
      expect(qwenMs).toBeLessThan(1500);
      const [longReply, waitedReply] = await Promise.all([long, llamaWaiting]);
      expect(longReply.status).toBe(200);
      expect(waitedReply.status).toBe(200);
      expect(waitedReply.headers.get('x-herd-node')).toBe('llama-box');
    } finally {
      await herd.close(0);
      await llama.close();
      await qwen.close();
    }
  });

  it('still serves jobs of one model in priority order', async () => {
    const node = await startSimNode({ name: 'one', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], decodeTps: 100 });
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('one', node.url)] });
    try {
      const first = post(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'occupy', stream: false, options: { num_predict: 40 } });
      await waitFor(() => node.active() === 1, 5000, 'the node to be busy');
      const done: number[] = [];
      const low = post(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'low', stream: false, priority: 9, options: { num_predict: 1 } }).then((r) => (done.push(9), r));
      await waitFor(async () => (await herd.core.queue.waitingCount()) >= 1, 5000, 'the low job to queue');
      const high = post(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'high', stream: false, priority: 1, options: { num_predict: 1 } }).then((r) => (done.push(1), r));
      await waitFor(async () => (await herd.core.queue.waitingCount()) >= 2, 5000, 'the high job to queue');
      await Promise.all([first, low, high]);
      expect(done).toEqual([1, 9]);
    } finally {
      await herd.close(0);
      await node.close();
    }
  });
});
