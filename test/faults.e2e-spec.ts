import { Redis } from 'ioredis';
import { startSimNode, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import { RedisKeys } from '../src/redis/redis-keys';
import { startEmbeddedRedis, type EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, post, startTestHerd, waitFor } from './support/herd';
import { spawnHerd } from './support/herd-process';
import { classify, emptyCounts, faultTable, printFaultTable, steadyLoad, tally } from './support/load';
import { uniquePrefix } from './support/redis';

jest.setTimeout(90_000);

const LLAMA = { models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: EmbeddedRedis;
beforeAll(async () => {
  redis = await startEmbeddedRedis();
});
afterAll(async () => {
  printFaultTable();
  await redis.stop();
});

function body(i: number, stream: boolean, numPredict = 30): Record<string, unknown> {
  return { model: 'llama3', prompt: `fault test ${i}`, stream, options: { num_predict: numPredict } };
}

describe('a node killed during a steady workload', () => {
  it('fails no non-streamed request, ends started streams with an error line, and the node rejoins', async () => {
    const a = await startSimNode({ name: 'a', ...LLAMA, slots: 2, decodeTps: 150 });
    const b = await startSimNode({ name: 'b', ...LLAMA, slots: 2, decodeTps: 150 });
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('a', a.url, { slots: 2 }), nodeConfig('b', b.url, { slots: 2 })], healthIntervalMs: 300 });
    try {
      const whole = emptyCounts();
      const streams = emptyCounts();
      const load = steadyLoad(async (i) => {
        const stream = i % 3 === 0;
        const r = await classify(`${herd.url}/api/generate`, body(i, stream));
        tally(stream ? streams : whole, r);
        return r;
      }, 48, 6);
      await sleep(600);
      await a.stop();
      await sleep(900);
      await a.start();
      await load;
      faultTable.push({ scenario: 'node killed, non-streamed', counts: whole }, { scenario: 'node killed, streamed', counts: streams });
      expect(whole.completed).toBe(whole.sent);
      expect(streams.lost + streams.cut).toBe(0);
      expect(streams.completed + streams.failedClear).toBe(streams.sent);
      await waitFor(() => herd.core.fleet.isUp('a'), 5000, 'node a to rejoin');
      const after = await post(`${herd.url}/ollama/generate`, body(999, false, 3));
      expect(after.status).toBe(200);
    } finally {
      await herd.close(0);
      await a.close();
      await b.close();
    }
  });
});

describe('a node that hangs', () => {
  it('loses no request: streams move on after the first-byte timeout, whole answers when the node is found down', async () => {
    const a = await startSimNode({ name: 'a', ...LLAMA, slots: 2, timeScale: 0.01 });
    const b = await startSimNode({ name: 'b', ...LLAMA, slots: 2, timeScale: 0.01 });
    const herd = await startTestHerd({
      redisUrl: redis.url,
      nodes: [nodeConfig('a', a.url, { slots: 2 }), nodeConfig('b', b.url, { slots: 2 })],
      healthIntervalMs: 300,
      firstByteTimeoutMs: 600,
    });
    try {
      a.setFault({ kind: 'hang' });
      const counts = await steadyLoad((i) => classify(`${herd.url}/api/generate`, body(i, i % 2 === 0)), 16, 4);
      faultTable.push({ scenario: 'node hangs', counts });
      expect(counts.completed).toBe(counts.sent);
      expect(herd.core.fleet.nodeState('a')).not.toBe('healthy');
    } finally {
      a.setFault(null);
      await herd.close(0);
      await a.close();
      await b.close();
    }
  });
});

describe('a request that outlives HERD_REQUEST_TIMEOUT_MS', () => {
  let a: SimNode;
  let herd: RunningHerd;
  beforeAll(async () => {
    // 60 tokens at 20 tok/s: 3 s of generation against a 400 ms request timeout.
    a = await startSimNode({ name: 'a', ...LLAMA, slots: 1, decodeTps: 20 });
    herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('a', a.url)], requestTimeoutMs: 400 });
  });
  afterAll(async () => {
    await herd.close(0);
    await a.close();
  });

  async function expectAbortedAndFreed(): Promise<void> {
    await waitFor(() => a.log.filter((e) => e.route === '/api/generate').every((e) => e.outcome === 'canceled'), 2000, 'the node to see the request aborted');
    expect((await herd.core.ledger.loads(['a'])).get('a')?.inFlight).toBe(0);
  }

  it('answers 504 to a whole answer, aborts the node request and gives its slot back', async () => {
    const started = Date.now();
    const r = await post(`${herd.url}/ollama/generate`, body(1, false, 60));
    expect(r.status).toBe(504);
    expect(String(r.body.error)).toContain('HERD_REQUEST_TIMEOUT_MS');
    expect(Date.now() - started).toBeLessThan(2000);
    await expectAbortedAndFreed();
  });

  it('ends a stream that already started with an error line at the timeout', async () => {
    const started = Date.now();
    const r = await post(`${herd.url}/api/generate`, body(2, true, 60));
    expect(r.status).toBe(200);
    const lines = r.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(1);
    expect(String(lines[lines.length - 1].error)).toContain('HERD_REQUEST_TIMEOUT_MS');
    expect(Date.now() - started).toBeLessThan(2000);
    await expectAbortedAndFreed();
  });
});

