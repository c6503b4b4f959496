import { createHash } from 'node:crypto';
import { BUSY_MESSAGE, countChatTokens, countTokens, startSimNode, type SimNode } from './index';
import { postJson, readNdjson } from './sim-client';

/** Shapes and contents of the native Ollama API. */

let node: SimNode;

beforeAll(async () => {
  node = await startSimNode({
    name: 'api',
    models: [
      { name: 'llama3' },
      { name: 'qwen2.5:7b' },
      { name: 'nomic-embed-text' },
      { name: 'tiny-embed:v1', family: 'bert', embeddingDims: 16 },
    ],
    resident: ['llama3'],
    timeScale: 0.01,
    version: '0.12.6',
  });
});

afterAll(async () => {
  await node.close();
});

const gen = (body: Record<string, unknown>, headers?: Record<string, string>): Promise<Response> =>
  postJson(`${node.url}/api/generate`, body, { headers });

describe('metadata routes', () => {
  it('answers / and /api/version, GET and HEAD', async () => {
    const root = await fetch(`${node.url}/`);
    expect(root.status).toBe(200);
    expect(await root.text()).toBe('Ollama is running');
    const head = await fetch(`${node.url}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const version = await fetch(`${node.url}/api/version`);
    expect(version.headers.get('content-type')).toContain('application/json');
    expect(await version.json()).toEqual({ version: '0.12.6' });
    expect((await fetch(`${node.url}/api/version`, { method: 'HEAD' })).status).toBe(200);
  });

  it('lists models in /api/tags with Ollama fields and a sha256-of-name digest', async () => {
    const res = await fetch(`${node.url}/api/tags`);
    const body = (await res.json()) as { models: Array<Record<string, unknown>> };
    expect(body.models.map((m) => m.name)).toEqual(['llama3:latest', 'qwen2.5:7b', 'nomic-embed-text:latest', 'tiny-embed:v1']);
    const llama = body.models[0];
    expect(llama).toEqual({
      name: 'llama3:latest',
      model: 'llama3:latest',
      modified_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      size: 4_661_224_676,
      digest: createHash('sha256').update('llama3:latest').digest('hex'),
      details: {
        parent_model: '',
        format: 'gguf',
        family: 'llama',
        families: ['llama'],
        parameter_size: '8.0B',
        quantization_level: 'Q4_0',
      },
    });
    expect((body.models[1].details as Record<string, unknown>).family).toBe('qwen2');
    expect((await fetch(`${node.url}/api/tags`, { method: 'HEAD' })).status).toBe(200);
  });

  it('shows only resident models in /api/ps, with expires_at and size_vram', async () => {
    const body = (await (await fetch(`${node.url}/api/ps`)).json()) as { models: Array<Record<string, unknown>> };
    expect(body.models.map((m) => m.name)).toEqual(['llama3:latest']);
    const [m] = body.models;
    expect(m.size_vram).toBe(m.size);
    expect(m.digest).toHaveLength(64);
    expect(new Date(m.expires_at as string).getTime()).toBeGreaterThan(Date.now());
    expect((m.details as Record<string, unknown>).format).toBe('gguf');
  });

  it('answers /api/show, 404 for an unknown model and 400 without one', async () => {
    const res = await postJson(`${node.url}/api/show`, { model: 'llama3' });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(Object.keys(body)).toEqual(expect.arrayContaining(['modelfile', 'parameters', 'template', 'details', 'model_info', 'capabilities']));
    expect(body.capabilities).toEqual(['completion']);
    expect((body.model_info as Record<string, unknown>)['general.architecture']).toBe('llama');
    const embed = (await (await postJson(`${node.url}/api/show`, { model: 'nomic-embed-text' })).json()) as Record<string, unknown>;
    expect(embed.capabilities).toEqual(['embedding']);
    const missing = await postJson(`${node.url}/api/show`, { model: 'nope' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "model 'nope' not found" });
    const noModel = await postJson(`${node.url}/api/show`, {});
    expect(noModel.status).toBe(400);
    expect(await noModel.json()).toEqual({ error: 'model is required' });
  });
});

describe('/api/generate', () => {
  it('answers in one piece with stream:false; eval_count equals num_predict; durations in ns', async () => {
    const prompt = 'Why is the sky blue?';
    const res = await gen({ model: 'llama3', prompt, stream: false, options: { num_predict: 12 } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ model: 'llama3', done: true, done_reason: 'length', eval_count: 12, prompt_eval_count: countTokens(prompt) });
    expect(typeof body.response).toBe('string');
    expect((body.response as string).length).toBeGreaterThan(12);
    expect(body.context).toHaveLength(countTokens(prompt) + 12);
    for (const field of ['total_duration', 'prompt_eval_duration', 'eval_duration']) {
      expect(Number.isInteger(body[field])).toBe(true);
      expect(body[field] as number).toBeGreaterThan(0);
    }
    expect(body.load_duration).toBe(0); // resident
    // 12 tokens at 30 tok/s scaled by 0.01: ~4 ms, i.e. ~4e6 ns (nanoseconds, not ms or s)
    expect(body.eval_duration as number).toBeGreaterThan(3e6);
    expect(body.eval_duration as number).toBeLessThan(2e8);
    expect(body.total_duration as number).toBeGreaterThanOrEqual((body.eval_duration as number) + (body.prompt_eval_duration as number));
  });

  it('streams NDJSON by default: one token per line, then a done line with timings; same text as stream:false', async () => {
    const prompt = 'Tell me about load balancing';
    const res = await gen({ model: 'llama3', prompt });
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = await readNdjson(res);
    const last = lines[lines.length - 1];
    const tokens = lines.slice(0, -1);
    expect(tokens.length).toBeGreaterThan(0);
    for (const line of tokens) {
      expect(line).toEqual({ model: 'llama3', created_at: expect.any(String), response: expect.any(String), done: false });
    }
    expect(last).toMatchObject({ done: true, done_reason: 'stop', response: '', eval_count: tokens.length });
    expect(last).toHaveProperty('context');
    const text = tokens.map((l) => l.response as string).join('');
    const whole = (await (await gen({ model: 'llama3', prompt, stream: false })).json()) as Record<string, unknown>;
    expect(whole.response).toBe(text);
    expect(whole.eval_count).toBe(tokens.length);
  });

  it('draws a reproducible output length per prompt that varies between prompts', async () => {
    const lengths: number[] = [];
    for (let i = 0; i < 12; i++) {
      const body = (await (await gen({ model: 'llama3', prompt: `question ${i}`, stream: false })).json()) as Record<string, unknown>;
      lengths.push(body.eval_count as number);
    }
    const again = (await (await gen({ model: 'llama3', prompt: 'question 3', stream: false })).json()) as Record<string, unknown>;
    expect(again.eval_count).toBe(lengths[3]);
    expect(new Set(lengths).size).toBeGreaterThan(6);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(1024);
  });

  it('omits context in raw mode', async () => {
    const body = (await (await gen({ model: 'llama3', prompt: 'raw text', raw: true, stream: false, options: { num_predict: 2 } })).json()) as Record<string, unknown>;
    expect(body).not.toHaveProperty('context');
    expect(body.eval_count).toBe(2);
  });
});

describe('/api/chat', () => {
  const messages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'What is a GPU?' },
  ];

  it('streams message chunks and a done chunk; counts every message for prompt_eval_count', async () => {
    const res = await postJson(`${node.url}/api/chat`, { model: 'llama3:latest', messages, options: { num_predict: 5 } });
    const lines = await readNdjson(res);
    expect(lines).toHaveLength(6);
    expect(lines[0]).toEqual({ model: 'llama3:latest', created_at: expect.any(String), message: { role: 'assistant', content: expect.any(String) }, done: false });
    expect(lines[5]).toMatchObject({
      message: { role: 'assistant', content: '' },
      done: true,
      done_reason: 'length',
      eval_count: 5,
      prompt_eval_count: countChatTokens(messages.map((m) => m.content)),
    });
    expect(lines[5]).not.toHaveProperty('context');
  });

  it('answers in one piece with stream:false', async () => {
    const res = await postJson(`${node.url}/api/chat`, { model: 'llama3', messages, stream: false, options: { num_predict: 7 } });
    const body = (await res.json()) as { message: { role: string; content: string }; eval_count: number; done: boolean };
    expect(body.done).toBe(true);
    expect(body.message.role).toBe('assistant');
    expect(body.message.content.split(/[ ,.]+/).filter(Boolean).length).toBeGreaterThanOrEqual(4);
    expect(body.eval_count).toBe(7);
  });

  it('refuses chat and generate on an embedding-only model', async () => {
    const chat = await postJson(`${node.url}/api/chat`, { model: 'nomic-embed-text:latest', messages });
    expect(chat.status).toBe(400);
    expect(await chat.json()).toEqual({ error: '"nomic-embed-text:latest" does not support chat' });
    const generate = await gen({ model: 'nomic-embed-text', prompt: 'x' });
    expect(await generate.json()).toEqual({ error: '"nomic-embed-text" does not support generate' });
  });
});

describe('embeddings', () => {
  const norm = (v: number[]): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

  it('/api/embed returns deterministic unit vectors, one per input', async () => {
    const res = await postJson(`${node.url}/api/embed`, { model: 'nomic-embed-text', input: ['alpha', 'beta', 'alpha'] });
    const body = (await res.json()) as { model: string; embeddings: number[][]; prompt_eval_count: number; total_duration: number; load_duration: number };
    expect(body.model).toBe('nomic-embed-text');
    expect(body.embeddings).toHaveLength(3);
    expect(body.embeddings[0]).toHaveLength(768);
    expect(norm(body.embeddings[0])).toBeCloseTo(1, 5);
    expect(body.embeddings[2]).toEqual(body.embeddings[0]);
    expect(body.embeddings[1]).not.toEqual(body.embeddings[0]);
    expect(body.prompt_eval_count).toBe(3);
    expect(body.total_duration).toBeGreaterThan(0);
    const single = (await (await postJson(`${node.url}/api/embed`, { model: 'nomic-embed-text', input: 'alpha' })).json()) as { embeddings: number[][] };
    expect(single.embeddings).toEqual([body.embeddings[0]]);
  });

  it('honours dimensions and a model embeddingDims; /api/embeddings answers {embedding}', async () => {
    const cut = (await (await postJson(`${node.url}/api/embed`, { model: 'nomic-embed-text', input: 'x', dimensions: 64 })).json()) as { embeddings: number[][] };
    expect(cut.embeddings[0]).toHaveLength(64);
    expect(norm(cut.embeddings[0])).toBeCloseTo(1, 5);
    const legacy = await postJson(`${node.url}/api/embeddings`, { model: 'tiny-embed:v1', prompt: 'hello' });
    const body = (await legacy.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['embedding']);
    expect(body.embedding).toHaveLength(16);
  });

  it('takes a slot and logs the prompt tokens', async () => {
    node.resetLog();
    await (await postJson(`${node.url}/api/embed`, { model: 'nomic-embed-text', input: ['one two three'] })).arrayBuffer();
    const [entry] = node.log.filter((e) => e.route === '/api/embed');
    expect(entry).toMatchObject({ outcome: 'ok', model: 'nomic-embed-text:latest', promptTokens: countTokens('one two three'), activeAtStart: 1 });
    expect(entry.startedAt).toBeDefined();
  });
});

describe('errors', () => {
  it('400 model is required, as JSON', async () => {
    const res = await gen({ prompt: 'hi' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual({ error: 'model is required' });
  });

  it('400 for malformed JSON, an empty body and wrong field types', async () => {
    const bad = await postJson(`${node.url}/api/chat`, '{"model": "llama3", ');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe('unexpected EOF');
    const garbage = await postJson(`${node.url}/api/generate`, 'hello');
    expect(await garbage.json()).toEqual({ error: "invalid character 'h' looking for beginning of value" });
    const empty = await postJson(`${node.url}/api/generate`, '');
    expect(await empty.json()).toEqual({ error: 'missing request body' });
    const typed = await gen({ model: 42, prompt: 'x' });
    expect(typed.status).toBe(400);
    expect(await typed.json()).toEqual({ error: 'json: cannot unmarshal number into Go struct field GenerateRequest.model of type string' });
    const keepAlive = await gen({ model: 'llama3', prompt: 'x', keep_alive: 'soon' });
    expect(await keepAlive.json()).toEqual({ error: 'time: invalid duration "soon"' });
  });

  it('404 with Ollama wording for an unknown model, logged as not_found', async () => {
    node.resetLog();
    const res = await gen({ model: 'mystery', prompt: 'hi' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'model "mystery" not found, try pulling it first' });
    expect(node.log).toEqual([expect.objectContaining({ route: '/api/generate', model: 'mystery:latest', outcome: 'not_found' })]);
  });

  it('404 for unknown routes, 405 for a wrong method', async () => {
    const res = await fetch(`${node.url}/api/nothing`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: '404 page not found' });
    const wrong = await fetch(`${node.url}/api/generate`);
    expect(wrong.status).toBe(405);
  });

  it('keeps the busy message exact', () => {
    expect(BUSY_MESSAGE).toBe('server busy, please try again.  maximum pending requests exceeded');
  });
});

describe('load, unload and keep_alive', () => {
  const psNames = async (): Promise<string[]> =>
    ((await (await fetch(`${node.url}/api/ps`)).json()) as { models: Array<{ name: string }> }).models.map((m) => m.name);

  it('an empty prompt loads the model (done_reason load); keep_alive 0 unloads it (done_reason unload)', async () => {
    expect(await psNames()).not.toContain('qwen2.5:7b');
    const load = (await (await gen({ model: 'qwen2.5:7b' })).json()) as Record<string, unknown>;
    expect(load).toMatchObject({ model: 'qwen2.5:7b', response: '', done: true, done_reason: 'load' });
    expect(await psNames()).toContain('qwen2.5:7b');
    const unload = (await (await postJson(`${node.url}/api/chat`, { model: 'qwen2.5:7b', messages: [], keep_alive: 0 })).json()) as Record<string, unknown>;
    expect(unload).toMatchObject({ message: { role: 'assistant', content: '' }, done: true, done_reason: 'unload' });
    expect(await psNames()).not.toContain('qwen2.5:7b');
  });

  it('expires a model when its keep_alive runs out, and keeps it forever with a negative one', async () => {
    await (await gen({ model: 'qwen2.5:7b', prompt: 'hi', stream: false, keep_alive: '60ms', options: { num_predict: 1 } })).arrayBuffer();
    expect(await psNames()).toContain('qwen2.5:7b');
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await psNames()).not.toContain('qwen2.5:7b');
    await (await gen({ model: 'qwen2.5:7b', keep_alive: -1 })).arrayBuffer();
    const ps = (await (await fetch(`${node.url}/api/ps`)).json()) as { models: Array<{ name: string; expires_at: string }> };
    const qwen = ps.models.find((m) => m.name === 'qwen2.5:7b');
    expect(new Date(qwen?.expires_at ?? 0).getUTCFullYear()).toBeGreaterThan(2300);
    await (await gen({ model: 'qwen2.5:7b', keep_alive: '0s' })).arrayBuffer();
  });

  it('unloads after the request when a prompt comes with keep_alive 0', async () => {
    await (await gen({ model: 'qwen2.5:7b', prompt: 'hi', stream: false, keep_alive: 0, options: { num_predict: 1 } })).arrayBuffer();
    expect(await psNames()).not.toContain('qwen2.5:7b');
  });
});

describe('request log', () => {
  it('records every request with its priority header, tokens and timestamps', async () => {
    node.resetLog();
    await (await gen({ model: 'llama3', prompt: 'a b c', stream: false, options: { num_predict: 3 } }, { 'X-Herd-Priority': 'high' })).arrayBuffer();
    await (await fetch(`${node.url}/api/tags`)).arrayBuffer();
    expect(node.log).toHaveLength(2);
    const [entry, tags] = node.log;
    expect(entry).toMatchObject({ node: 'api', route: '/api/generate', model: 'llama3:latest', outcome: 'ok', evalCount: 3, promptTokens: countTokens('a b c'), priorityHeader: 'high', activeAtStart: 1 });
    expect(entry.receivedAt).toBeLessThanOrEqual(entry.startedAt ?? 0);
    expect(entry.startedAt ?? 0).toBeLessThanOrEqual(entry.firstByteAt ?? 0);
    expect(entry.firstByteAt ?? 0).toBeLessThanOrEqual(entry.endedAt ?? 0);
    expect(tags).toMatchObject({ route: '/api/tags', model: '', outcome: 'ok' });
    expect(entry.id).toBeLessThan(tags.id);
    const overHttp = (await (await fetch(`${node.url}/_sim/log`)).json()) as unknown[];
    expect(overHttp).toHaveLength(2);
  });
});
