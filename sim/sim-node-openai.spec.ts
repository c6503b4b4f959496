import { countChatTokens, startSimNode, type SimNode } from './index';
import { postJson, readSse } from './sim-client';

/** The OpenAI-compatible /v1 routes. */

let node: SimNode;

beforeAll(async () => {
  node = await startSimNode({
    name: 'v1',
    models: [{ name: 'llama3' }, { name: 'nomic-embed-text' }, { name: 'someone/custom:q4' }],
    resident: ['llama3'],
    timeScale: 0.01,
  });
});

afterAll(async () => {
  await node.close();
});

const messages = [{ role: 'user', content: 'Name three colours.' }];

describe('/v1/chat/completions', () => {
  it('answers a chat.completion with usage when not streaming (the default)', async () => {
    const res = await postJson(`${node.url}/v1/chat/completions`, { model: 'llama3', messages, max_tokens: 9 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({
      id: expect.stringMatching(/^chatcmpl-\d+$/),
      object: 'chat.completion',
      created: expect.any(Number),
      model: 'llama3',
      system_fingerprint: 'fp_ollama',
      choices: [{ index: 0, message: { role: 'assistant', content: expect.any(String) }, finish_reason: 'length' }],
      usage: { prompt_tokens: countChatTokens(['Name three colours.']), completion_tokens: 9, total_tokens: countChatTokens(['Name three colours.']) + 9 },
    });
    expect(Math.abs((body.created as number) - Date.now() / 1000)).toBeLessThan(5);
  });

  it('streams SSE chunks ending with a finish chunk and [DONE]; same text as the one-piece answer', async () => {
    const res = await postJson(`${node.url}/v1/chat/completions`, { model: 'llama3', messages, stream: true });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = await readSse(res);
    expect(events[events.length - 1]).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { object: string; choices: Array<{ delta: { content: string }; finish_reason: string | null }> });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    const finish = chunks[chunks.length - 1];
    expect(finish.choices[0].finish_reason).toBe('stop');
    expect(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
    const streamed = chunks.map((c) => c.choices[0].delta.content).join('');
    const whole = (await (await postJson(`${node.url}/v1/chat/completions`, { model: 'llama3', messages })).json()) as {
      choices: Array<{ message: { content: string } }>;
      usage: { completion_tokens: number };
    };
    expect(whole.choices[0].message.content).toBe(streamed);
    expect(whole.usage.completion_tokens).toBe(chunks.length - 1);
  });

  it('adds a usage chunk with stream_options.include_usage', async () => {
    const res = await postJson(`${node.url}/v1/chat/completions`, { model: 'llama3', messages, stream: true, max_tokens: 4, stream_options: { include_usage: true } });
    const events = await readSse(res);
    expect(events).toHaveLength(4 + 1 + 1 + 1);
    const usage = JSON.parse(events[events.length - 2]) as { choices: unknown[]; usage: { completion_tokens: number } };
    expect(usage.choices).toEqual([]);
    expect(usage.usage.completion_tokens).toBe(4);
  });

  it('uses OpenAI-shaped errors', async () => {
    const missing = await postJson(`${node.url}/v1/chat/completions`, { model: 'gpt-9', messages });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: { message: 'model "gpt-9" not found, try pulling it first', type: 'not_found_error', param: null, code: null },
    });
    const noModel = await postJson(`${node.url}/v1/chat/completions`, { messages });
    expect(noModel.status).toBe(400);
    expect(await noModel.json()).toEqual({ error: { message: 'model is required', type: 'invalid_request_error', param: null, code: null } });
    const malformed = await postJson(`${node.url}/v1/chat/completions`, '{nope');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });

  it('accepts content given as text parts', async () => {
    const res = await postJson(`${node.url}/v1/chat/completions`, {
      model: 'llama3',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Name three colours.' }] }],
      max_tokens: 2,
    });
    const body = (await res.json()) as { usage: { prompt_tokens: number } };
    expect(body.usage.prompt_tokens).toBe(countChatTokens(['Name three colours.']));
  });
});

describe('/v1/completions', () => {
  it('answers text_completion in one piece and as a stream', async () => {
    const one = (await (await postJson(`${node.url}/v1/completions`, { model: 'llama3', prompt: 'Once upon a time', max_tokens: 6 })).json()) as {
      object: string;
      id: string;
      choices: Array<{ text: string; finish_reason: string }>;
      usage: { completion_tokens: number };
    };
    expect(one.object).toBe('text_completion');
    expect(one.id).toMatch(/^cmpl-/);
    expect(one.choices[0].finish_reason).toBe('length');
    expect(one.usage.completion_tokens).toBe(6);
    const events = await readSse(await postJson(`${node.url}/v1/completions`, { model: 'llama3', prompt: 'Once upon a time', max_tokens: 6, stream: true }));
    expect(events[events.length - 1]).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { choices: Array<{ text: string; finish_reason: string | null }> });
    expect(chunks).toHaveLength(7);
    expect(chunks.map((c) => c.choices[0].text).join('')).toBe(one.choices[0].text);
    expect(chunks[6].choices[0].finish_reason).toBe('length');
  });
});

describe('/v1/embeddings', () => {
  it('answers a list of embeddings with usage, as floats or base64', async () => {
    const res = await postJson(`${node.url}/v1/embeddings`, { model: 'nomic-embed-text', input: ['a', 'b c'] });
    const body = (await res.json()) as { object: string; model: string; data: Array<{ object: string; embedding: number[]; index: number }>; usage: Record<string, number> };
    expect(body.object).toBe('list');
    expect(body.model).toBe('nomic-embed-text');
    expect(body.data.map((d) => [d.object, d.index, d.embedding.length])).toEqual([
      ['embedding', 0, 768],
      ['embedding', 1, 768],
    ]);
    expect(body.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    const b64 = (await (await postJson(`${node.url}/v1/embeddings`, { model: 'nomic-embed-text', input: 'a', encoding_format: 'base64' })).json()) as {
      data: Array<{ embedding: string }>;
    };
    const floats = new Float32Array(Buffer.from(b64.data[0].embedding, 'base64').buffer.slice(0));
    expect(floats).toHaveLength(768);
    expect(floats[0]).toBeCloseTo(body.data[0].embedding[0], 6);
    const bad = await postJson(`${node.url}/v1/embeddings`, { model: 'nomic-embed-text' });
    expect(bad.status).toBe(400);
  });
});

describe('/v1/models', () => {
  it('lists and retrieves models', async () => {
    const list = (await (await fetch(`${node.url}/v1/models`)).json()) as { object: string; data: Array<Record<string, unknown>> };
    expect(list.object).toBe('list');
    expect(list.data).toContainEqual({ id: 'llama3:latest', object: 'model', created: expect.any(Number), owned_by: 'library' });
    expect(list.data).toContainEqual(expect.objectContaining({ id: 'someone/custom:q4', owned_by: 'someone' }));
    const one = (await (await fetch(`${node.url}/v1/models/llama3`)).json()) as Record<string, unknown>;
    expect(one).toEqual({ id: 'llama3', object: 'model', created: expect.any(Number), owned_by: 'library' });
    const nested = await fetch(`${node.url}/v1/models/someone/custom:q4`);
    expect(nested.status).toBe(200);
    const missing = await fetch(`${node.url}/v1/models/ghost`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { type: string } }).error.type).toBe('not_found_error');
  });
});