describe.each([
  ['500', { kind: 'error500' as const }],
  ['503 busy', { kind: 'busy' as const }],
])('a node answering %s', (label, fault) => {
  it('opens its circuit and traffic goes elsewhere', async () => {
    const a = await startSimNode({ name: 'a', ...LLAMA, slots: 2, timeScale: 0 });
    const b = await startSimNode({ name: 'b', ...LLAMA, slots: 2, timeScale: 0 });
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('a', a.url, { slots: 2 }), nodeConfig('b', b.url, { slots: 2 })], strategy: 'round-robin' });
    try {
      a.setFault(fault);
      const counts = await steadyLoad((i) => classify(`${herd.url}/ollama/generate`, body(i, false, 5)), 30, 2);
      faultTable.push({ scenario: `node answers ${label}`, counts });
      expect(counts.completed).toBe(30);
      const hitsOnA = a.log.filter((e) => e.route === '/api/generate').length;
      // Round-robin would send ~15 there; the breaker stops it after a few failures.
      expect(hitsOnA).toBeLessThanOrEqual(4);
      // Out of rotation: 'degraded' by its open breaker, or 'down' once a health poll (every 500 ms here) also met the
      // fault, which the simulator applies to /api/tags too. Which one depends on how long the load took.
      expect(['degraded', 'down']).toContain(herd.core.fleet.nodeState('a'));
      expect(herd.core.fleet.circuit('a').openUntil).toBeGreaterThan(Date.now());
    } finally {
      await herd.close(0);
      await a.close();
      await b.close();
    }
  });
});

