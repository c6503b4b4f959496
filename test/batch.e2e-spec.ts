import OpenAI, { toFile } from 'openai';
import { startSimNode, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, post, startTestHerd, waitFor, type TestOverrides } from './support/herd';
import { startRedis, uniquePrefix } from './support/redis';
import { startRedisCluster, type RedisClusterHandle } from './support/redis-cluster';

/**
 * The Batch API through the official `openai` client, and /herd/jobs, against a real Redis and simulated nodes:
 * upload → create → poll → download, cancel mid-batch, refusals of malformed input, and jobs end to end.
 */

jest.setTimeout(60_000);

const MAX_LINES = 40;
const MAX_FILE_BYTES = 64 * 1024;

let redis: EmbeddedRedis;
let nodes: SimNode[];
let herd: RunningHerd;
let openai: OpenAI;

async function startFleet(names: string[], slots: number, timeScale: number): Promise<SimNode[]> {
  return Promise.all(names.map((name) => startSimNode({ name, models: [{ name: 'llama3' }, { name: 'nomic-embed-text' }], resident: ['llama3', 'nomic-embed-text'], slots, timeScale })));
}

function herdOn(fleet: SimNode[], slots: number, extra: Partial<TestOverrides> = {}): Promise<RunningHerd> {
  return startTestHerd({ redisUrl: redis.url, nodes: fleet.map((n) => nodeConfig(n.name, n.url, { slots })), batchMaxLines: MAX_LINES, batchMaxFileBytes: MAX_FILE_BYTES, ...extra });
}

beforeAll(async () => {
  redis = await startRedis();
  nodes = await startFleet(['b1', 'b2', 'b3'], 2, 0.1);
  herd = await herdOn(nodes, 2);
  openai = new OpenAI({ baseURL: `${herd.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await herd.close(0);
  await Promise.all(nodes.map((n) => n.close()));
  await redis.stop();
});

interface OutLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: Record<string, unknown> } | null;
  error: { code: string; message: string } | null;
}

function chatLines(n: number, maxTokens: number, prefix = 'req'): string {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({ custom_id: `${prefix}-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'llama3', messages: [{ role: 'user', content: `Question number ${i}?` }], max_tokens: maxTokens } }),
  ).join('\n');
}

async function upload(client: OpenAI, content: string | Buffer, name = 'batch.jsonl'): Promise<OpenAI.FileObject> {
  return client.files.create({ file: await toFile(Buffer.from(content), name), purpose: 'batch' });
}

