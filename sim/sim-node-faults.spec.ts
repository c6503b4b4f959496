import { BUSY_MESSAGE, startSimNode, type SimFault, type SimNode } from './index';
import { fetchSimLog, postJson, readNdjson, setFaultOverHttp, waitFor } from './sim-client';

/** Every fault kind, through setFault() and through the /_sim control routes. */

let node: SimNode;

beforeEach(async () => {
  node = await startSimNode({ name: 'faulty', models: [{ name: 'llama3' }], resident: ['llama3'], slots: 2, decodeTps: 100, timeScale: 0.05 });
});

afterEach(async () => {
  await node.close();
});

const generate = (body: Record<string, unknown>, signal?: AbortSignal): Promise<Response> =>
  postJson(`${node.url}/api/generate`, { model: 'llama3', ...body }, { signal });

/** Reads NDJSON lines from a stream until it ends or breaks; reports which. */
async function readUntilBroken(res: Response): Promise<{ lines: Array<Record<string, unknown>>; broken: boolean }> {
  const reader = res.body?.getReader();
  if (!reader) throw new Error('no body');
  const decoder = new TextDecoder();
  let text = '';
  let broken = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    broken = true;
  }
  const lines = text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { lines, broken };
}

describe('down', () => {
  it('resets every connection, including a running stream, until cleared; /_sim keeps working', async () => {
    const streaming = await generate({ prompt: 'long', options: { num_predict: 5000 } });
    const reading = readUntilBroken(streaming);
    await waitFor(() => node.log[0]?.evalCount > 0, 1000, 'first tokens');
    node.setFault({ kind: 'down' });
    const { lines, broken } = await reading;
    expect(broken).toBe(true);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((l) => l.done === true)).toBe(false);
    await expect(fetch(`${node.url}/api/tags`)).rejects.toThrow();
    const state = (await (await fetch(`${node.url}/_sim/state`)).json()) as Record<string, unknown>;
    expect(state.fault).toEqual({ kind: 'down' });
    await waitFor(() => node.active() === 0, 1000, 'slot freed');
    expect(node.log[0].outcome).toBe('fault');
    expect(node.log[1]).toMatchObject({ route: '/api/tags', outcome: 'fault' });
    node.setFault(null);
    expect((await fetch(`${node.url}/api/tags`)).status).toBe(200);
  });

  it('can be set and cleared over HTTP', async () => {
    await setFaultOverHttp(node.url, { kind: 'down' });
    await expect(fetch(`${node.url}/api/version`)).rejects.toThrow();
    await setFaultOverHttp(node.url, null);
    expect(await (await fetch(`${node.url}/api/version`)).json()).toEqual({ version: '0.12.6' });
  });

  it('stop() closes the port and cuts streams; start() listens again on the same port with state kept', async () => {
    const { url, port } = node;
    await (await generate({ prompt: 'before', stream: false, options: { num_predict: 2 } })).arrayBuffer();
    const streaming = await generate({ prompt: 'long', options: { num_predict: 5000 } });
    const reading = readUntilBroken(streaming);
    await waitFor(() => node.log[1]?.evalCount > 0, 1000, 'first tokens');
    await node.stop();
    expect((await reading).broken).toBe(true);
    await expect(fetch(`${url}/api/tags`)).rejects.toThrow();
    expect(node.log[1].outcome).toBe('fault');
    expect(node.active()).toBe(0);
    await node.start();
    expect(node.port).toBe(port);
    expect(node.url).toBe(url);
    const ps = (await (await fetch(`${url}/api/ps`)).json()) as { models: Array<{ name: string }> };
    expect(ps.models.map((m) => m.name)).toEqual(['llama3:latest']);
    expect(node.log[0]).toMatchObject({ outcome: 'ok', evalCount: 2 });
  });
});

describe('error500', () => {
  it('answers 500 with {"error": message} on native and OpenAI-shaped routes', async () => {
    node.setFault({ kind: 'error500', message: 'GPU on fire' });
    const res = await generate({ prompt: 'x' });
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual({ error: 'GPU on fire' });
    const v1 = await postJson(`${node.url}/v1/chat/completions`, { model: 'llama3', messages: [{ role: 'user', content: 'x' }] });
    expect(v1.status).toBe(500);
    expect(await v1.json()).toEqual({ error: { message: 'GPU on fire', type: 'api_error', param: null, code: null } });
    node.setFault({ kind: 'error500' });
    const plain = (await (await fetch(`${node.url}/api/tags`)).json()) as { error: string };
    expect(plain.error.length).toBeGreaterThan(0);
    expect(node.log.every((e) => e.outcome === 'fault')).toBe(true);
  });

  it('set while streaming: ends the stream with an error line and no done line', async () => {
    const res = await generate({ prompt: 'long', options: { num_predict: 5000 } });
    const reading = readNdjson(res);
    await waitFor(() => node.log[0]?.evalCount > 3, 1000, 'some tokens');
    node.setFault({ kind: 'error500', message: 'runner crashed' });
    const lines = await reading;
    expect(res.status).toBe(200);
    expect(lines[lines.length - 1]).toEqual({ error: 'runner crashed' });
    expect(lines.some((l) => l.done === true)).toBe(false);
    expect(lines.length).toBeGreaterThan(2);
    await waitFor(() => node.active() === 0, 1000, 'slot freed');
    expect(node.log[0].outcome).toBe('fault');
  });
});

