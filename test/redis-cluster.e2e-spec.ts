import { Cluster } from 'ioredis';
import { startSimNode, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import { freePort } from '../src/redis/embedded-redis';
import { nodeConfig, post, startTestHerd, waitFor } from './support/herd';
import { runHerdToExit, spawnHerd } from './support/herd-process';
import { uniquePrefix } from './support/redis';
import { startRedisCluster, type RedisClusterHandle } from './support/redis-cluster';

/** Herd on a real three-master Redis Cluster: the same answers, queue order and slot accounting as on one server. */

jest.setTimeout(60_000);

const MODEL = 'llama3:latest';

let cluster: RedisClusterHandle;
let admin: Cluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
  admin = new Cluster(cluster.nodes, { lazyConnect: true });
  await admin.connect();
});
afterAll(async () => {
  admin?.disconnect();
  await cluster?.stop();
});

/**
 * A node name whose lease keys live on another master than the prefix's shared keys, so a pipeline that mixed
 * them (as one does on a single Redis) would be refused here rather than pass by luck.
 */
async function nodeNameAwayFrom(prefix: string, base: string): Promise<string> {
  const slotOf = async (key: string): Promise<number> => Number(await admin.call('CLUSTER', 'KEYSLOT', key));
  const shared = cluster.masterOf(await slotOf(`{${prefix}}:nodes`));
  for (let i = 1; ; i++) {
    const name = `${base}${i}`;
    if (cluster.masterOf(await slotOf(`${prefix}:leases:{${name}}`)) !== shared) return name;
  }
}