async function until(client: OpenAI, id: string, done: (b: OpenAI.Batch) => boolean, timeoutMs = 30_000): Promise<OpenAI.Batch> {
  let batch = await client.batches.retrieve(id);
  const deadline = Date.now() + timeoutMs;
  while (!done(batch)) {
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.status} (${JSON.stringify(batch.request_counts)})`);
    await new Promise((r) => setTimeout(r, 100));
    batch = await client.batches.retrieve(id);
  }
  return batch;
}

async function fileLines(client: OpenAI, id: string | null | undefined): Promise<OutLine[]> {
  if (!id) return [];
  const text = await (await client.files.content(id)).text();
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as OutLine);
}

const terminal = (b: OpenAI.Batch): boolean => ['completed', 'failed', 'cancelled', 'expired'].includes(b.status);

describe('Batch API with the openai client', () => {
  it('uploads, runs and downloads a batch: every custom_id exactly once, in input order, answered by the nodes', async () => {
    const file = await upload(openai, `${chatLines(30, 8)}\n`);
    expect(file).toMatchObject({ object: 'file', purpose: 'batch', filename: 'batch.jsonl', status: 'processed' });
    expect((await openai.files.retrieve(file.id)).bytes).toBe(file.bytes);

    const created = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { run: 'happy' } });
    expect(created).toMatchObject({ object: 'batch', endpoint: '/v1/chat/completions', input_file_id: file.id, completion_window: '24h', metadata: { run: 'happy' } });
    expect(created.request_counts?.total).toBe(30);
    expect(['in_progress', 'finalizing', 'completed']).toContain(created.status);

    const done = await until(openai, created.id, terminal);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 30, completed: 30, failed: 0 });
    for (const t of ['created_at', 'in_progress_at', 'finalizing_at', 'completed_at', 'expires_at'] as const) expect(done[t]).toEqual(expect.any(Number));
    expect(done.completed_at!).toBeGreaterThanOrEqual(done.created_at);
    expect(done.error_file_id).toBeNull();

    const out = await fileLines(openai, done.output_file_id);
    expect(out.map((l) => l.custom_id)).toEqual(Array.from({ length: 30 }, (_, i) => `req-${i}`));
    expect(new Set(out.map((l) => l.id)).size).toBe(30);
    for (const line of out) {
      expect(line.id).toMatch(/^batch_req_/);
      expect(line.error).toBeNull();
      expect(line.response?.status_code).toBe(200);
      const body = line.response!.body as { object: string; choices: { message: { content: string } }[] };
      expect(body.object).toBe('chat.completion');
      expect(body.choices[0].message.content.length).toBeGreaterThan(0);
    }
    const served = nodes.flatMap((n) => n.log.filter((e) => e.route === '/v1/chat/completions' && e.outcome === 'ok'));
    expect(served.length).toBeGreaterThanOrEqual(30);

    const outputFile = await openai.files.retrieve(done.output_file_id!);
    expect(outputFile.purpose).toBe('batch_output');

    const listed = await openai.batches.list({ limit: 100 });
    expect(listed.data.map((b) => b.id)).toContain(created.id);

    expect(await openai.files.delete(file.id)).toEqual({ id: file.id, object: 'file', deleted: true });
    await expect(openai.files.retrieve(file.id)).rejects.toMatchObject({ status: 404 });
  });

  it('runs an embeddings batch, and lists batches page by page', async () => {
    const lines = Array.from({ length: 5 }, (_, i) => JSON.stringify({ custom_id: `e${i}`, method: 'POST', url: '/v1/embeddings', body: { model: 'nomic-embed-text', input: `text ${i}` } })).join('\n');
    const file = await upload(openai, lines);
    const created = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/embeddings', completion_window: '24h' });
    const done = await until(openai, created.id, terminal);
    expect(done.request_counts).toEqual({ total: 5, completed: 5, failed: 0 });
    const out = await fileLines(openai, done.output_file_id);
    expect(out.map((l) => l.custom_id)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    expect((out[0].response!.body as { data: { embedding: number[] }[] }).data[0].embedding.length).toBeGreaterThan(0);

    const first = await openai.batches.list({ limit: 1 });
    expect(first.data).toHaveLength(1);
    expect(first.data[0].id).toBe(created.id); // newest first
    expect(first.has_more).toBe(true);
    const next = await openai.batches.list({ limit: 1, after: created.id });
    expect(next.data).toHaveLength(1);
    expect(next.data[0].id).not.toBe(created.id);
  });

  it('cancels mid-batch: running lines finish, nothing new starts, the partial files agree with request_counts', async () => {
    const file = await upload(openai, chatLines(30, 60, 'slow'));
    const created = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await until(openai, created.id, (b) => (b.request_counts?.completed ?? 0) >= 3);
    const cancelling = await openai.batches.cancel(created.id);
    expect(['cancelling', 'cancelled']).toContain(cancelling.status);
    const done = await until(openai, created.id, terminal);
    expect(done.status).toBe('cancelled');
    expect(done.cancelling_at).toEqual(expect.any(Number));
    expect(done.cancelled_at).toEqual(expect.any(Number));
    const out = await fileLines(openai, done.output_file_id);
    const errs = await fileLines(openai, done.error_file_id);
    const ids = [...out, ...errs].map((l) => l.custom_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(done.request_counts?.total).toBe(30);
    expect(done.request_counts?.completed).toBe(out.length);
    expect(done.request_counts?.failed).toBe(errs.length);
    expect(out.length).toBeGreaterThanOrEqual(3);
    expect(out.length + errs.length).toBeLessThan(30);
    // Nothing starts after the cancel settled, and a second cancel answers the batch as it is.
    const chats = (): number => nodes.reduce((n, node) => n + node.log.filter((e) => e.route === '/v1/chat/completions').length, 0);
    const served = chats();
    await new Promise((r) => setTimeout(r, 500));
    expect(chats()).toBe(served);
    expect((await openai.batches.cancel(created.id)).status).toBe('cancelled');
    expect((await openai.batches.retrieve(created.id)).request_counts).toEqual(done.request_counts);
  });

  it('expires a batch whose completion window passes: finished lines in the output, the rest batch_expired', async () => {
    const file = await upload(openai, chatLines(30, 60, 'late'));
    const created = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '1s' as '24h' });
    const done = await until(openai, created.id, terminal);
    expect(done.status).toBe('expired');
    expect(done.expired_at).toEqual(expect.any(Number));
    const out = await fileLines(openai, done.output_file_id);
    const errs = await fileLines(openai, done.error_file_id);
    expect([...out, ...errs].map((l) => l.custom_id).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `late-${i}`).sort());
    expect(errs.length).toBeGreaterThan(0);
    expect(errs.every((l) => l.response === null && l.error?.code === 'batch_expired')).toBe(true);
    expect(done.request_counts).toEqual({ total: 30, completed: out.length, failed: errs.length });
  });
});

describe('Batch API refusals', () => {
  const valid = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    custom_id: id,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'llama3', messages: [{ role: 'user', content: 'hi' }] },
    ...extra,
  });
  const jsonl = (...lines: unknown[]): string => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');

  it.each([
    ['a line that is not JSON', jsonl(valid('a'), '{"custom_id": "b", "method": ', valid('c')), /line 2: not valid JSON/],
    ['a duplicate custom_id', jsonl(valid('a'), valid('b'), valid('a')), /line 3: custom_id "a" was already used on line 1/],
    ['a url other than the endpoint', jsonl(valid('a'), valid('b', { url: '/v1/embeddings' })), /line 2: url must be the batch's endpoint/],
    ['a method other than POST', jsonl(valid('a', { method: 'GET' })), /line 1: method must be "POST"/],
    ['a model no node has', jsonl(valid('a'), valid('b', { body: { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] } })), /line 2: model "no-such-model" not found/],
    ['a body the route refuses', jsonl(valid('a', { body: { model: 'llama3' } })), /line 1: body: .*messages/],
    ['a body with wrong types', jsonl(valid('a', { body: { model: 42, messages: 'x' } })), /line 1: body:/],
    ['a prototype key', jsonl('{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"llama3","messages":[],"__proto__":{"x":1}}}'), /line 1: .*__proto__/],
    ['a missing custom_id', jsonl(valid('a', { custom_id: 7 })), /line 1: custom_id must be a string/],
    ['an array line', jsonl('[1,2,3]'), /line 1: must be a JSON object/],
    ['deep nesting', jsonl(valid('a', { body: { model: 'llama3', messages: [], options: JSON.parse('['.repeat(100) + ']'.repeat(100)) as unknown } })), /line 1: the line nests deeper/],
    ['no request at all', '\n\n', /has no requests/],
    ['more lines than HERD_BATCH_MAX_LINES', chatLines(MAX_LINES + 1, 4), /more than 40/],
  ])('refuses %s with a 400 in OpenAI’s shape naming the line', async (_name, content, message) => {
    const file = await openai.files.create({ file: await toFile(Buffer.from(content), 'bad.jsonl'), purpose: 'batch' }).catch((err: { status: number; message: string }) => err);
    let err: { status: number; message: string; error?: { type: string } };
    if ('id' in file) err = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }).then(() => ({ status: 200, message: 'accepted' }), (e: { status: number; message: string; error: { type: string } }) => e);
    else err = file;
    expect(err.status).toBe(400);
    expect(err.message).toMatch(message);
  });

  it('accepts a __proto__ custom_id as a plain string and runs it', async () => {
    const file = await upload(openai, jsonl(valid('__proto__'), valid('constructor')));
    const created = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const done = await until(openai, created.id, terminal);
    expect((await fileLines(openai, done.output_file_id)).map((l) => l.custom_id)).toEqual(['__proto__', 'constructor']);
  });

  it('refuses bad files at upload: too large, not UTF-8, no file, not multipart, wrong purpose', async () => {
    await expect(upload(openai, 'x'.repeat(MAX_FILE_BYTES + 1))).rejects.toMatchObject({ status: 413 });
    await expect(upload(openai, Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3]))).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/UTF-8/) });
    await expect(openai.files.create({ file: await toFile(Buffer.from('{}'), 'a.jsonl'), purpose: 'fine-tune' })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/purpose/) });
    const json = await post(`${herd.url}/v1/files`, { purpose: 'batch' });
    expect(json.status).toBe(400);
    expect(json.body.error).toMatchObject({ type: 'invalid_request_error', message: expect.stringMatching(/multipart/) });
    const form = new FormData();
    form.append('purpose', 'batch');
    const noFile = await fetch(`${herd.url}/v1/files`, { method: 'POST', body: form });
    expect(noFile.status).toBe(400);
    const garbled = await fetch(`${herd.url}/v1/files`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=XYZ' }, body: Buffer.from([0, 1, 2, 255, 13, 10]) });
    expect(garbled.status).toBe(400);
    expect(((await garbled.json()) as { error: { message: string } }).error.message).toMatch(/multipart form/);
  });

  it('refuses bad batch parameters and unknown ids', async () => {
    const file = await upload(openai, jsonl(valid('a')));
    const create = (body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => post(`${herd.url}/v1/batches`, body);
    for (const [body, message] of [
      [{ input_file_id: file.id, endpoint: '/v1/responses', completion_window: '24h' }, /endpoint must be one of/],
      [{ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '48h' }, /completion_window/],
      [{ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { k: 5 } }, /metadata/],
      [{ endpoint: '/v1/chat/completions', completion_window: '24h' }, /input_file_id is required/],
      ['[]', /JSON object/],
    ] as const) {
      const r = await create(body);
      expect(r.status).toBe(400);
      expect((r.body.error as { message: string }).message).toMatch(message);
    }
    expect((await create({ input_file_id: 'file-000000000000000000000000', endpoint: '/v1/chat/completions', completion_window: '24h' })).status).toBe(404);
    await expect(openai.batches.retrieve('batch_000000000000000000000000')).rejects.toMatchObject({ status: 404 });
    await expect(openai.batches.retrieve('../../etc/passwd')).rejects.toMatchObject({ status: 404 });
    await expect(openai.files.content('file-nope')).rejects.toMatchObject({ status: 404 });
  });
});

describe('async jobs (/herd/jobs)', () => {
  const chat = { model: 'llama3', messages: [{ role: 'user', content: 'hello' }], stream: false, options: { num_predict: 5 } };

  async function job(h: RunningHerd, id: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${h.url}/herd/jobs/${id}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('runs a job: 202 {id, status}, then the node’s answer', async () => {
    const r = await post(`${herd.url}/herd/jobs`, { route: '/api/chat', body: chat, priority: 2 });
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ id: expect.stringMatching(/^job_/), status: 'queued' });
    const id = r.body.id as string;
    await waitFor(async () => (await job(herd, id)).body.status === 'completed', 10_000, 'job completed');
    const done = (await job(herd, id)).body as { result: { status_code: number; body: { message: { content: string }; done: boolean } }; priority: number };
    expect(done.priority).toBe(2);
    expect(done.result.status_code).toBe(200);
    expect(done.result.body.done).toBe(true);
    expect(done.result.body.message.content.length).toBeGreaterThan(0);
  });

  it('refuses an unknown route, a bad body or priority with 400 and an unknown model with 404, in Ollama’s shape', async () => {
    for (const body of [
      { route: '/api/tags', body: {} },
      { route: '/api/chat', body: { model: 42, messages: 'x' } },
      { route: '/api/chat', body: chat, priority: 0 },
      { route: '/api/chat', body: chat, priority: '1' },
      { route: '/api/chat', body: 'x' },
      { body: chat },
      [1],
    ]) {
      const r = await post(`${herd.url}/herd/jobs`, body);
      expect(r.status).toBe(400);
      expect(typeof r.body.error).toBe('string');
    }
    const unknown = await post(`${herd.url}/herd/jobs`, { route: '/api/chat', body: { ...chat, model: 'no-such-model' } });
    expect(unknown.status).toBe(404);
    expect((await job(herd, 'job_000000000000000000000000')).status).toBe(404);
  });

  it('cancels a running job (the node sees the request aborted) and a finished job stays as it was', async () => {
    const r = await post(`${herd.url}/herd/jobs`, { route: '/api/generate', body: { model: 'llama3', prompt: 'long', stream: false, options: { num_predict: 5000 } } });
    const id = r.body.id as string;
    await waitFor(async () => (await job(herd, id)).body.status === 'running', 5000, 'job running');
    await waitFor(() => nodes.some((n) => n.active() > 0), 5000, 'job on a node');
    const canceled = await fetch(`${herd.url}/herd/jobs/${id}`, { method: 'DELETE' });
    expect(canceled.status).toBe(200);
    expect(((await canceled.json()) as { status: string }).status).toBe('canceled');
    await waitFor(() => nodes.some((n) => n.log.some((e) => e.route === '/api/generate' && e.outcome === 'canceled')), 5000, 'node saw the cancel');
    expect((await job(herd, id)).body.status).toBe('canceled');
  });

  describe('on a one-slot fleet with a short result TTL', () => {
    let slowNodes: SimNode[];
    let small: RunningHerd;

    beforeAll(async () => {
      slowNodes = await startFleet(['j1'], 1, 0.2);
      small = await herdOn(slowNodes, 1, { jobResultTtlMs: 1500 });
    });
    afterAll(async () => {
      await small.close(0);
      await Promise.all(slowNodes.map((n) => n.close()));
    });

    it('a queued job canceled never runs; results expire after HERD_JOB_RESULT_TTL_MS', async () => {
      const long = { model: 'llama3', prompt: 'p', stream: false, options: { num_predict: 40 } };
      // The jobs lane takes two per slot: the third waits in Herd's work queue.
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await post(`${small.url}/herd/jobs`, { route: '/api/generate', body: { ...long, prompt: `p${i}` } })).body.id as string);
      expect((await job(small, ids[2])).body.status).toBe('queued');
      const canceled = await fetch(`${small.url}/herd/jobs/${ids[2]}`, { method: 'DELETE' });
      expect(((await canceled.json()) as { status: string }).status).toBe('canceled');
      await waitFor(async () => (await job(small, ids[1])).body.status === 'completed', 15_000, 'second job done');
      expect((await job(small, ids[0])).body.status).toBe('completed');
      const canceledView = (await job(small, ids[2])).body;
      expect(canceledView).toMatchObject({ status: 'canceled', started_at: null });
      expect(slowNodes[0].log.filter((e) => e.route === '/api/generate')).toHaveLength(2);
      await new Promise((r) => setTimeout(r, 1800));
      expect((await job(small, ids[0])).status).toBe(404);
      expect((await job(small, ids[2])).status).toBe(404);
    });
  });
});

describe('tenants with HERD_AUTH=keys', () => {
  const ADMIN_KEY = 'batch-admin-key-0123456789';
  let keyed: RunningHerd;

  beforeAll(async () => {
    keyed = await herdOn(nodes, 2, { auth: 'keys', adminKey: ADMIN_KEY });
  });
  afterAll(async () => {
    await keyed.close(0);
  });

  async function newKey(tenant: string, models?: string[]): Promise<string> {
    const r = await post(`${keyed.url}/herd/keys`, { tenant, ...(models ? { models } : {}) }, { authorization: `Bearer ${ADMIN_KEY}` });
    expect(r.status).toBe(201);
    return r.body.key as string;
  }

  it('needs a key, runs the batch as its tenant, and hides batches, files and jobs from other tenants', async () => {
    const a = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: await newKey('team-a'), maxRetries: 0 });
    const b = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: await newKey('team-b'), maxRetries: 0 });
    const embedOnly = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: await newKey('team-a', ['nomic-embed-text']), maxRetries: 0 });
    const anonymous = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'not-a-key', maxRetries: 0 });
    await expect(upload(anonymous, chatLines(2, 4))).rejects.toMatchObject({ status: 401 });

    const file = await upload(a, chatLines(4, 4));
    await expect(b.files.retrieve(file.id)).rejects.toMatchObject({ status: 404 });
    await expect(b.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({ status: 404 });
    await expect(embedOnly.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({ status: 403 });

    const created = await a.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await expect(b.batches.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
    await expect(b.batches.cancel(created.id)).rejects.toMatchObject({ status: 404 });
    expect((await b.batches.list()).data.map((x) => x.id)).not.toContain(created.id);
    const done = await until(a, created.id, terminal);
    expect(done.request_counts).toEqual({ total: 4, completed: 4, failed: 0 });
    await expect(b.files.content(done.output_file_id!)).rejects.toMatchObject({ status: 404 });
    expect(await fileLines(a, done.output_file_id)).toHaveLength(4);

    const jobRes = await post(`${keyed.url}/herd/jobs`, { route: '/api/chat', body: { model: 'llama3', messages: [{ role: 'user', content: 'x' }], stream: false } }, { authorization: `Bearer ${a.apiKey}` });
    expect(jobRes.status).toBe(202);
    const jobId = jobRes.body.id as string;
    expect((await post(`${keyed.url}/herd/jobs`, { route: '/api/chat', body: { model: 'llama3', messages: [] } })).status).toBe(401);
    const asB = await fetch(`${keyed.url}/herd/jobs/${jobId}`, { headers: { authorization: `Bearer ${b.apiKey}` } });
    expect(asB.status).toBe(404);
    const asA = await fetch(`${keyed.url}/herd/jobs/${jobId}`, { headers: { authorization: `Bearer ${a.apiKey}` } });
    expect(asA.status).toBe(200);
  });
});

describe('on a Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  let onCluster: RunningHerd;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    onCluster = await startTestHerd({ redisClusterNodes: cluster.nodes, redisPrefix: uniquePrefix('batch-cluster'), nodes: nodes.map((n) => nodeConfig(n.name, n.url, { slots: 2 })) });
  });
  afterAll(async () => {
    await onCluster?.close(0);
    await cluster?.stop();
  });

  it('runs a batch and a job: every script touches one slot', async () => {
    const client = new OpenAI({ baseURL: `${onCluster.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const file = await upload(client, chatLines(6, 4, 'cl'));
    const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const done = await until(client, created.id, terminal);
    expect(done.request_counts).toEqual({ total: 6, completed: 6, failed: 0 });
    expect((await fileLines(client, done.output_file_id)).map((l) => l.custom_id)).toEqual(Array.from({ length: 6 }, (_, i) => `cl-${i}`));
    const submitted = await post(`${onCluster.url}/herd/jobs`, { route: '/api/generate', body: { model: 'llama3', prompt: 'x', stream: false, options: { num_predict: 3 } } });
    expect(submitted.status).toBe(202);
    await waitFor(async () => ((await (await fetch(`${onCluster.url}/herd/jobs/${submitted.body.id as string}`)).json()) as { status: string }).status === 'completed', 10_000, 'job done');
  });
});