describe('Redis restarted during a workload', () => {
  it('answers fast errors while Redis is away and recovers without a restart', async () => {
    const own = await startEmbeddedRedis();
    const a = await startSimNode({ name: 'a', ...LLAMA, slots: 2, decodeTps: 300 });
    const herd = await startTestHerd({ redisUrl: own.url, nodes: [nodeConfig('a', a.url, { slots: 2 })], healthIntervalMs: 300, queueTimeoutMs: 3000 });
    let restarted: EmbeddedRedis | undefined;
    try {
      const load = steadyLoad((i) => classify(`${herd.url}/ollama/generate`, body(i, false, 20), 15_000), 40, 4);
      await sleep(500);
      own.process.kill('SIGKILL');
      await sleep(300);
      // While Redis is away, health says so and new requests fail fast.
      const health = await fetch(`${herd.url}/health`);
      expect(health.status).toBe(503);
      expect(JSON.stringify(await health.json())).toContain('Redis does not answer PING');
      const t0 = Date.now();
      expect((await post(`${herd.url}/ollama/generate`, body(500, false, 3))).status).toBe(503);
      expect(Date.now() - t0).toBeLessThan(2000);
      await sleep(700);
      restarted = await startEmbeddedRedis({ port: own.port });
      const counts = await load;
      faultTable.push({ scenario: 'Redis restarted', counts });
      expect(counts.lost).toBe(0);
      expect(counts.cut).toBe(0);
      expect(counts.failedClear).toBeGreaterThan(0); // the outage was real
      // Recovered by itself: new requests succeed again.
      await waitFor(async () => (await post(`${herd.url}/ollama/generate`, body(1000, false, 3))).status === 200, 10_000, 'Herd to serve again after Redis came back');
      const after = await Promise.all([1, 2, 3, 4].map((i) => post(`${herd.url}/ollama/generate`, body(2000 + i, false, 3))));
      expect(after.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    } finally {
      await herd.close(0);
      await a.close();
      await restarted?.stop();
      await own.stop();
    }
  });
});

describe('one of two replicas killed', () => {
  it('the other keeps serving and in-flight counts in Redis return to zero', async () => {
    const a = await startSimNode({ name: 'a', ...LLAMA, slots: 2, decodeTps: 200 });
    const b = await startSimNode({ name: 'b', ...LLAMA, slots: 2, decodeTps: 200 });
    const prefix = uniquePrefix('kill');
    const env = { REDIS_URL: redis.url, HERD_REDIS_PREFIX: prefix, HERD_LEASE_MS: '2000', HERD_HEALTH_INTERVAL_MS: '300' };
    const nodes = [nodeConfig('a', a.url, { slots: 2 }), nodeConfig('b', b.url, { slots: 2 })];
    const [g1, g2] = await Promise.all([spawnHerd({ ...env, HERD_REPLICA_ID: 'k1' }, nodes), spawnHerd({ ...env, HERD_REPLICA_ID: 'k2' }, nodes)]);
    const r = new Redis(redis.url);
    try {
      const viaSurvivor = emptyCounts();
      const viaVictim = emptyCounts();
      const load = steadyLoad(async (i) => {
        const toVictim = i % 2 === 0;
        const res = await classify(`${toVictim ? g1.url : g2.url}/ollama/generate`, body(i, false, 25));
        tally(toVictim ? viaVictim : viaSurvivor, res);
        return res;
      }, 40, 6);
      await sleep(700);
      await g1.stop('SIGKILL');
      await load;
      faultTable.push({ scenario: 'replica killed, its clients', counts: viaVictim }, { scenario: 'replica killed, survivor', counts: viaSurvivor });
      expect(viaSurvivor.completed).toBe(viaSurvivor.sent);
      expect(viaVictim.lost + viaSurvivor.lost).toBe(0);
      const keys = new RedisKeys(prefix);
      await waitFor(async () => (await r.zcount(keys.leases('a'), Date.now(), '+inf')) + (await r.zcount(keys.leases('b'), Date.now(), '+inf')) === 0, 6000, 'leases to return to zero');
    } finally {
      r.disconnect();
      await g1.stop();
      await g2.stop();
      await a.close();
      await b.close();
    }
  });
});

describe('SIGTERM during load', () => {
  it('finishes the requests it accepted, then exits 0', async () => {
    const a = await startSimNode({ name: 'a', ...LLAMA, slots: 2, decodeTps: 100 });
    const prefix = uniquePrefix('term');
    const g = await spawnHerd({ REDIS_URL: redis.url, HERD_REDIS_PREFIX: prefix }, [nodeConfig('a', a.url, { slots: 2 })]);
    const r = new Redis(redis.url);
    try {
      const inFlight = Array.from({ length: 6 }, (_, i) => classify(`${g.url}/ollama/generate`, body(i, false, 30)));
      // Two run, four wait in the queue: all six were accepted before the signal.
      const prioritized = `${new RedisKeys(prefix).bullPrefix}:${new RedisKeys(prefix).queueName}:prioritized`;
      await waitFor(async () => a.active() === 2 && (await r.zcard(prioritized)) === 4, 5000, 'two requests running and four queued');
      const exit = g.stop('SIGTERM');
      const results = await Promise.all(inFlight);
      const counts = emptyCounts();
      for (const res of results) tally(counts, res);
      faultTable.push({ scenario: 'SIGTERM during load', counts });
      expect(counts.completed).toBe(6);
      expect(await exit).toBe(0);
    } finally {
      r.disconnect();
      await g.stop();
      await a.close();
    }
  });
});

describe('fleet changed through the API during load', () => {
  it('adds, drains and removes nodes without a failed request', async () => {
    const a = await startSimNode({ name: 'a', ...LLAMA, slots: 2, decodeTps: 300 });
    const b = await startSimNode({ name: 'b', ...LLAMA, slots: 2, decodeTps: 300 });
    let herd: RunningHerd | undefined;
    const nodes: SimNode[] = [a, b];
    try {
      herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('a', a.url, { slots: 2 })], healthIntervalMs: 300 });
      const url = herd.url;
      const load = steadyLoad((i) => classify(`${url}/ollama/generate`, body(i, false, 15)), 50, 4);
      await sleep(300);
      expect((await post(`${url}/herd/nodes`, { name: 'b', url: b.url, slots: 2 })).status).toBe(201);
      await sleep(300);
      expect((await post(`${url}/herd/nodes/a/drain`, {})).status).toBe(200);
      await sleep(300);
      expect((await fetch(`${url}/herd/nodes/a`, { method: 'DELETE' })).status).toBe(200);
      const counts = await load;
      faultTable.push({ scenario: 'node added, drained, removed', counts });
      expect(counts.completed).toBe(counts.sent);
      expect(b.log.some((e) => e.route === '/api/generate' && e.outcome === 'ok')).toBe(true);
      const list = (await (await fetch(`${url}/herd/nodes`)).json()) as { nodes: { name: string }[] };
      expect(list.nodes.map((n) => n.name)).toEqual(['b']);
      const bad = await post(`${url}/herd/nodes`, { name: 'c', url: 'http://127.0.0.1:1' });
      expect(bad.status).toBe(422);
    } finally {
      await herd?.close(0);
      for (const n of nodes) await n.close();
    }
  });
});