describe('one replica on a Redis Cluster', () => {
  let name: string;
  let node: SimNode;
  let herd: RunningHerd;

  beforeAll(async () => {
    const prefix = uniquePrefix('cluster-one');
    name = await nodeNameAwayFrom(prefix, 'c');
    node = await startSimNode({ name, models: [{ name: MODEL }], resident: [MODEL], timeScale: 0.01 });
    herd = await startTestHerd({ redisClusterNodes: cluster.nodes, redisPrefix: prefix, nodes: [nodeConfig(name, node.url)] });
  });
  afterAll(async () => {
    await herd?.close(0);
    await node?.close();
  });

  it('serves a non-streamed request and keeps its shared keys under the prefix hash tag', async () => {
    const r = await post(`${herd.url}/ollama/generate`, { model: 'llama3', prompt: 'Why is the sky blue?', options: { num_predict: 12 } });
    expect(r.status).toBe(200);
    expect(r.body.done).toBe(true);
    expect(r.body.eval_count).toBe(12);
    expect((r.body.response as string).length).toBeGreaterThan(0);
    expect(r.headers.get('x-herd-node')).toBe(name);
    const prefix = herd.core.config.redisPrefix;
    expect(JSON.parse((await admin.hget(`{${prefix}}:nodes`, name)) ?? '{}')).toMatchObject({ name, url: node.url });
    expect(await admin.exists(`${prefix}:nodes`)).toBe(0);
  });

  it('streams a request chunk by chunk to a done line', async () => {
    const res = await fetch(`${herd.url}/ollama/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama3', prompt: 'Count to ten', stream: true, options: { num_predict: 20 } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-herd-node')).toBe(name);
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as { response?: string; done: boolean; eval_count?: number });
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.slice(0, -1).every((l) => l.done === false)).toBe(true);
    expect(lines[lines.length - 1]).toMatchObject({ done: true, eval_count: 20 });
    expect(lines.map((l) => l.response ?? '').join('').length).toBeGreaterThan(0);
  });

  it('reports Redis up on /health and reads the ledger and the queue for /metrics', async () => {
    const res = await fetch(`${herd.url}/health`);
    const body = (await res.json()) as { info: { redis: { status: string } } };
    expect(res.status).toBe(200);
    expect(body.info.redis.status).toBe('up');
    const metrics = await (await fetch(`${herd.url}/metrics`)).text();
    expect(metrics).toMatch(/^herd_redis_up 1$/m);
    expect(metrics).toContain(`herd_node_in_flight{node="${name}"} 0\n`);
  });
});

describe('the BullMQ queue on a Redis Cluster', () => {
  let name: string;
  let node: SimNode;
  let herd: RunningHerd;

  beforeAll(async () => {
    const prefix = uniquePrefix('cluster-queue');
    name = await nodeNameAwayFrom(prefix, 'q');
    // One slot at 100 tokens/s: the blocker holds it for 2.5 s, twice its lease, while the others queue.
    node = await startSimNode({ name, models: [{ name: MODEL }], resident: [MODEL], decodeTps: 100, timeScale: 1 });
    herd = await startTestHerd({ redisClusterNodes: cluster.nodes, redisPrefix: prefix, leaseMs: 1200, nodes: [nodeConfig(name, node.url)] });
  });
  afterAll(async () => {
    await herd?.close(0);
    await node?.close();
  });

  it('queues requests beyond the free slots and starts them in priority order, then gives every slot back', async () => {
    const send = (numPredict: number, priority: number) =>
      post(`${herd.url}/ollama/generate`, { model: 'llama3', prompt: `request ${numPredict}`, priority, options: { num_predict: numPredict } });
    const blocker = send(250, 5);
    await waitFor(() => node.active() === 1, 5000, 'the blocker to start');
    const low = [31, 32, 33, 34, 35].map((n) => send(n, 5));
    await waitFor(async () => (await herd.core.queue.waitingCount()) >= 4, 5000, 'priority-5 requests to queue');
    // The jobs really are in BullMQ's keys, under the hash-tagged prefix.
    const prefix = herd.core.config.redisPrefix;
    expect(await admin.zcard(`{${prefix}}:bull:requests:prioritized`)).toBeGreaterThanOrEqual(4);
    const high = send(7, 1);
    // Past its first lease period the blocker's lease was renewed, not left to expire.
    const prefixLeases = `${prefix}:leases:{${name}}`;
    await new Promise((r) => setTimeout(r, 1300));
    const leases = await admin.zrange(prefixLeases, 0, -1, 'WITHSCORES');
    expect(leases).toHaveLength(2);
    expect(Number(leases[1])).toBeGreaterThan(Date.now());
    const replies = await Promise.all([blocker, ...low, high]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 200]);
    expect(replies.every((r) => r.headers.get('x-herd-node') === name)).toBe(true);
    expect(Number(replies[6].headers.get('x-herd-queue-ms'))).toBeGreaterThan(100);

    const startOf = (evalCount: number) => node.log.find((e) => e.route === '/api/generate' && e.evalCount === evalCount)!.startedAt!;
    const highStart = startOf(7);
    for (const n of [31, 32, 33, 34, 35]) expect(highStart).toBeLessThan(startOf(n));
    const lowStarts = [31, 32, 33, 34, 35].map(startOf);
    expect([...lowStarts].sort((a, b) => a - b)).toEqual(lowStarts);
    expect(node.maxActiveSeen()).toBe(1);

    await waitFor(async () => (await herd.core.ledger.loads([name])).get(name)?.inFlight === 0, 5000, 'the lease to be released');
    expect(await admin.zcard(prefixLeases)).toBe(0);
    expect(await admin.hlen(`${prefix}:lease-tokens:{${name}}`)).toBe(0);
    expect(await herd.core.queue.waitingCount()).toBe(0);
    const { waiting } = await herd.core.ledger.loadsAndWaiting([name], herd.core.queue.waitingKeys());
    expect(waiting).toBe(0);
  });
});

describe('two gateway processes on one Redis Cluster', () => {
  it('never runs more requests on a node than its slots', async () => {
    const fast = await startSimNode({ name: 'fast', models: [{ name: MODEL }], resident: [MODEL], slots: 2, maxQueue: 100, decodeTps: 400, timeScale: 1 });
    const slow = await startSimNode({ name: 'slow', models: [{ name: MODEL }], resident: [MODEL], slots: 1, maxQueue: 100, decodeTps: 200, timeScale: 1 });
    const nodes = [nodeConfig('fast', fast.url, { slots: 2 }), nodeConfig('slow', slow.url, { slots: 1 })];
    const prefix = uniquePrefix('cluster-two');
    const env = { REDIS_CLUSTER_NODES: cluster.env, HERD_REDIS_PREFIX: prefix, HERD_STRATEGY: 'least-connections' };
    const [g1, g2] = await Promise.all([spawnHerd({ ...env, HERD_REPLICA_ID: 'g1' }, nodes), spawnHerd({ ...env, HERD_REPLICA_ID: 'g2' }, nodes)]);
    try {
      expect(g1.output()).toContain(`"redis":"cluster ${cluster.env}"`);
      const replies = await Promise.all(
        Array.from({ length: 24 }, (_, i) => post(`${i % 2 ? g1.url : g2.url}/ollama/generate`, { model: 'llama3', prompt: `p${i}`, options: { num_predict: 10 } })),
      );
      expect(replies.map((r) => r.status)).toEqual(Array.from({ length: 24 }, () => 200));
      expect(fast.maxActiveSeen()).toBeLessThanOrEqual(2);
      expect(slow.maxActiveSeen()).toBeLessThanOrEqual(1);
      expect(fast.maxActiveSeen()).toBe(2); // the burst did fill the fast node
      const served = (n: SimNode) => n.log.filter((e) => e.route === '/api/generate' && e.outcome === 'ok').length;
      expect(served(fast)).toBeGreaterThan(0);
      expect(served(slow)).toBeGreaterThan(0);
      expect(served(fast) + served(slow)).toBe(24);
      // Some requests waited in the shared queue.
      expect(replies.some((r) => Number(r.headers.get('x-herd-queue-ms')) > 5)).toBe(true);
      await waitFor(async () => (await admin.zcard(`${prefix}:leases:{fast}`)) + (await admin.zcard(`${prefix}:leases:{slow}`)) === 0, 5000, 'all leases to be released');
    } finally {
      await Promise.all([g1.stop(), g2.stop()]);
      await fast.close();
      await slow.close();
    }
  });
});

describe('start-up with the cluster unreachable', () => {
  it('exits with a message that names the cluster seed nodes', async () => {
    const port = await freePort();
    const { code, output } = await runHerdToExit({ REDIS_CLUSTER_NODES: `127.0.0.1:${port}`, CONTAINERS_CONFIG: 'containers.config.json' });
    expect(code).toBe(1);
    expect(output).toContain(`Cannot reach Redis at cluster 127.0.0.1:${port}`);
  });
});
