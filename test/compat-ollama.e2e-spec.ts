import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ollama, type CreateRequest, type ProgressResponse } from 'ollama';
import { startSimNode, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, post, startTestHerd, waitFor } from './support/herd';
import { startRedis } from './support/redis';

/** The official `ollama` npm client, pointed at Herd over a simulated fleet of three nodes, must not notice. */

jest.setTimeout(30_000);

let redis: EmbeddedRedis;
let nodes: SimNode[];
let herd: RunningHerd;
/** X-Herd-Node of every answer the client received, in order (the client does not expose headers). */
let served: string[];
let ollama: Ollama;

const byName = (name: string): SimNode => nodes.find((n) => n.name === name)!;

async function tagNames(node: SimNode): Promise<string[]> {
  const body = (await (await fetch(`${node.url}/api/tags`)).json()) as { models: { name: string }[] };
  return body.models.map((m) => m.name);
}

async function herdInFlight(): Promise<number> {
  const body = (await (await fetch(`${herd.url}/herd/nodes`)).json()) as { nodes: { inFlight: number }[] };
  return body.nodes.reduce((sum, n) => sum + n.inFlight, 0);
}

function ndjson(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const lastServed = (): string => served[served.length - 1];

beforeAll(async () => {
  redis = await startRedis();
  nodes = await Promise.all([
    startSimNode({ name: 'n1', models: [{ name: 'llama3' }, { name: 'nomic-embed-text' }], resident: ['llama3'], slots: 2, timeScale: 0.01 }),
    startSimNode({ name: 'n2', models: [{ name: 'llama3' }, { name: 'nomic-embed-text' }], resident: ['llama3'], slots: 2, timeScale: 0.01 }),
    startSimNode({ name: 'n3', models: [{ name: 'llama3' }], slots: 1, timeScale: 0.01, version: '0.11.4' }),
  ]);
  herd = await startTestHerd({ redisUrl: redis.url, nodes: nodes.map((n) => nodeConfig(n.name, n.url, { slots: n.name === 'n3' ? 1 : 2 })) });
  served = [];
  ollama = new Ollama({
    host: herd.url,
    fetch: async (input, init) => {
      const res = await fetch(input, init);
      served.push(res.headers.get('x-herd-node') ?? '');
      return res;
    },
  });
});

afterAll(async () => {
  await herd.close(0);
  await Promise.all(nodes.map((n) => n.close()));
  await redis.stop();
});

describe('fleet routes', () => {
  it('version is the oldest node’s', async () => {
    expect(await ollama.version()).toEqual({ version: '0.11.4' });
  });

  it('list is the union of every node’s models, in Ollama’s shape', async () => {
    const list = await ollama.list();
    expect(list.models.map((m) => m.name).sort()).toEqual(['llama3:latest', 'nomic-embed-text:latest']);
    for (const m of list.models) {
      expect(m.digest).toMatch(/^[0-9a-f]{64}$/);
      expect(m.size).toBeGreaterThan(0);
      expect(typeof m.details.family).toBe('string');
      expect(Date.parse(String(m.modified_at))).toBeGreaterThan(0);
    }
  });

  it('ps lists the loaded models of every node', async () => {
    const ps = await ollama.ps();
    const rows = ps.models as unknown as { name: string; node: string; expires_at: string }[];
    expect(rows.filter((m) => m.name === 'llama3:latest').map((m) => m.node).sort()).toEqual(['n1', 'n2']);
    for (const r of rows) expect(Date.parse(r.expires_at)).toBeGreaterThan(Date.now());
  });

  it('show answers from a node that has the model', async () => {
    const show = await ollama.show({ model: 'llama3' });
    expect(show.details.family).toBe('llama');
    expect(show.modelfile).toContain('FROM');
    expect(['n1', 'n2', 'n3']).toContain(lastServed());
    await expect(ollama.show({ model: 'ghost' })).rejects.toMatchObject({ name: 'ResponseError', status_code: 404 });
  });
});

describe('inference', () => {
  it('generate, not streamed', async () => {
    const r = await ollama.generate({ model: 'llama3', prompt: 'Why is the sky blue?', options: { num_predict: 12 } });
    expect(r.done).toBe(true);
    expect(r.eval_count).toBe(12);
    expect(r.response?.length).toBeGreaterThan(0);
    expect(r.total_duration).toBeGreaterThan(0);
    expect(['n1', 'n2', 'n3']).toContain(lastServed());
  });

  it('generate, streamed', async () => {
    const parts = [];
    for await (const part of await ollama.generate({ model: 'llama3', prompt: 'Count to ten', stream: true, options: { num_predict: 10 } })) parts.push(part);
    expect(parts).toHaveLength(11);
    expect(parts.slice(0, 10).every((p) => !p.done && (p.response ?? '').length > 0)).toBe(true);
    expect(parts[10]).toMatchObject({ done: true, done_reason: 'length', eval_count: 10 });
    expect(['n1', 'n2', 'n3']).toContain(lastServed());
  });

  it('chat, not streamed', async () => {
    const r = await ollama.chat({ model: 'llama3', messages: [{ role: 'user', content: 'Hello' }], options: { num_predict: 6 } });
    expect(r.message.role).toBe('assistant');
    expect(r.message.content.length).toBeGreaterThan(0);
    expect(r.eval_count).toBe(6);
  });

  it('chat, streamed', async () => {
    let text = '';
    let final: { done: boolean; eval_count: number } | undefined;
    let count = 0;
    for await (const part of await ollama.chat({ model: 'llama3', messages: [{ role: 'user', content: 'Hello' }], stream: true, options: { num_predict: 7 } })) {
      count++;
      text += part.message.content;
      if (part.done) final = part;
    }
    expect(count).toBe(8);
    expect(text.length).toBeGreaterThan(0);
    expect(final).toMatchObject({ done: true, eval_count: 7 });
  });

  it('embed and the legacy embeddings', async () => {
    const embed = await ollama.embed({ model: 'nomic-embed-text', input: ['first', 'second', 'third'] });
    expect(embed.embeddings).toHaveLength(3);
    for (const v of embed.embeddings) expect(v).toHaveLength(768);
    expect(['n1', 'n2']).toContain(lastServed());
    const legacy = await ollama.embeddings({ model: 'nomic-embed-text', prompt: 'hello' });
    expect(legacy.embedding).toHaveLength(768);
    expect(legacy.embedding.some((x) => x !== 0)).toBe(true);
  });

  it('an unknown model is a ResponseError 404 in Ollama’s words', async () => {
    await expect(ollama.generate({ model: 'ghost', prompt: 'x' })).rejects.toMatchObject({
      name: 'ResponseError',
      status_code: 404,
      error: 'model "ghost:latest" not found, try pulling it first',
    });
  });

  it('abort() of a running stream: AbortError, the node cancels, the slot and the lease are free within a second', async () => {
    for (const n of nodes) n.resetLog();
    const client = new Ollama({ host: herd.url });
    const stream = await client.chat({ model: 'llama3', messages: [{ role: 'user', content: 'a long story' }], stream: true, options: { num_predict: 100_000 } });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    const node = nodes.find((n) => n.active() === 1)!;
    expect(node).toBeDefined();
    expect(await herdInFlight()).toBe(1);
    const abortedAt = Date.now();
    client.abort();
    const drain = async (): Promise<void> => {
      for (;;) if ((await iterator.next()).done) return;
    };
    await expect(drain()).rejects.toMatchObject({ name: 'AbortError' });
    await waitFor(() => node.active() === 0, 1000, 'the node slot to be free');
    await waitFor(async () => (await herdInFlight()) === 0, 1000, "Herd's lease to be released");
    expect(Date.now() - abortedAt).toBeLessThan(1000);
    const entry = node.log.find((e) => e.route === '/api/chat')!;
    expect(entry.outcome).toBe('canceled');
    expect(entry.evalCount).toBeLessThan(100_000);
  });
});

describe('model admin', () => {
  it('pull, streamed: one merged progress stream from every node, then the model is listed and runs', async () => {
    const progress: (ProgressResponse & { node?: string })[] = [];
    for await (const p of await ollama.pull({ model: 'phi3', stream: true })) progress.push(p);
    const last = progress[progress.length - 1];
    expect(last).toEqual({ status: 'success' });
    const body = progress.slice(0, -1);
    expect(body.every((p) => p.status !== 'success')).toBe(true);
    expect(new Set(body.map((p) => p.node))).toEqual(new Set(['n1', 'n2', 'n3']));
    expect(body.filter((p) => p.node === 'n1').map((p) => p.status)).toContain('pulling manifest');
    expect(body.some((p) => typeof p.digest === 'string' && p.total > 0)).toBe(true);
    for (const n of nodes) expect(await tagNames(n)).toContain('phi3:latest');
    // Routable at once: no waiting for the next health poll.
    expect((await ollama.list()).models.map((m) => m.name)).toContain('phi3:latest');
    const r = await ollama.generate({ model: 'phi3', prompt: 'hi', options: { num_predict: 3 } });
    expect(r.eval_count).toBe(3);
    expect(r.response?.length).toBeGreaterThan(0);
  });

  it('pull, not streamed: one {status: "success"}', async () => {
    expect(await ollama.pull({ model: 'gemma3', stream: false })).toEqual({ status: 'success' });
    for (const n of nodes) expect(await tagNames(n)).toContain('gemma3:latest');
    expect((await ollama.list()).models.map((m) => m.name)).toContain('gemma3:latest');
  });

  it('pull the raw stream ends with exactly one success line; ?nodes= limits the nodes', async () => {
    const res = await fetch(`${herd.url}/api/pull?nodes=n2`, { method: 'POST', body: JSON.stringify({ model: 'qwen2.5:0.5b' }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    expect(res.headers.get('x-herd-node')).toBe('n2');
    const lines = ndjson(await res.text());
    expect(lines.filter((l) => l.status === 'success')).toEqual([{ status: 'success' }]);
    expect(lines[lines.length - 1]).toEqual({ status: 'success' });
    expect(lines.slice(0, -1).every((l) => l.node === 'n2')).toBe(true);
    expect(await tagNames(byName('n2'))).toContain('qwen2.5:0.5b');
    expect(await tagNames(byName('n1'))).not.toContain('qwen2.5:0.5b');
    const gen = await post(`${herd.url}/api/generate`, { model: 'qwen2.5:0.5b', prompt: 'x', stream: false, options: { num_predict: 2 } });
    expect(gen.status).toBe(200);
    expect(gen.headers.get('x-herd-node')).toBe('n2');
  });

  it('pull: bad input is a 400 {"error"}, never a 500', async () => {
    const unknownNode = await post(`${herd.url}/api/pull?nodes=n1,nope`, { model: 'phi3' });
    expect(unknownNode.status).toBe(400);
    expect(unknownNode.body).toEqual({ error: 'herd: no node named "nope"' });
    const noModel = await post(`${herd.url}/api/pull`, {});
    expect(noModel.status).toBe(400);
    expect(noModel.body).toEqual({ error: 'model is required' });
    const badStream = await post(`${herd.url}/api/pull`, { model: 'phi3', stream: 'yes' });
    expect(badStream.status).toBe(400);
    expect(Object.keys(badStream.body)).toEqual(['error']);
    const notJson = await post(`${herd.url}/api/pull`, '{"model":');
    expect(notJson.status).toBe(400);
  });

  it('pull with a failing node ends with one {"error": "node X: ..."} line and no success', async () => {
    byName('n2').setFault({ kind: 'error500', message: 'disk full' });
    try {
      // Named nodes: Herd's own polls take n2 out of rotation as soon as they see its 500s.
      const res = await fetch(`${herd.url}/api/pull?nodes=n1,n2,n3`, { method: 'POST', body: JSON.stringify({ model: 'mistral' }) });
      expect(res.status).toBe(200);
      const lines = ndjson(await res.text());
      expect(lines.some((l) => l.status === 'success')).toBe(false);
      expect(lines[lines.length - 1]).toEqual({ error: 'node n2: disk full' });
      expect(lines.filter((l) => 'error' in l)).toHaveLength(1);
      // The healthy nodes finished their pull (n2 answers nothing but 500 while the fault lasts).
      expect(await tagNames(byName('n1'))).toContain('mistral:latest');
      expect(await tagNames(byName('n3'))).toContain('mistral:latest');
      const named = new Ollama({ host: herd.url, fetch: (input, init) => fetch(`${input as string}?nodes=n1,n2`, init) });
      await expect(named.pull({ model: 'mistral', stream: false })).rejects.toMatchObject({ status_code: 500, error: 'node n2: disk full' });
      const client = async (): Promise<void> => {
        for await (const _ of await named.pull({ model: 'mistral', stream: true })) void _;
      };
      await expect(client()).rejects.toThrow('node n2: disk full');
    } finally {
      byName('n2').setFault(null);
    }
    expect(await tagNames(byName('n2'))).not.toContain('mistral:latest');
    // Herd's polls saw n2 answer 500 meanwhile; it is back in rotation at the next one.
    await waitFor(() => herd.core.fleet.isUp('n2'), 3000, 'n2 to be up again');
  });

  it('pull with a node that drops mid-stream ends with an error line naming it', async () => {
    byName('n3').setFault({ kind: 'drop', afterChunks: 2 });
    try {
      const res = await fetch(`${herd.url}/api/pull?nodes=n1,n3`, { method: 'POST', body: JSON.stringify({ model: 'llava' }) });
      const lines = ndjson(await res.text());
      expect(lines.filter((l) => l.node === 'n3').length).toBeGreaterThanOrEqual(1);
      expect(lines.some((l) => l.status === 'success')).toBe(false);
      expect(lines[lines.length - 1].error).toMatch(/^node n3: /);
    } finally {
      byName('n3').setFault(null);
    }
    await waitFor(() => herd.core.fleet.isUp('n3'), 3000, 'n3 to be up again');
  });

  it('copy: every node that has the source copies it', async () => {
    expect(await ollama.copy({ source: 'llama3', destination: 'llama3-backup' })).toEqual({ status: 'success' });
    for (const n of nodes) expect(await tagNames(n)).toContain('llama3-backup:latest');
    expect((await ollama.list()).models.map((m) => m.name)).toContain('llama3-backup:latest');
    // nomic-embed-text lives on n1 and n2 only
    await ollama.copy({ source: 'nomic-embed-text:latest', destination: 'embedder' });
    expect(served[served.length - 1].split(',').sort()).toEqual(['n1', 'n2']);
    expect(await tagNames(byName('n3'))).not.toContain('embedder:latest');
    await expect(ollama.copy({ source: 'ghost', destination: 'x' })).rejects.toMatchObject({ status_code: 404, error: 'model "ghost" not found' });
    const bad = await post(`${herd.url}/api/copy`, { source: 'llama3' });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'destination "" is invalid' });
  });

  it('delete: every node that has it deletes it; 404 when none has it', async () => {
    expect(await ollama.delete({ model: 'llama3-backup' })).toEqual({ status: 'success' });
    for (const n of nodes) expect(await tagNames(n)).not.toContain('llama3-backup:latest');
    expect((await ollama.list()).models.map((m) => m.name)).not.toContain('llama3-backup:latest');
    await expect(ollama.delete({ model: 'llama3-backup' })).rejects.toMatchObject({ status_code: 404, error: 'model "llama3-backup" not found' });
    const r = await post(`${herd.url}/api/generate`, { model: 'llama3-backup', prompt: 'x' });
    expect(r.status).toBe(404);
    const noModel = await fetch(`${herd.url}/api/delete`, { method: 'DELETE', body: '{}' });
    expect(noModel.status).toBe(400);
    expect(await noModel.json()).toEqual({ error: 'model is required' });
  });

  it('create from an existing model, not streamed: on one node, then routable there', async () => {
    expect(await ollama.create({ model: 'mario', from: 'llama3', system: 'You are Mario.', stream: false })).toEqual({ status: 'success' });
    expect(lastServed()).toBe('n1');
    expect(await tagNames(byName('n1'))).toContain('mario:latest');
    expect(await tagNames(byName('n2'))).not.toContain('mario:latest');
    const show = await ollama.show({ model: 'mario' });
    expect(show.system).toBe('You are Mario.');
    const r = await ollama.generate({ model: 'mario', prompt: 'Who are you?', options: { num_predict: 4 } });
    expect(r.eval_count).toBe(4);
    expect(lastServed()).toBe('n1');
  });

  it('blobs then create, streamed: the upload and the create meet on the same node', async () => {
    const data = Buffer.alloc(12 * 1024 * 1024, 'GGUF pretend weights '); // above the test's 10 MB JSON body limit
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const head1 = await fetch(`${herd.url}/api/blobs/${digest}`, { method: 'HEAD' });
    expect(head1.status).toBe(404);
    const wrong = await fetch(`${herd.url}/api/blobs/sha256:${'0'.repeat(64)}`, { method: 'POST', body: data });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: string }).error).toContain('digest mismatch');
    const upload = await fetch(`${herd.url}/api/blobs/${digest}`, { method: 'POST', body: data, headers: { 'content-type': 'application/octet-stream' } });
    expect(upload.status).toBe(201);
    expect(upload.headers.get('x-herd-node')).toBe('n1');
    expect((await fetch(`${herd.url}/api/blobs/${digest}`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${byName('n2').url}/api/blobs/${digest}`, { method: 'HEAD' })).status).toBe(404);
    expect((await fetch(`${herd.url}/api/blobs/not-a-digest`, { method: 'HEAD' })).status).toBe(400);

    const statuses: string[] = [];
    const request = { model: 'mine:v1', files: { 'model.gguf': digest }, stream: true } as CreateRequest & { files: Record<string, string>; stream: true };
    for await (const p of await ollama.create(request)) statuses.push(p.status);
    expect(statuses).toContain(`using existing layer ${digest}`);
    expect(statuses[statuses.length - 1]).toBe('success');
    expect(await tagNames(byName('n1'))).toContain('mine:v1');
    expect((await ollama.list()).models.map((m) => m.name)).toContain('mine:v1');
  });

  it('create that names a missing blob is the node’s 400', async () => {
    const r = await post(`${herd.url}/api/create`, { model: 'broken', files: { 'x.gguf': `sha256:${'1'.repeat(64)}` } });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: `blob "sha256:${'1'.repeat(64)}" not found` });
    const unknownNode = await post(`${herd.url}/api/create?node=nope`, { model: 'broken', from: 'llama3' });
    expect(unknownNode.status).toBe(400);
    expect(unknownNode.body).toEqual({ error: 'herd: no node named "nope"' });
  });

  it('?node= pins blobs and create to another node', async () => {
    const data = Buffer.from('adapter weights');
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const upload = await fetch(`${herd.url}/api/blobs/${digest}?node=n2`, { method: 'POST', body: data });
    expect(upload.status).toBe(201);
    expect(upload.headers.get('x-herd-node')).toBe('n2');
    expect((await fetch(`${herd.url}/api/blobs/${digest}?node=n2`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${herd.url}/api/blobs/${digest}`, { method: 'HEAD' })).status).toBe(404); // n1
    const res = await fetch(`${herd.url}/api/create?node=n2`, { method: 'POST', body: JSON.stringify({ model: 'tuned', from: 'llama3', adapters: { 'a.gguf': digest } }) });
    expect(res.headers.get('x-herd-node')).toBe('n2');
    const lines = ndjson(await res.text());
    expect(lines[lines.length - 1]).toEqual({ status: 'success' });
    expect(await tagNames(byName('n2'))).toContain('tuned:latest');
    expect(await tagNames(byName('n1'))).not.toContain('tuned:latest');
  });

  it('push: progress from a node that has the model', async () => {
    const statuses: string[] = [];
    for await (const p of await ollama.push({ model: 'mario', stream: true })) statuses.push(p.status);
    expect(statuses[0]).toBe('retrieving manifest');
    expect(statuses).toContain('starting upload');
    expect(statuses[statuses.length - 1]).toBe('success');
    expect(lastServed()).toBe('n1');
    await expect(ollama.push({ model: 'ghost', stream: false })).rejects.toMatchObject({ status_code: 404 });
  });
});