describe('backpressure', () => {
  it('answers 503 with Ollama’s busy message and Retry-After when the queue is full, and never overfills the node', async () => {
    const a = await startSimNode({ name: 'a', ...LLAMA, slots: 1, decodeTps: 100 });
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('a', a.url)], maxQueue: 2 });
    try {
      const replies = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          await sleep(i * 15); // arrive one after another so the queue fills in order
          return fetch(`${herd.url}/ollama/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body(i, false, 20)) });
        }),
      );
      const statuses = replies.map((r) => r.status);
      const busy = replies.filter((r) => r.status === 503);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
      expect(busy.length).toBeGreaterThanOrEqual(1);
      expect(await busy[0].json()).toEqual({ error: 'server busy, please try again.  maximum pending requests exceeded' });
      expect(busy[0].headers.get('retry-after')).toBe('1');
      expect(a.maxActiveSeen()).toBe(1);
    } finally {
      await herd.close(0);
      await a.close();
    }
  });
});

describe('self-registration by heartbeat', () => {
  it('joins on the first heartbeat, goes down when heartbeats stop and is removed after the grace period', async () => {
    const a = await startSimNode({ name: 'a', ...LLAMA, timeScale: 0 });
    const b = await startSimNode({ name: 'b', ...LLAMA, timeScale: 0 });
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('a', a.url)], healthIntervalMs: 200, heartbeatGraceMs: 1500 });
    try {
      const hb = await post(`${herd.url}/herd/nodes/heartbeat`, { name: 'b', url: b.url, slots: 2, load: { gpu: 0.4 } });
      expect(hb.status).toBe(200);
      expect(hb.body).toEqual({ ok: true, joined: true });
      expect(herd.core.fleet.node('b')?.slots).toBe(2);
      expect(herd.core.fleet.isUp('b')).toBe(true);
      const again = await post(`${herd.url}/herd/nodes/heartbeat`, { name: 'b', url: b.url, slots: 2 });
      expect(again.body).toEqual({ ok: true, joined: false });
      expect((await post(`${herd.url}/herd/nodes/heartbeat`, { name: 'c', url: 'ftp://x' })).status).toBe(400);
      // No more heartbeats: down after three intervals, gone after the grace period.
      await waitFor(() => herd.core.fleet.nodeState('b') === 'down', 3000, 'b to be marked down');
      await waitFor(() => herd.core.fleet.node('b') === undefined, 4000, 'b to be removed');
      expect(herd.core.fleet.node('a')).toBeDefined();
    } finally {
      await herd.close(0);
      await a.close();
      await b.close();
    }
  });

  it("leaves an operator's node as the operator set it, and takes a self-registered node's new labels", async () => {
    const a = await startSimNode({ name: 'a', ...LLAMA, timeScale: 0 });
    const b = await startSimNode({ name: 'b', ...LLAMA, timeScale: 0 });
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('a', a.url, { slots: 1 })], healthIntervalMs: 200, heartbeatGraceMs: 1000 });
    try {
      const hb = await post(`${herd.url}/herd/nodes/heartbeat`, { name: 'a', url: a.url, slots: 4 });
      expect(hb.body).toEqual({ ok: true, joined: false });
      expect(herd.core.fleet.node('a')?.slots).toBe(1);
      expect(herd.core.fleet.node('a')?.selfRegistered).toBeFalsy();

      await post(`${herd.url}/herd/nodes/heartbeat`, { name: 'b', url: b.url, labels: { rack: '1' } });
      await post(`${herd.url}/herd/nodes/heartbeat`, { name: 'b', url: b.url, labels: { rack: '2' } });
      expect(herd.core.fleet.node('b')?.labels).toEqual({ rack: '2' });

      // Past the grace period the self-registered node is gone; the operator's, heartbeat or not, stays.
      await waitFor(() => herd.core.fleet.node('b') === undefined, 4000, 'b to be removed');
      expect(herd.core.fleet.node('a')).toBeDefined();
      expect(herd.core.fleet.isUp('a')).toBe(true);
    } finally {
      await herd.close(0);
      await a.close();
      await b.close();
    }
  });
});
