import OpenAI from 'openai';
import { startSimNode, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, startTestHerd } from './support/herd';
import { startRedis } from './support/redis';

/** The official `openai` npm client, with `baseURL` at Herd's /v1, over a simulated fleet of two nodes. */

jest.setTimeout(30_000);

let redis: EmbeddedRedis;
let nodes: SimNode[];
let herd: RunningHerd;
let openai: OpenAI;

const NODE_NAMES = ['o1', 'o2'];

beforeAll(async () => {
  redis = await startRedis();
  nodes = await Promise.all(
    NODE_NAMES.map((name) => startSimNode({ name, models: [{ name: 'llama3' }, { name: 'nomic-embed-text' }], resident: ['llama3'], slots: 2, timeScale: 0.01 })),
  );
  herd = await startTestHerd({ redisUrl: redis.url, nodes: nodes.map((n) => nodeConfig(n.name, n.url, { slots: 2 })) });
  openai = new OpenAI({ baseURL: `${herd.url}/v1`, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await herd.close(0);
  await Promise.all(nodes.map((n) => n.close()));
  await redis.stop();
});

describe('chat completions', () => {
  it('not streamed', async () => {
    const { data, response } = await openai.chat.completions
      .create({ model: 'llama3', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Why is the sky blue?' }], max_tokens: 9 })
      .withResponse();
    expect(NODE_NAMES).toContain(response.headers.get('x-herd-node'));
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(data.object).toBe('chat.completion');
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0].message.role).toBe('assistant');
    expect(data.choices[0].message.content?.length).toBeGreaterThan(0);
    expect(data.choices[0].finish_reason).toBe('length');
    expect(data.usage?.completion_tokens).toBe(9);
    expect(data.usage?.prompt_tokens).toBeGreaterThan(0);
  });

  it('streamed, with usage', async () => {
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'llama3', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 6, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    expect(NODE_NAMES).toContain(response.headers.get('x-herd-node'));
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    let text = '';
    let contentChunks = 0;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      const delta = chunk.choices[0]?.delta?.content ?? '';
      if (delta) contentChunks++;
      text += delta;
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(contentChunks).toBe(6);
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('length');
    expect(usage?.completion_tokens).toBe(6);
  });
});

describe('completions', () => {
  it('not streamed', async () => {
    const { data, response } = await openai.completions.create({ model: 'llama3', prompt: 'Once upon a time', max_tokens: 5 }).withResponse();
    expect(NODE_NAMES).toContain(response.headers.get('x-herd-node'));
    expect(data.object).toBe('text_completion');
    expect(data.choices[0].text.length).toBeGreaterThan(0);
    expect(data.usage?.completion_tokens).toBe(5);
  });

  it('streamed', async () => {
    const stream = await openai.completions.create({ model: 'llama3', prompt: 'Once upon a time', max_tokens: 4, stream: true });
    const pieces: string[] = [];
    for await (const chunk of stream) if (chunk.choices[0]?.text) pieces.push(chunk.choices[0].text);
    expect(pieces).toHaveLength(4);
  });
});

describe('embeddings', () => {
  it('one input and several', async () => {
    const { data: one, response } = await openai.embeddings.create({ model: 'nomic-embed-text', input: 'hello', encoding_format: 'float' }).withResponse();
    expect(NODE_NAMES).toContain(response.headers.get('x-herd-node'));
    expect(one.object).toBe('list');
    expect(one.data).toHaveLength(1);
    expect(one.data[0].embedding).toHaveLength(768);
    const many = await openai.embeddings.create({ model: 'nomic-embed-text', input: ['a', 'b', 'c'], encoding_format: 'float' });
    expect(many.data.map((d) => d.index)).toEqual([0, 1, 2]);
    for (const d of many.data) expect(d.embedding).toHaveLength(768);
  });

  it('the default base64 encoding decodes to the same vector length', async () => {
    const r = await openai.embeddings.create({ model: 'nomic-embed-text', input: 'hello' });
    expect(r.data[0].embedding).toHaveLength(768);
  });
});

describe('models', () => {
  it('lists the fleet’s models', async () => {
    const page = await openai.models.list();
    const ids = page.data.map((m) => m.id).sort();
    expect(ids).toEqual(['llama3:latest', 'nomic-embed-text:latest']);
    for (const m of page.data) {
      expect(m.object).toBe('model');
      expect(m.created).toBeGreaterThan(0);
      expect(typeof m.owned_by).toBe('string');
    }
  });

  it('retrieves one model, untagged names included', async () => {
    expect(await openai.models.retrieve('llama3')).toMatchObject({ id: 'llama3:latest', object: 'model' });
    expect(await openai.models.retrieve('nomic-embed-text:latest')).toMatchObject({ id: 'nomic-embed-text:latest' });
  });
});

describe('errors', () => {
  it('an unknown model is a NotFoundError (404) naming the model', async () => {
    const err = (await openai.chat.completions.create({ model: 'ghost', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.status).toBe(404);
    expect(err.message).toContain('ghost');
    expect(err.error).toMatchObject({ message: expect.stringContaining('ghost') as unknown, type: 'invalid_request_error' });
    const missing = await openai.models.retrieve('ghost').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((missing as InstanceType<typeof OpenAI.APIError>).message).toContain('ghost');
  });

  it('a bad request is a BadRequestError (400)', async () => {
    const err = await openai.chat.completions.create({ model: 'llama3', messages: 'hi' as unknown as [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.APIError>).message).toContain('messages must be an array');
  });
});