describe('with HERD_ADMIN_KEY set', () => {
  let guarded: RunningHerd;

  beforeAll(async () => {
    guarded = await startTestHerd({ redisUrl: redis.url, nodes: nodes.map((n) => nodeConfig(n.name, n.url)), adminKey: 'sesame' });
  });
  afterAll(async () => {
    await guarded.close(0);
  });

  it('model admin routes need the key; inference and listing do not', async () => {
    const anonymous = new Ollama({ host: guarded.url });
    await expect(anonymous.pull({ model: 'phi3', stream: false })).rejects.toMatchObject({ status_code: 401, error: expect.stringContaining('admin key') as unknown });
    await expect(anonymous.delete({ model: 'phi3' })).rejects.toMatchObject({ status_code: 401 });
    expect((await anonymous.list()).models.length).toBeGreaterThan(0);
    const admin = new Ollama({ host: guarded.url, headers: { Authorization: 'Bearer sesame' } });
    expect(await admin.pull({ model: 'phi3', stream: false })).toEqual({ status: 'success' });
  });
});

describe('blob uploads stream through', () => {
  let fake: Server;
  let viaFake: RunningHerd;
  let received = 0;

  beforeAll(async () => {
    // A node that only counts the bytes of a blob as they arrive.
    fake = createServer((req, res) => {
      const json = (value: unknown): void => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.url === '/api/tags') return json({ models: [] });
      if (req.url === '/api/ps') return json({ models: [] });
      if (req.url === '/api/version') return json({ version: '0.12.6' });
      req.on('data', (chunk: Buffer) => (received += chunk.length));
      req.on('end', () => {
        res.writeHead(201, { 'content-length': '0' });
        res.end();
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', () => r()));
    viaFake = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('fake', `http://127.0.0.1:${(fake.address() as AddressInfo).port}`)] });
  });
  afterAll(async () => {
    await viaFake.close(0);
    await new Promise((r) => fake.close(r));
  });

  it('the node sees the first part before the client has sent the rest', async () => {
    const part = Buffer.alloc(256 * 1024, 1);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 2) return controller.close();
        if (sent === 1) await waitFor(() => received >= part.length, 5000, 'the first part to reach the node'); // deadlocks if Herd buffered
        sent++;
        controller.enqueue(part);
      },
    });
    const res = await fetch(`${viaFake.url}/api/blobs/sha256:${'a'.repeat(64)}`, { method: 'POST', body, duplex: 'half' });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-herd-node')).toBe('fake');
    expect(received).toBe(2 * part.length);
  });
});
