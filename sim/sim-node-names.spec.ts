import { postJson, readNdjson, readSse, startSimNode, type SimNode } from './index';

/** Model names: mixed case kept in listings, echoed as sent, matched case-insensitively unless the node says otherwise. */

const HF = 'hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M';
const HF_LOWER = HF.toLowerCase();

let loose: SimNode | undefined;
let strict: SimNode | undefined;

beforeAll(async () => {
  const models = [{ name: HF }, { name: 'tinyllama' }];
  loose = await startSimNode({ name: 'loose', models, timeScale: 0 });
  strict = await startSimNode({ name: 'strict', models, timeScale: 0, caseSensitiveNames: true });
});

afterAll(async () => {
  await Promise.all([loose?.close(), strict?.close()]);
});

const generate = (node: SimNode | undefined, model: string, extra: Record<string, unknown> = {}): Promise<Response> =>
  postJson(`${node!.url}/api/generate`, { model, prompt: 'hi', stream: false, options: { num_predict: 2 }, ...extra });

describe('a Hugging Face model with a mixed-case name', () => {
  it('is listed as pulled, case kept, with its catalog figures', async () => {
    const tags = (await (await fetch(`${loose!.url}/api/tags`)).json()) as { models: { name: string; model: string; size: number; details: Record<string, unknown> }[] };
    const hf = tags.models.find((m) => m.name === HF);
    expect(hf).toMatchObject({ model: HF, size: 807_694_464, details: { family: 'llama', parameter_size: '1.2B', quantization_level: 'Q4_K_M' } });
    expect(tags.models.map((m) => m.name)).toContain('tinyllama:latest');
  });
});

describe('caseSensitiveNames', () => {
  it('finds a model only under its exact spelling (the tag still defaults to latest), where a default node takes any case', async () => {
    const res = await generate(loose, HF_LOWER);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe(HF_LOWER);
    expect(loose!.log[loose!.log.length - 1]).toMatchObject({ route: '/api/generate', model: HF_LOWER, outcome: 'ok' });
    expect((await postJson(`${loose!.url}/api/show`, { model: 'TINYLLAMA' })).status).toBe(200);

    expect((await generate(strict, HF)).status).toBe(200);
    expect((await generate(strict, 'tinyllama')).status).toBe(200);
    const wrong = await generate(strict, HF_LOWER);
    expect(wrong.status).toBe(404);
    expect(await wrong.json()).toEqual({ error: `model "${HF_LOWER}" not found, try pulling it first` });
    expect((await generate(strict, 'TinyLlama')).status).toBe(404);
  });

  it('applies to streams, chat, the OpenAI routes, show and delete', async () => {
    const stream = await postJson(`${strict!.url}/api/generate`, { model: HF, prompt: 'hi', options: { num_predict: 2 } });
    expect((await readNdjson(stream)).every((chunk) => chunk.model === HF)).toBe(true);
    expect((await postJson(`${strict!.url}/api/chat`, { model: HF_LOWER, messages: [{ role: 'user', content: 'hi' }] })).status).toBe(404);
    const sse = await postJson(`${strict!.url}/v1/chat/completions`, { model: HF, stream: true, max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] });
    expect((await readSse(sse)).filter((d) => d !== '[DONE]').every((d) => (JSON.parse(d) as { model: string }).model === HF)).toBe(true);
    expect((await postJson(`${strict!.url}/v1/chat/completions`, { model: HF_LOWER, messages: [{ role: 'user', content: 'hi' }] })).status).toBe(404);
    expect((await postJson(`${strict!.url}/api/show`, { model: HF_LOWER })).status).toBe(404);
    const del = await fetch(`${strict!.url}/api/delete`, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'TINYLLAMA' }) });
    expect(del.status).toBe(404);
    const tags = (await (await fetch(`${strict!.url}/api/tags`)).json()) as { models: { name: string }[] };
    expect(tags.models.map((m) => m.name)).toContain('tinyllama:latest');
  });

  it('must be a boolean', async () => {
    await expect(startSimNode({ name: 'x', models: [{ name: 'a' }], caseSensitiveNames: 'yes' as unknown as boolean })).rejects.toThrow(/caseSensitiveNames: must be true or false/);
  });
});
