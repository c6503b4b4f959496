import { startSimNode, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { freePort } from '../src/redis/embedded-redis';
import { nodeConfig, post, startTestHerd, waitFor } from './support/herd';
import { runHerdToExit, spawnHerd } from './support/herd-process';
import { startRedis, uniquePrefix } from './support/redis';

jest.setTimeout(60_000);

let redis: EmbeddedRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

describe('POST /ollama/generate end to end', () => {
  let node: SimNode;
  let herd: RunningHerd;

  beforeAll(async () => {
    node = await startSimNode({ name: 'n1', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], timeScale: 0.01 });
    herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('n1', node.url)] });
  });
  afterAll(async () => {
    await herd.close(0);
    await node.close();
  });

  it('serves a request from the node with Ollama’s non-streaming shape and Herd headers', async () => {
    const r = await post(`${herd.url}/ollama/generate`, { model: 'llama3', prompt: 'Why is the sky blue?', options: { num_predict: 12 } });
    expect(r.status).toBe(200);
    expect(r.body.done).toBe(true);
    expect(r.body.eval_count).toBe(12);
    expect(typeof r.body.response).toBe('string');
    expect((r.body.response as string).length).toBeGreaterThan(0);
    expect(r.headers.get('x-herd-node')).toBe('n1');
    expect(Number(r.headers.get('x-herd-queue-ms'))).toBeGreaterThanOrEqual(0);
    expect(node.log.some((e) => e.route === '/api/generate' && e.outcome === 'ok')).toBe(true);
  });

  it('answers 404 in Ollama’s words for a model no node has', async () => {
    const r = await post(`${herd.url}/ollama/generate`, { model: 'nope', prompt: 'hi' });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: 'model "nope:latest" not found, try pulling it first' });
  });

  it.each([
    ['malformed JSON', '{"model": "llama3", "prompt": ', /invalid JSON/],
    ['missing prompt', { model: 'llama3' }, /prompt is required/],
    ['missing model', { prompt: 'x' }, /model is required/],
    ['priority 0', { model: 'llama3', prompt: 'x', priority: 0 }, /priority must be an integer from 1/],
    ['priority 11', { model: 'llama3', prompt: 'x', priority: 11 }, /priority must be an integer from 1/],
    ['priority 2.5', { model: 'llama3', prompt: 'x', priority: 2.5 }, /priority must be an integer/],
    ['a JSON array', '[1,2]', /must be a JSON object/],
  ])('answers 400 {"error"} for %s', async (_name, body, message) => {
    const r = await post(`${herd.url}/ollama/generate`, body);
    expect(r.status).toBe(400);
    expect(Object.keys(r.body)).toEqual(['error']);
    expect(r.body.error).toMatch(message);
  });

  it('rejects a bad X-Herd-Priority header with 400', async () => {
    const r = await post(`${herd.url}/ollama/generate`, { model: 'llama3', prompt: 'x' }, { 'x-herd-priority': '0' });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/X-Herd-Priority/);
  });

  it('reports Redis and node state on /health', async () => {
    const res = await fetch(`${herd.url}/health`);
    const body = (await res.json()) as { status: string; info: { redis: { status: string }; nodes: { up: number } } };
    expect(res.status).toBe(200);
    expect(body.info.redis.status).toBe('up');
    expect(body.info.nodes.up).toBe(1);
  });
});

describe('priority queue with late binding', () => {
  let node: SimNode;
  let herd: RunningHerd;

  beforeAll(async () => {
    // One slot at 100 tokens/s: the blocker holds it for a second while the others queue in Herd.
    node = await startSimNode({ name: 'p1', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], decodeTps: 100, timeScale: 1 });
    herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('p1', node.url)] });
  });
  afterAll(async () => {
    await herd.close(0);
    await node.close();
  });

  it('starts a priority-1 request sent after five priority-5 requests before any of them', async () => {
    node.resetLog();
    const send = (numPredict: number, priority: number) =>
      post(`${herd.url}/ollama/generate`, { model: 'llama3', prompt: `request ${numPredict}`, priority, options: { num_predict: numPredict } });
    const blocker = send(100, 5); // occupies the only slot for ~1 s
    await waitFor(() => node.active() === 1, 5000, 'the blocker to start');
    const low = [31, 32, 33, 34, 35].map((n) => send(n, 5));
    await waitFor(async () => (await herd.core.queue.waitingCount()) >= 4, 5000, 'priority-5 requests to queue');
    const high = send(7, 1);
    const replies = await Promise.all([blocker, ...low, high]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 200]);
    const startOf = (evalCount: number) => node.log.find((e) => e.route === '/api/generate' && e.evalCount === evalCount)!.startedAt!;
    const highStart = startOf(7);
    for (const n of [31, 32, 33, 34, 35]) expect(highStart).toBeLessThan(startOf(n));
    // The five priority-5 requests keep their arrival order among themselves.
    const lowStarts = [31, 32, 33, 34, 35].map(startOf);
    expect([...lowStarts].sort((a, b) => a - b)).toEqual(lowStarts);
  });
});

