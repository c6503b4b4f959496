import { createHash } from 'node:crypto';
import { startSimNode, type SimNode } from './index';
import { postJson, readNdjson } from './sim-client';

/** pull / delete / copy / blobs / create / push. */

let node: SimNode;
let other: SimNode;

beforeEach(async () => {
  [node, other] = await Promise.all([
    startSimNode({ name: 'admin', models: [{ name: 'llama3' }], resident: ['llama3'], loadMs: 1000, timeScale: 0.01 }),
    startSimNode({ name: 'other', models: [{ name: 'llama3' }], timeScale: 0.01 }),
  ]);
});

afterEach(async () => {
  await Promise.all([node.close(), other.close()]);
});

const tagNames = async (n: SimNode): Promise<string[]> =>
  ((await (await fetch(`${n.url}/api/tags`)).json()) as { models: Array<{ name: string }> }).models.map((m) => m.name);

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

describe('pull', () => {
  it('streams progress ending in success, after which the model exists and runs', async () => {
    const res = await postJson(`${node.url}/api/pull`, { model: 'qwen2.5:7b' });
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = await readNdjson(res);
    const statuses = lines.map((l) => l.status as string);
    expect(statuses[0]).toBe('pulling manifest');
    expect(statuses.slice(-3)).toEqual(['verifying sha256 digest', 'writing manifest', 'success']);
    const downloads = lines.filter((l) => typeof l.digest === 'string');
    expect(downloads.length).toBeGreaterThanOrEqual(3);
    for (const d of downloads) {
      expect(d.status).toMatch(/^pulling [0-9a-f]{12}$/);
      expect(d.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(d.completed as number).toBeLessThanOrEqual(d.total as number);
    }
    expect(await tagNames(node)).toContain('qwen2.5:7b');
    const gen = await postJson(`${node.url}/api/generate`, { model: 'qwen2.5:7b', prompt: 'hi', stream: false, options: { num_predict: 1 } });
    expect(((await gen.json()) as { load_duration: number }).load_duration).toBeGreaterThan(0);
  });

  it('answers a single {status:success} with stream:false; 400 without a model', async () => {
    const res = await postJson(`${node.url}/api/pull`, { model: 'phi3', stream: false });
    expect(await res.json()).toEqual({ status: 'success' });
    expect(await tagNames(node)).toContain('phi3:latest');
    const bad = await postJson(`${node.url}/api/pull`, {});
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'model is required' });
  });

  it('adds nothing when the client gives up half way', async () => {
    const ac = new AbortController();
    const res = await postJson(`${node.url}/api/pull`, { model: 'gemma3' }, { signal: ac.signal });
    const reader = res.body?.getReader();
    await reader?.read();
    ac.abort();
    await reader?.cancel().catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await tagNames(node)).not.toContain('gemma3:latest');
    expect(node.log[0]).toMatchObject({ route: '/api/pull', outcome: 'canceled' });
  });
});

describe('delete and copy', () => {
  it('deletes a model (200, empty body) and unloads it; 404 when unknown', async () => {
    const res = await fetch(`${node.url}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: 'llama3' }) });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(await tagNames(node)).toEqual([]);
    const ps = (await (await fetch(`${node.url}/api/ps`)).json()) as { models: unknown[] };
    expect(ps.models).toEqual([]);
    const again = await fetch(`${node.url}/api/delete`, { method: 'DELETE', body: JSON.stringify({ model: 'llama3' }) });
    expect(again.status).toBe(404);
    expect(await again.json()).toEqual({ error: "model 'llama3' not found" });
  });

  it('copies a model under a new name with the same digest; 404 for an unknown source', async () => {
    const res = await postJson(`${node.url}/api/copy`, { source: 'llama3', destination: 'llama3-backup' });
    expect(res.status).toBe(200);
    const tags = (await (await fetch(`${node.url}/api/tags`)).json()) as { models: Array<{ name: string; digest: string }> };
    const copy = tags.models.find((m) => m.name === 'llama3-backup:latest');
    const original = tags.models.find((m) => m.name === 'llama3:latest');
    expect(copy?.digest).toBe(original?.digest);
    const missing = await postJson(`${node.url}/api/copy`, { source: 'ghost', destination: 'x' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'model "ghost" not found' });
  });
});

describe('blobs and create', () => {
  const data = Buffer.from('GGUF pretend weights');
  const digest = `sha256:${sha(data)}`;

  it('HEAD 404 -> POST with a wrong digest 400 -> POST 201 -> HEAD 200', async () => {
    expect((await fetch(`${node.url}/api/blobs/${digest}`, { method: 'HEAD' })).status).toBe(404);
    const wrong = await fetch(`${node.url}/api/blobs/sha256:${sha('other')}`, { method: 'POST', body: data });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: string }).error).toContain('digest mismatch');
    const created = await fetch(`${node.url}/api/blobs/${digest}`, { method: 'POST', body: data });
    expect(created.status).toBe(201);
    expect((await fetch(`${node.url}/api/blobs/${digest}`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${other.url}/api/blobs/${digest}`, { method: 'HEAD' })).status).toBe(404);
    expect((await fetch(`${node.url}/api/blobs/not-a-digest`, { method: 'HEAD' })).status).toBe(400);
  });

  it('creates a model from an uploaded blob on the same node only', async () => {
    await (await fetch(`${node.url}/api/blobs/${digest}`, { method: 'POST', body: data })).arrayBuffer();
    const body = { model: 'mine:v1', files: { 'model.gguf': digest }, system: 'Be brief.' };
    const res = await postJson(`${node.url}/api/create`, body);
    const lines = await readNdjson(res);
    expect(lines[lines.length - 1]).toEqual({ status: 'success' });
    expect(lines.map((l) => l.status)).toContain(`using existing layer ${digest}`);
    expect(await tagNames(node)).toContain('mine:v1');
    const show = (await (await postJson(`${node.url}/api/show`, { model: 'mine:v1' })).json()) as { system: string };
    expect(show.system).toBe('Be brief.');
    const elsewhere = await postJson(`${other.url}/api/create`, body);
    expect(elsewhere.status).toBe(400);
    expect(await elsewhere.json()).toEqual({ error: `blob "${digest}" not found` });
    expect(await tagNames(other)).not.toContain('mine:v1');
  });

  it('creates a model from an existing one, and refuses a create with neither from nor files', async () => {
    const res = await postJson(`${node.url}/api/create`, { model: 'mario', from: 'llama3', system: 'You are Mario.', stream: false });
    expect(await res.json()).toEqual({ status: 'success' });
    const tags = (await (await fetch(`${node.url}/api/tags`)).json()) as { models: Array<{ name: string; details: { family: string; parent_model: string } }> };
    const mario = tags.models.find((m) => m.name === 'mario:latest');
    expect(mario?.details.family).toBe('llama');
    expect(mario?.details.parent_model).toBe('llama3:latest');
    const neither = await postJson(`${node.url}/api/create`, { model: 'empty' });
    expect(neither.status).toBe(400);
  });
});

describe('push', () => {
  it('streams progress ending in success; 404 for an unknown model', async () => {
    const lines = await readNdjson(await postJson(`${node.url}/api/push`, { model: 'llama3' }));
    expect(lines[0]).toEqual({ status: 'retrieving manifest' });
    expect(lines[lines.length - 1]).toEqual({ status: 'success' });
    expect(lines.some((l) => l.status === 'starting upload')).toBe(true);
    const missing = await postJson(`${node.url}/api/push`, { model: 'ghost' });
    expect(missing.status).toBe(404);
  });
});
