import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readSse, startSimNode, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, post, startTestHerd, waitFor } from './support/herd';
import { startRedis } from './support/redis';

/**
 * Model names as Ollama treats them (issue #10, item 3): any case and an implied `:latest` name the same model;
 * every node is sent the model under its own spelling, the client reads back its own; and one "model not found"
 * from a node does not take a model away from the fleet unless the node's /api/tags agrees.
 */

jest.setTimeout(30_000);

const HF = 'hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M';
/** How the client spelled it. */
const ASKED = 'hf.co/bartowski/llama-3.2-1b-instruct-gguf:q4_k_m';
/** Health polls far apart: what Herd knows about models comes from the first poll and from the requests. */
const NO_POLLS = 60_000;

let redis: EmbeddedRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

function ndjson(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function herdTags(herd: RunningHerd): Promise<string[]> {
  const body = (await (await fetch(`${herd.url}/api/tags`)).json()) as { models: { name: string }[] };
  return body.models.map((m) => m.name);
}

/** What the node was last asked for on a route, as the node's log records it (the name as received). */
function lastModelOn(node: SimNode, route: string): string | undefined {
  return [...node.log].reverse().find((e) => e.route === route)?.model;
}

const chatBody = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'Hello there' }], ...extra });

describe('a mixed-case Hugging Face model on a node that stores names case-sensitively', () => {
  let node: SimNode;
  let herd: RunningHerd;

  beforeAll(async () => {
    node = await startSimNode({ name: 'strict', models: [{ name: HF }, { name: 'tinyllama' }], caseSensitiveNames: true, timeScale: 0.01 });
    herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('strict', node.url, { slots: 2 })], healthIntervalMs: NO_POLLS });
  });
  afterAll(async () => {
    await herd.close(0);
    await node.close();
  });

  it('/api/tags lists it as the node spells it, and /v1/models finds it in any case', async () => {
    expect(await herdTags(herd)).toContain(HF);
    const res = await fetch(`${herd.url}/v1/models/${encodeURIComponent(ASKED)}`);
    expect(res.status).toBe(200);
  });

  it('/api/generate in another case: the node gets its own spelling, the client reads back its own', async () => {
    const r = await post(`${herd.url}/api/generate`, { model: ASKED, prompt: 'Why is the sky blue?', stream: false, options: { num_predict: 5 } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ model: ASKED, done: true, eval_count: 5 });
    expect(r.headers.get('x-herd-node')).toBe('strict');
    expect(lastModelOn(node, '/api/generate')).toBe(HF);
  });

  it('/api/generate streamed: every chunk names the client’s spelling', async () => {
    const r = await post(`${herd.url}/api/generate`, { model: ASKED, prompt: 'Count to ten', options: { num_predict: 8 } });
    expect(r.status).toBe(200);
    const chunks = ndjson(r.text);
    expect(chunks.length).toBe(9);
    for (const c of chunks) expect(c.model).toBe(ASKED);
    expect(chunks[chunks.length - 1]).toMatchObject({ done: true, eval_count: 8 });
  });

  it('/api/chat, streamed and whole', async () => {
    const streamed = await post(`${herd.url}/api/chat`, chatBody(ASKED, { options: { num_predict: 4 } }));
    expect(streamed.status).toBe(200);
    const chunks = ndjson(streamed.text);
    expect(chunks.length).toBe(5);
    for (const c of chunks) expect(c.model).toBe(ASKED);
    const whole = await post(`${herd.url}/api/chat`, chatBody(ASKED, { stream: false, options: { num_predict: 4 } }));
    expect(whole.status).toBe(200);
    expect(whole.body).toMatchObject({ model: ASKED, done: true, message: { role: 'assistant' } });
    expect(lastModelOn(node, '/api/chat')).toBe(HF);
  });

  it('/v1/chat/completions, streamed and whole', async () => {
    const res = await fetch(`${herd.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chatBody(ASKED, { stream: true, max_tokens: 4 })),
    });
    expect(res.status).toBe(200);
    const events = await readSse(res);
    expect(events[events.length - 1]).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { model: string });
    expect(chunks.length).toBeGreaterThanOrEqual(4);
    for (const c of chunks) expect(c.model).toBe(ASKED);
    const whole = await post(`${herd.url}/v1/chat/completions`, chatBody(ASKED, { max_tokens: 4 }));
    expect(whole.status).toBe(200);
    expect(whole.body).toMatchObject({ object: 'chat.completion', model: ASKED });
    expect(lastModelOn(node, '/v1/chat/completions')).toBe(HF);
  });

  it('/api/show', async () => {
    const r = await post(`${herd.url}/api/show`, { model: ASKED });
    expect(r.status).toBe(200);
    expect(r.body.details).toMatchObject({ family: 'llama', parameter_size: '1.2B', quantization_level: 'Q4_K_M' });
    expect(lastModelOn(node, '/api/show')).toBe(HF);
  });

  it('learns rates and residency under one key, where the scheduler looks them up', async () => {
    await waitFor(() => (herd.core.fleet.rates('strict', HF)?.samples ?? 0) > 0, 5000, 'learned rates');
    expect(herd.core.fleet.rates('strict', ASKED)).toBe(herd.core.fleet.rates('strict', HF));
    const [snap] = herd.core.fleet.snapshot(herd.core.fleet.nodes(), new Map()).nodes;
    expect(snap.rates[ASKED]?.samples).toBeGreaterThan(0);
    expect(herd.core.fleet.health('strict')?.resident).toEqual([HF]);
  });

  it('Herd’s own answers name the model as the client spelled it', async () => {
    const r = await post(`${herd.url}/api/generate`, { model: 'Ghost-Model', prompt: 'x' });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: 'model "Ghost-Model:latest" not found, try pulling it first' });
  });
});

describe('a request spelled differently never takes a model away', () => {
  let nodes: SimNode[];
  let herd: RunningHerd;

  beforeAll(async () => {
    nodes = await Promise.all(
      ['s1', 's2'].map((name) => startSimNode({ name, models: [{ name: 'tinyllama' }, { name: HF }], caseSensitiveNames: true, timeScale: 0.01 })),
    );
    herd = await startTestHerd({ redisUrl: redis.url, nodes: nodes.map((n) => nodeConfig(n.name, n.url)), healthIntervalMs: NO_POLLS });
  });
  afterAll(async () => {
    await herd.close(0);
    await Promise.all(nodes.map((n) => n.close()));
  });

  it('"TINYLLAMA" is served, and tinyllama:latest stays on every node for the requests after it', async () => {
    for (const model of ['TINYLLAMA', 'TinyLlama:Latest']) {
      const r = await post(`${herd.url}/api/generate`, { model, prompt: 'hi', stream: false, options: { num_predict: 2 } });
      expect(r.status).toBe(200);
      expect(r.body.model).toBe(model);
    }
    expect(nodes.flatMap((n) => n.log).filter((e) => e.outcome === 'not_found')).toEqual([]);
    for (const n of nodes) expect(herd.core.fleet.health(n.name)?.models.map((m) => m.name)).toContain('tinyllama:latest');
    const after = await Promise.all([1, 2, 3, 4].map(() => post(`${herd.url}/api/chat`, chatBody('tinyllama', { stream: false, options: { num_predict: 2 } }))));
    expect(after.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(await herdTags(herd)).toContain('tinyllama:latest');
  });

  it('model admin reaches every node under its spelling: copy, then delete, in another case', async () => {
    const copy = await post(`${herd.url}/api/copy`, { source: 'TINYLLAMA', destination: 'tiny-copy' });
    expect(copy.status).toBe(200);
    expect(copy.headers.get('x-herd-node')).toBe('s1,s2');
    expect(await herdTags(herd)).toContain('tiny-copy:latest');
    const del = await fetch(`${herd.url}/api/delete`, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'Tiny-Copy' }) });
    expect(del.status).toBe(200);
    expect(del.headers.get('x-herd-node')).toBe('s1,s2');
    expect(await herdTags(herd)).not.toContain('tiny-copy:latest');
  });
});

/** A node that answers "not found" to the first `lies` generate requests and passes everything else on. */
async function startLyingNode(target: SimNode, lies: number): Promise<{ url: string; tagReads: () => number; close: () => Promise<void> }> {
  let remaining = lies;
  let tagReads = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        if (req.url === '/api/tags') tagReads++;
        if (req.url === '/api/generate' && remaining > 0) {
          remaining--;
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'model "tinyllama:latest" not found, try pulling it first' }));
          return;
        }
        const upstream = await fetch(`${target.url}${req.url}`, { method: req.method, headers: { 'content-type': 'application/json' }, body: chunks.length ? Buffer.concat(chunks) : undefined });
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await upstream.arrayBuffer()));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tagReads: () => tagReads,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('a "model not found" from a node', () => {
  it('keeps the model when the node’s /api/tags still lists it', async () => {
    const sim = await startSimNode({ name: 'behind', models: [{ name: 'tinyllama' }], timeScale: 0 });
    const liar = await startLyingNode(sim, 1);
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('liar', liar.url)], healthIntervalMs: NO_POLLS });
    try {
      const readsBefore = liar.tagReads();
      const first = await post(`${herd.url}/api/generate`, { model: 'TinyLlama', prompt: 'hi', stream: false });
      // Nowhere else to go: the client gets Ollama's 404, naming the model as it asked for it.
      expect(first.status).toBe(404);
      expect(first.body).toEqual({ error: 'model "TinyLlama:latest" not found, try pulling it first' });
      await waitFor(() => liar.tagReads() > readsBefore, 5000, 'Herd to re-read the node’s tags');
      expect(herd.core.fleet.modelPresence('tinyllama')).toBe('up');
      const second = await post(`${herd.url}/api/generate`, { model: 'tinyllama', prompt: 'hi', stream: false, options: { num_predict: 2 } });
      expect(second.status).toBe(200);
      expect(await herdTags(herd)).toContain('tinyllama:latest');
    } finally {
      await herd.close(0);
      await liar.close();
      await sim.close();
    }
  });

  it('drops the model when the node’s /api/tags no longer lists it', async () => {
    const sim = await startSimNode({ name: 'gone', models: [{ name: HF }, { name: 'tinyllama' }], caseSensitiveNames: true, timeScale: 0 });
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('gone', sim.url)], healthIntervalMs: NO_POLLS });
    try {
      expect(await herdTags(herd)).toContain(HF);
      // Deleted behind Herd's back: Herd still believes the node has it.
      const del = await fetch(`${sim.url}/api/delete`, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: HF }) });
      expect(del.status).toBe(200);
      sim.resetLog();
      const r = await post(`${herd.url}/api/generate`, { model: ASKED, prompt: 'hi', stream: false });
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ error: `model "${ASKED}" not found, try pulling it first` });
      // The node was asked under its own spelling, said no, and its tags were read again.
      expect(sim.log.find((e) => e.route === '/api/generate')).toMatchObject({ model: HF, outcome: 'not_found' });
      await waitFor(async () => !(await herdTags(herd)).includes(HF), 5000, 'the model to leave the fleet');
      expect(sim.log.some((e) => e.route === '/api/tags')).toBe(true);
      expect(herd.core.fleet.modelPresence(ASKED)).toBe('absent');
      // The node's other model is untouched, and the next request for the gone one is answered by Herd alone.
      expect(await herdTags(herd)).toContain('tinyllama:latest');
      const again = await post(`${herd.url}/api/generate`, { model: ASKED, prompt: 'hi', stream: false });
      expect(again.status).toBe(404);
      expect(sim.log.filter((e) => e.route === '/api/generate')).toHaveLength(1);
    } finally {
      await herd.close(0);
      await sim.close();
    }
  });
});

describe('one model, spelled differently by different nodes', () => {
  let nodes: SimNode[];
  let herd: RunningHerd;

  beforeAll(async () => {
    // Each request holds its node's one slot for ~100 ms, so six at once are spread over both nodes.
    const timing = { caseSensitiveNames: true, decodeTps: 20, loadMs: 0, timeScale: 1 };
    nodes = await Promise.all([
      startSimNode({ name: 'upper', models: [{ name: HF }], ...timing }),
      startSimNode({ name: 'lower', models: [{ name: ASKED }], ...timing }),
    ]);
    herd = await startTestHerd({ redisUrl: redis.url, nodes: nodes.map((n) => nodeConfig(n.name, n.url)), healthIntervalMs: NO_POLLS });
  });
  afterAll(async () => {
    await herd.close(0);
    await Promise.all(nodes.map((n) => n.close()));
  });

  it('is listed once, and each node is sent its own spelling', async () => {
    expect((await herdTags(herd)).filter((name) => name.toLowerCase() === ASKED)).toHaveLength(1);
    const spelledAs = HF.toUpperCase();
    const replies = await Promise.all([1, 2, 3, 4, 5, 6].map(() => post(`${herd.url}/api/generate`, { model: spelledAs, prompt: 'hi', stream: false, options: { num_predict: 2 } })));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    for (const r of replies) expect(r.body.model).toBe(spelledAs);
    expect(new Set(replies.map((r) => r.headers.get('x-herd-node')))).toEqual(new Set(['upper', 'lower']));
    const byNode = (name: string) => nodes.find((n) => n.name === name)!.log.filter((e) => e.route === '/api/generate');
    for (const e of byNode('upper')) expect(e).toMatchObject({ model: HF, outcome: 'ok' });
    for (const e of byNode('lower')) expect(e).toMatchObject({ model: ASKED, outcome: 'ok' });
  });
});