describe('failover and node health', () => {
  it('skips a node that is down', async () => {
    const a = await startSimNode({ name: 'a', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], timeScale: 0 });
    const b = await startSimNode({ name: 'b', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], timeScale: 0 });
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('a', a.url), nodeConfig('b', b.url)], healthIntervalMs: 60_000 });
    try {
      await a.stop(); // Herd still believes `a` is up: the first dispatch there fails and moves on
      const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => post(`${herd.url}/ollama/generate`, { model: 'llama3', prompt: `q${i}`, options: { num_predict: 3 } })));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(replies.every((r) => r.headers.get('x-herd-node') === 'b')).toBe(true);
      expect(herd.core.fleet.isUp('a')).toBe(false);
    } finally {
      await herd.close(0);
      await a.close();
      await b.close();
    }
  });
});

describe('two gateway processes on one Redis', () => {
  it('never runs more requests on a node than its slots', async () => {
    const fast = await startSimNode({ name: 'fast', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], slots: 2, maxQueue: 100, decodeTps: 400, timeScale: 1 });
    const slow = await startSimNode({ name: 'slow', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], slots: 1, maxQueue: 100, decodeTps: 200, timeScale: 1 });
    const nodes = [nodeConfig('fast', fast.url, { slots: 2 }), nodeConfig('slow', slow.url, { slots: 1 })];
    const env = { REDIS_URL: redis.url, HERD_REDIS_PREFIX: uniquePrefix('two'), HERD_STRATEGY: 'least-connections' };
    const [g1, g2] = await Promise.all([spawnHerd({ ...env, HERD_REPLICA_ID: 'g1' }, nodes), spawnHerd({ ...env, HERD_REPLICA_ID: 'g2' }, nodes)]);
    try {
      const replies = await Promise.all(
        Array.from({ length: 24 }, (_, i) => post(`${i % 2 ? g1.url : g2.url}/ollama/generate`, { model: 'llama3', prompt: `p${i}`, options: { num_predict: 10 } })),
      );
      expect(replies.filter((r) => r.status === 200)).toHaveLength(24);
      expect(fast.maxActiveSeen()).toBeLessThanOrEqual(2);
      expect(slow.maxActiveSeen()).toBeLessThanOrEqual(1);
      // Both nodes were used and the queue really was shared (some requests waited).
      const served = (n: SimNode) => n.log.filter((e) => e.route === '/api/generate' && e.outcome === 'ok').length;
      expect(served(fast)).toBeGreaterThan(0);
      expect(served(slow)).toBeGreaterThan(0);
      expect(served(fast) + served(slow)).toBe(24);
      expect(replies.some((r) => Number(r.headers.get('x-herd-queue-ms')) > 5)).toBe(true);
    } finally {
      await Promise.all([g1.stop(), g2.stop()]);
      await fast.close();
      await slow.close();
    }
  });
});

describe('start-up with Redis unreachable', () => {
  it('exits with a message that names Redis and the URL', async () => {
    const port = await freePort();
    const { code, output } = await runHerdToExit({ REDIS_URL: `redis://127.0.0.1:${port}`, CONTAINERS_CONFIG: 'containers.config.json' });
    expect(code).toBe(1);
    expect(output).toContain(`Cannot reach Redis at redis://127.0.0.1:${port}`);
  });

  it('exits listing every configuration problem', async () => {
    const { code, output } = await runHerdToExit({ PORT: 'x', HERD_STRATEGY: 'best', CONTAINERS_CONFIG: '/nonexistent.json' });
    expect(code).toBe(1);
    expect(output).toContain('PORT="x"');
    expect(output).toContain('HERD_STRATEGY="best"');
    expect(output).toContain('cannot read file');
  });
});

describe('memory-aware routing', () => {
  it('never sends a model to a node that declares too little memory for it', async () => {
    const big = { name: 'qwen2.5:7b', sizeBytes: 4.7e9 };
    const small = await startSimNode({ name: 'small', models: [big, { name: 'llama3:latest', sizeBytes: 1e9 }], resident: ['llama3:latest'], timeScale: 0 });
    const large = await startSimNode({ name: 'large', models: [big], timeScale: 0 });
    const herd = await startTestHerd({
      redisUrl: redis.url,
      nodes: [nodeConfig('small', small.url, { memoryGb: 2 }), nodeConfig('large', large.url, { memoryGb: 24 })],
      strategy: 'round-robin',
    });
    try {
      const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => post(`${herd.url}/ollama/generate`, { model: 'qwen2.5:7b', prompt: `m${i}`, options: { num_predict: 2 } })));
      expect(replies.map((r) => r.headers.get('x-herd-node'))).toEqual(Array(6).fill('large'));
      const fits = await post(`${herd.url}/ollama/generate`, { model: 'llama3', prompt: 'x', options: { num_predict: 2 } });
      expect(fits.headers.get('x-herd-node')).toBe('small');
    } finally {
      await herd.close(0);
      await small.close();
      await large.close();
    }
  });
});