describe('hang', () => {
  it('accepts requests and never answers until the fault is cleared', async () => {
    node.setFault({ kind: 'hang' });
    let answered = false;
    const pending = generate({ prompt: 'x', stream: false, options: { num_predict: 3 } }).then(async (r) => {
      answered = true;
      return (await r.json()) as Record<string, unknown>;
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(answered).toBe(false);
    expect((await fetch(`${node.url}/_sim/state`)).status).toBe(200);
    node.setFault(null);
    expect(await pending).toMatchObject({ done: true, eval_count: 3 });
  });

  it('a client giving up on a hung request is logged as canceled', async () => {
    node.setFault({ kind: 'hang' });
    const ac = new AbortController();
    const pending = fetch(`${node.url}/api/tags`, { signal: ac.signal });
    await waitFor(() => node.log.length === 1, 1000, 'request received');
    ac.abort();
    await expect(pending).rejects.toThrow();
    await waitFor(() => node.log[0].outcome === 'canceled', 1000, 'canceled');
    expect(node.log[0].route).toBe('/api/tags');
  });
});

describe('slow', () => {
  it('multiplies every delay by its factor', async () => {
    const body = { prompt: 'speed', stream: false, options: { num_predict: 40 } };
    const normal = (await (await generate(body)).json()) as Record<string, number>;
    node.setFault({ kind: 'slow', factor: 4 });
    const slow = (await (await generate(body)).json()) as Record<string, number>;
    const rate = (r: Record<string, number>): number => (r.eval_count / r.eval_duration) * 1e9;
    expect(rate(slow)).toBeLessThan(rate(normal) / 2.5);
    expect(rate(slow)).toBeGreaterThan(rate(normal) / 8);
    expect(slow.eval_count).toBe(40);
  });
});

describe('drop', () => {
  it('destroys a stream after N chunks', async () => {
    node.setFault({ kind: 'drop', afterChunks: 3 });
    const res = await generate({ prompt: 'x', options: { num_predict: 50 } });
    const { lines, broken } = await readUntilBroken(res);
    expect(broken).toBe(true);
    expect(lines).toHaveLength(3);
    expect(lines.every((l) => l.done === false)).toBe(true);
    await waitFor(() => node.active() === 0, 1000, 'slot freed');
    expect(node.log[0].outcome).toBe('fault');
  });

  it('destroys a one-piece answer before sending it', async () => {
    await setFaultOverHttp(node.url, { kind: 'drop', afterChunks: 0 });
    await expect(generate({ prompt: 'x', stream: false, options: { num_predict: 5 } }).then((r) => r.text())).rejects.toThrow();
    await waitFor(() => node.log[0]?.outcome === 'fault', 1000, 'logged');
    expect(node.log[0].evalCount).toBe(5);
  });
});

describe('busy', () => {
  it('answers inference with 503 busy; metadata routes still answer', async () => {
    node.setFault({ kind: 'busy' });
    const res = await generate({ prompt: 'x' });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: BUSY_MESSAGE });
    const v1 = await postJson(`${node.url}/v1/chat/completions`, { model: 'llama3', messages: [{ role: 'user', content: 'x' }] });
    expect(v1.status).toBe(503);
    expect(((await v1.json()) as { error: { message: string } }).error.message).toBe(BUSY_MESSAGE);
    expect((await fetch(`${node.url}/api/tags`)).status).toBe(200);
    expect(node.log[0].outcome).toBe('busy');
  });
});

describe('control routes', () => {
  const faults: SimFault[] = [
    { kind: 'down' },
    { kind: 'error500' },
    { kind: 'hang' },
    { kind: 'slow', factor: 2 },
    { kind: 'drop', afterChunks: 0 },
    { kind: 'busy' },
  ];

  it.each(faults)('keep working under %p', async (fault) => {
    await setFaultOverHttp(node.url, fault);
    const state = (await (await fetch(`${node.url}/_sim/state`)).json()) as Record<string, unknown>;
    expect(state.fault).toEqual(fault);
    expect(Array.isArray(await fetchSimLog(node.url))).toBe(true);
    expect((await fetch(`${node.url}/_sim/log`, { method: 'DELETE' })).status).toBe(200);
    await setFaultOverHttp(node.url, null);
    expect((await fetch(`${node.url}/api/version`)).status).toBe(200);
  });

  it('reject an invalid fault with 400', async () => {
    const res = await postJson(`${node.url}/_sim/fault`, { kind: 'slow', factor: -1 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain('factor');
    const unknown = await postJson(`${node.url}/_sim/fault`, { kind: 'meteor' });
    expect(unknown.status).toBe(400);
  });
});
