import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { startSimNode, type SimNode } from './index';
import { waitFor } from './sim-client';

/** The official clients must not notice they talk to a simulator. */

let node: SimNode;

beforeAll(async () => {
  node = await startSimNode({
    name: 'clients',
    models: [{ name: 'llama3' }, { name: 'nomic-embed-text' }],
    resident: ['llama3'],
    slots: 2,
    timeScale: 0.01,
  });
});

afterAll(async () => {
  await node.close();
});

describe('ollama npm client', () => {
  it('lists, shows, reports running models and the version', async () => {
    const ollama = new Ollama({ host: node.url });
    const list = await ollama.list();
    expect(list.models.map((m) => m.name)).toEqual(['llama3:latest', 'nomic-embed-text:latest']);
    const show = await ollama.show({ model: 'llama3' });
    expect(show.details.family).toBe('llama');
    const ps = await ollama.ps();
    expect(ps.models.map((m) => m.name)).toEqual(['llama3:latest']);
    // typed as Date by the client, but it is the raw JSON string
    expect(Date.parse(String(ps.models[0].expires_at))).toBeGreaterThan(Date.now());
    expect((await ollama.version()).version).toBe('0.12.6');
  });

  it('streams generate and chat to a done part', async () => {
    const ollama = new Ollama({ host: node.url });
    let text = '';
    let final: { done: boolean; eval_count: number } | undefined;
    for await (const part of await ollama.generate({ model: 'llama3', prompt: 'Hi', stream: true, options: { num_predict: 8 } })) {
      text += part.response;
      if (part.done) final = part;
    }
    expect(final?.eval_count).toBe(8);
    expect(text.length).toBeGreaterThan(8);
    const chat = await ollama.chat({ model: 'llama3', messages: [{ role: 'user', content: 'Hi' }], options: { num_predict: 3 } });
    expect(chat.message.role).toBe('assistant');
    expect(chat.eval_count).toBe(3);
  });

  it('embeds, pulls with progress, and throws ResponseError on unknown models', async () => {
    const ollama = new Ollama({ host: node.url });
    const embed = await ollama.embed({ model: 'nomic-embed-text', input: ['x', 'y'] });
    expect(embed.embeddings).toHaveLength(2);
    const statuses: string[] = [];
    for await (const progress of await ollama.pull({ model: 'phi3', stream: true })) statuses.push(progress.status);
    expect(statuses[statuses.length - 1]).toBe('success');
    await expect(ollama.generate({ model: 'ghost', prompt: 'x' })).rejects.toMatchObject({
      name: 'ResponseError',
      status_code: 404,
      error: 'model "ghost" not found, try pulling it first',
    });
  });

  it('abort() of the client cancels its streams on the node', async () => {
    node.resetLog();
    const ollama = new Ollama({ host: node.url });
    const stream = await ollama.chat({ model: 'llama3', messages: [{ role: 'user', content: 'long' }], stream: true, options: { num_predict: 100_000 } });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    ollama.abort();
    const drain = async (): Promise<number> => {
      let parts = 0;
      for (;;) {
        const { done } = await iterator.next(); // chunks already buffered still arrive, then it throws
        if (done) return parts;
        parts++;
      }
    };
    await expect(drain()).rejects.toThrow();
    await waitFor(() => node.log[0]?.outcome === 'canceled', 1000, 'canceled on the node');
    await waitFor(() => node.active() === 0, 1000, 'slot freed');
  });
});

describe('openai npm client', () => {
  const client = (): OpenAI => new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'ollama', maxRetries: 0 });

  it('creates chat completions, streamed and not', async () => {
    const openai = client();
    const one = await openai.chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5 });
    expect(one.choices[0].message.content?.length).toBeGreaterThan(0);
    expect(one.usage?.completion_tokens).toBe(5);
    const stream = await openai.chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(one.choices[0].message.content);
    expect(finish).toBe('length');
  });

  it('lists models, embeds, and raises NotFoundError', async () => {
    const openai = client();
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toContain('llama3:latest');
    const emb = await openai.embeddings.create({ model: 'nomic-embed-text', input: 'hello', encoding_format: 'float' });
    expect(emb.data[0].embedding).toHaveLength(768);
    await expect(openai.chat.completions.create({ model: 'ghost', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});
