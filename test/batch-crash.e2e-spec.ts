import OpenAI, { toFile } from 'openai';
import { startSimNode, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, startTestHerd } from './support/herd';
import { spawnHerd, type HerdProcess } from './support/herd-process';
import { startRedis, uniquePrefix } from './support/redis';

/**
 * Batches are durable: a replica killed mid-batch (SIGKILL, a separate process) and a whole Herd restarted mid-batch
 * (every replica stopped, then new ones on the same Redis prefix) still end with every custom_id exactly once across
 * the output and error files, and request_counts that agree. Needs `npm run build` (the killed replica runs dist/).
 */

jest.setTimeout(90_000);

const LINES = 40;
const LEASE_MS = 1500;
const CAP = 2;

let redis: EmbeddedRedis;
let nodes: SimNode[];

beforeAll(async () => {
  redis = await startRedis();
  // Four one-slot nodes: the batch lane may use three (the fastest is kept free), the cap allows two at once.
  nodes = await Promise.all(['c1', 'c2', 'c3', 'c4'].map((name) => startSimNode({ name, models: [{ name: 'llama3' }], resident: ['llama3'], slots: 1, timeScale: 0.2 })));
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  await redis.stop();
});

const fleet = (): ReturnType<typeof nodeConfig>[] => nodes.map((n) => nodeConfig(n.name, n.url, { slots: 1 }));

function replica(prefix: string): Promise<RunningHerd> {
  return startTestHerd({ redisUrl: redis.url, redisPrefix: prefix, nodes: fleet(), leaseMs: LEASE_MS, batchMaxRunning: CAP });
}

function client(url: string): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 2 });
}

async function createBatch(openai: OpenAI, tag: string): Promise<string> {
  const lines = Array.from({ length: LINES }, (_, i) =>
    JSON.stringify({ custom_id: `${tag}-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'llama3', messages: [{ role: 'user', content: `${tag} ${i}` }], max_tokens: 30 } }),
  ).join('\n');
  const file = await openai.files.create({ file: await toFile(Buffer.from(lines), `${tag}.jsonl`), purpose: 'batch' });
  return (await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).id;
}

async function until(openai: OpenAI, id: string, done: (b: OpenAI.Batch) => boolean, timeoutMs = 60_000): Promise<OpenAI.Batch> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const batch = await openai.batches.retrieve(id);
    if (done(batch)) return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.status} (${JSON.stringify(batch.request_counts)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every custom_id of the input exactly once across both files, and request_counts that agree with them. */
async function expectExactlyOnce(openai: OpenAI, batch: OpenAI.Batch, tag: string): Promise<void> {
  const read = async (id: string | null | undefined): Promise<{ custom_id: string }[]> =>
    id
      ? (await (await openai.files.content(id)).text())
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as { custom_id: string })
      : [];
  const out = await read(batch.output_file_id);
  const errs = await read(batch.error_file_id);
  expect([...out, ...errs].map((l) => l.custom_id).sort()).toEqual(Array.from({ length: LINES }, (_, i) => `${tag}-${i}`).sort());
  expect(batch.request_counts).toEqual({ total: LINES, completed: out.length, failed: errs.length });
  expect(out.map((l) => l.custom_id)).toEqual([...out.map((l) => l.custom_id)].sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1])));
}

const chatLog = (): { outcome: string }[] => nodes.flatMap((n) => n.log.filter((e) => e.route === '/v1/chat/completions'));
const done = (b: OpenAI.Batch): boolean => ['completed', 'failed', 'cancelled', 'expired'].includes(b.status);

describe('a replica killed mid-batch', () => {
  let killed: HerdProcess | undefined;
  let survivor: RunningHerd | undefined;

  afterAll(async () => {
    await killed?.stop('SIGKILL');
    await survivor?.close(0);
  });

  it('loses and duplicates nothing: its running lines run again elsewhere once their leases expire', async () => {
    for (const n of nodes) n.resetLog();
    const prefix = uniquePrefix('crash');
    killed = await spawnHerd(
      { REDIS_URL: redis.url, HERD_REDIS_PREFIX: prefix, HERD_LEASE_MS: String(LEASE_MS), HERD_BATCH_MAX_RUNNING: String(CAP), HERD_HEALTH_INTERVAL_MS: '500' },
      fleet(),
    );
    const id = await createBatch(client(killed.url), 'k');
    await until(client(killed.url), id, (b) => (b.request_counts?.completed ?? 0) >= 4);
    // Kill it while it runs lines: wait until a node is serving one of them.
    const deadline = Date.now() + 5000;
    while (!nodes.some((n) => n.active() > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await killed.stop('SIGKILL');

    survivor = await replica(prefix);
    const openai = client(survivor.url);
    const mid = await openai.batches.retrieve(id);
    expect(mid.status).toBe('in_progress');
    expect(mid.request_counts!.completed).toBeLessThan(LINES);

    const batch = await until(openai, id, done);
    expect(batch.status).toBe('completed');
    await expectExactlyOnce(openai, batch, 'k');
    expect(batch.request_counts!.failed).toBe(0);
    // The kill cut requests off on the nodes (the lines they were running ran again).
    expect(chatLog().some((e) => e.outcome === 'canceled')).toBe(true);
  });
});

describe('Herd restarted mid-batch', () => {
  it('every replica stopped, new ones on the same prefix finish the batch; the lane cap holds across replicas', async () => {
    for (const n of nodes) n.resetLog();
    const prefix = uniquePrefix('restart');
    const first = [await replica(prefix), await replica(prefix)];
    let maxActive = 0;
    const sampler = setInterval(() => (maxActive = Math.max(maxActive, nodes.reduce((sum, n) => sum + n.active(), 0))), 5);
    try {
      const id = await createBatch(client(first[0].url), 'r');
      await until(client(first[1].url), id, (b) => (b.request_counts?.completed ?? 0) >= 6);
      await Promise.all(first.map((h) => h.close(0)));
      const paused = nodes.reduce((sum, n) => sum + n.active(), 0);
      expect(paused).toBe(0);

      const second = [await replica(prefix), await replica(prefix)];
      try {
        const openai = client(second[1].url);
        const mid = await openai.batches.retrieve(id);
        expect(mid.status).toBe('in_progress');
        expect(mid.request_counts!.completed).toBeLessThan(LINES);
        const batch = await until(openai, id, done);
        expect(batch.status).toBe('completed');
        await expectExactlyOnce(openai, batch, 'r');
        expect(batch.request_counts!.failed).toBe(0);
      } finally {
        await Promise.all(second.map((h) => h.close(0)));
      }
    } finally {
      clearInterval(sampler);
    }
    // Two replicas, three nodes the lane may use: only the cap in Redis keeps it at two lines at once.
    expect(maxActive).toBe(CAP);
  });
});
