import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { startSimNode, type SimFault, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import type { RequestRecord } from '../src/inference/request-events';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, startTestHerd, waitFor } from './support/herd';
import { startRedis } from './support/redis';

/** Streams through Herd: chunk by chunk, cancellable, failover before the first byte, never a silent cut. */

jest.setTimeout(30_000);

const MODEL = 'llama3:latest';

let redis: EmbeddedRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

interface TimedChunk {
  /** Date.now() when the chunk reached the client. */
  at: number;
  text: string;
}

function postStream(url: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
}

/** Reads a whole streamed body, noting when each chunk arrived. */
async function readTimed(res: Response): Promise<TimedChunk[]> {
  const chunks: TimedChunk[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push({ at: Date.now(), text: decoder.decode(value, { stream: true }) });
  }
}

const ndjsonLines = (text: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const sseData = (text: string): string[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice('data: '.length));

async function herdInFlight(herd: RunningHerd): Promise<number> {
  const body = (await (await fetch(`${herd.url}/herd/nodes`)).json()) as { nodes: { inFlight: number }[] };
  return body.nodes.reduce((sum, n) => sum + n.inFlight, 0);
}

function recordRequests(herd: RunningHerd): RequestRecord[] {
  const records: RequestRecord[] = [];
  herd.core.events.on((r) => records.push(r));
  return records;
}

describe('first chunk before the node has finished', () => {
  let node: SimNode;
  let herd: RunningHerd;

  beforeAll(async () => {
    // 25 tokens/s in real time: 25 tokens take about one second.
    node = await startSimNode({ name: 'slow', models: [{ name: MODEL }], resident: [MODEL], decodeTps: 25, timeScale: 1 });
    herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('slow', node.url)] });
  });
  afterAll(async () => {
    await herd.close(0);
    await node.close();
  });

  it('relays /api/generate NDJSON chunk by chunk', async () => {
    node.resetLog();
    const sent = Date.now();
    const res = await postStream(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'Tell me a story', options: { num_predict: 25 } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    expect(res.headers.get('x-herd-node')).toBe('slow');
    const chunks = await readTimed(res);
    const lines = ndjsonLines(chunks.map((c) => c.text).join(''));
    expect(lines).toHaveLength(26);
    expect(lines[25]).toMatchObject({ done: true, eval_count: 25 });
    const first = chunks[0].at;
    const last = chunks[chunks.length - 1].at;
    expect(chunks.length).toBeGreaterThan(5);
    expect(last - first).toBeGreaterThan(600);
    expect(first - sent).toBeLessThan(400);
    const entry = node.log.find((e) => e.route === '/api/generate')!;
    expect(entry.outcome).toBe('ok');
    expect(first).toBeLessThan(entry.endedAt! - 500);
  });

  it('relays /v1/chat/completions SSE chunk by chunk', async () => {
    node.resetLog();
    const res = await postStream(`${herd.url}/v1/chat/completions`, { model: 'llama3', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 25, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const chunks = await readTimed(res);
    const data = sseData(chunks.map((c) => c.text).join(''));
    expect(data[data.length - 1]).toBe('[DONE]');
    const content = data
      .slice(0, -1)
      .map((d) => (JSON.parse(d) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '')
      .join('');
    expect(content.length).toBeGreaterThan(0);
    const entry = node.log.find((e) => e.route === '/v1/chat/completions')!;
    expect(chunks[0].at).toBeLessThan(entry.endedAt! - 500);
    expect(chunks[chunks.length - 1].at - chunks[0].at).toBeGreaterThan(600);
  });
});

describe('an aborted stream frees its slot', () => {
  let node: SimNode;
  let herd: RunningHerd;

  beforeAll(async () => {
    node = await startSimNode({ name: 'ab', models: [{ name: MODEL }], resident: [MODEL], decodeTps: 200, timeScale: 1 });
    herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('ab', node.url)] });
  });
  afterAll(async () => {
    await herd.close(0);
    await node.close();
  });

  it.each([
    ['/api/chat', { model: 'llama3', messages: [{ role: 'user', content: 'long' }], options: { num_predict: 100_000 } }],
    ['/v1/chat/completions', { model: 'llama3', messages: [{ role: 'user', content: 'long' }], max_tokens: 100_000, stream: true }],
  ])('%s: node cancels, slot and lease are free within a second', async (path, body) => {
    node.resetLog();
    const records = recordRequests(herd);
    const ac = new AbortController();
    const res = await postStream(`${herd.url}${path}`, body, ac.signal);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    expect(node.active()).toBe(1);
    expect(await herdInFlight(herd)).toBe(1);
    const abortedAt = Date.now();
    ac.abort();
    await reader.cancel().catch(() => undefined);
    await waitFor(() => node.active() === 0, 1000, 'the node slot to be free');
    await waitFor(async () => (await herdInFlight(herd)) === 0, 1000, "Herd's lease to be released");
    expect(Date.now() - abortedAt).toBeLessThan(1000);
    const entry = node.log.find((e) => e.route === path)!;
    expect(entry.outcome).toBe('canceled');
    expect(entry.evalCount).toBeLessThan(100_000);
    await waitFor(() => records.length > 0, 1000, 'the request record');
    expect(records[0]).toMatchObject({ outcome: 'canceled', status: 499, node: 'ab' });
  });
});

describe('an aborted stream that stopped reading', () => {
  it('frees its slot even while Herd waits for the client socket to drain', async () => {
    // Instant tokens: far more than socket buffers hold, so Herd's writes to the client block.
    const node = await startSimNode({ name: 'flood', models: [{ name: MODEL }], resident: [MODEL], timeScale: 0 });
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('flood', node.url)] });
    try {
      const ac = new AbortController();
      const res = await postStream(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'x', options: { num_predict: 2_000_000 } }, ac.signal);
      expect(res.status).toBe(200);
      await new Promise((r) => setTimeout(r, 300)); // the client reads nothing meanwhile
      expect(node.active()).toBe(1);
      const abortedAt = Date.now();
      ac.abort();
      await waitFor(() => node.active() === 0, 1000, 'the node slot to be free');
      await waitFor(async () => (await herdInFlight(herd)) === 0, 1000, "Herd's lease to be released");
      expect(Date.now() - abortedAt).toBeLessThan(1000);
      expect(node.log.find((e) => e.route === '/api/generate')?.outcome).toBe('canceled');
    } finally {
      await herd.close(0);
      await node.close();
    }
  });
});

describe('a node that fails before the first byte costs the client nothing', () => {
  type Kill = 'stop' | SimFault['kind'];

  it.each<Kill>(['stop', 'down', 'error500', 'busy'])('node a %s: served by b', async (kill) => {
    // `a` looks ten times faster, so the scheduler tries it first; the health poll is too slow to notice the failure.
    const a = await startSimNode({ name: 'a', models: [{ name: MODEL }], resident: [MODEL], timeScale: 0.01 });
    const b = await startSimNode({ name: 'b', models: [{ name: MODEL }], resident: [MODEL], timeScale: 0.01 });
    const herd = await startTestHerd({
      redisUrl: redis.url,
      nodes: [nodeConfig('a', a.url, { tokensPerSecond: 300 }), nodeConfig('b', b.url, { tokensPerSecond: 30 })],
      healthIntervalMs: 60_000,
    });
    try {
      const records = recordRequests(herd);
      if (kill === 'stop') await a.stop();
      else a.setFault({ kind: kill } as SimFault);
      const res = await postStream(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'hello', options: { num_predict: 5 } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-herd-node')).toBe('b');
      const lines = ndjsonLines(await res.text());
      expect(lines.some((l) => 'error' in l)).toBe(false);
      expect(lines[lines.length - 1]).toMatchObject({ done: true, eval_count: 5 });
      expect(lines.map((l) => l.response as string).join('').length).toBeGreaterThan(0);
      await waitFor(() => records.length > 0, 1000, 'the request record');
      expect(records[0]).toMatchObject({ outcome: 'ok', node: 'b', retries: 1 });
      if (kill !== 'stop') expect(a.log.some((e) => e.route === '/api/generate' && (e.outcome === 'fault' || e.outcome === 'busy'))).toBe(true);
      expect(b.log.filter((e) => e.route === '/api/generate' && e.outcome === 'ok')).toHaveLength(1);
    } finally {
      await herd.close(0);
      await a.close();
      await b.close();
    }
  });
});

describe('a node that fails after the first byte', () => {
  let node: SimNode;
  let herd: RunningHerd;

  beforeAll(async () => {
    node = await startSimNode({ name: 'dropper', models: [{ name: MODEL }], resident: [MODEL], decodeTps: 200, timeScale: 0.1 });
    herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('dropper', node.url)] });
  });
  beforeEach(() => node.setFault({ kind: 'drop', afterChunks: 3 }));
  afterEach(() => node.setFault(null));
  afterAll(async () => {
    await herd.close(0);
    await node.close();
  });

  it('ends an NDJSON stream with an {"error"} line', async () => {
    const started = Date.now();
    const res = await postStream(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'hello', options: { num_predict: 50 } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(text.endsWith('\n')).toBe(true);
    const lines = ndjsonLines(text);
    // The node wrote three lines before it dropped; the last one may be lost with the connection.
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(4);
    const content = lines.slice(0, -1);
    expect(content.every((l) => typeof l.response === 'string' && l.done === false)).toBe(true);
    const last = lines[lines.length - 1];
    expect(Object.keys(last)).toEqual(['error']);
    expect(last.error).toMatch(/^herd: node dropper failed: /);
    expect(lines.some((l) => l.done === true)).toBe(false);
  });

  it('ends an SSE stream with an error event and no [DONE]', async () => {
    const res = await postStream(`${herd.url}/v1/chat/completions`, { model: 'llama3', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 50, stream: true });
    expect(res.status).toBe(200);
    const data = sseData(await res.text());
    expect(data.length).toBeGreaterThanOrEqual(2);
    expect(data.length).toBeLessThanOrEqual(4);
    expect(data).not.toContain('[DONE]');
    for (const d of data.slice(0, -1)) expect((JSON.parse(d) as { choices: unknown[] }).choices).toHaveLength(1);
    const last = JSON.parse(data[data.length - 1]) as { error: { message: string; type: string } };
    expect(last.error.message).toMatch(/^herd: node dropper failed: /);
    expect(last.error.type).toBe('server_error');
  });

  it('makes the official clients throw rather than hang or end quietly', async () => {
    const ollama = new Ollama({ host: herd.url });
    const parts: string[] = [];
    const consume = async (): Promise<void> => {
      for await (const part of await ollama.generate({ model: 'llama3', prompt: 'hi', stream: true, options: { num_predict: 50 } })) parts.push(part.response ?? '');
    };
    await expect(consume()).rejects.toThrow(/^herd: node dropper failed: /);
    expect(parts.length).toBeGreaterThanOrEqual(1);
    expect(parts.length).toBeLessThanOrEqual(3);

    const openai = new OpenAI({ baseURL: `${herd.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const deltas: string[] = [];
    const consumeSse = async (): Promise<void> => {
      const stream = await openai.chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 50, stream: true });
      for await (const chunk of stream) deltas.push(chunk.choices[0]?.delta?.content ?? '');
    };
    await expect(consumeSse()).rejects.toThrow(/herd: node dropper failed: /);
    expect(deltas.length).toBeGreaterThanOrEqual(1);
    expect(deltas.length).toBeLessThanOrEqual(3);
    await waitFor(async () => (await herdInFlight(herd)) === 0, 1000, 'leases released');
  });
});

describe("a node's 4xx passes through unchanged", () => {
  let node: SimNode;
  let herd: RunningHerd;

  beforeAll(async () => {
    node = await startSimNode({ name: 'fx', models: [{ name: MODEL }, { name: 'nomic-embed-text' }], resident: [MODEL], timeScale: 0.01 });
    herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('fx', node.url)] });
  });
  afterAll(async () => {
    await herd.close(0);
    await node.close();
  });

  const direct = async (path: string, body: unknown): Promise<{ status: number; type: string | null; text: string }> => {
    const res = await postStream(`${node.url}${path}`, body);
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };

  it.each([
    ['/api/generate streamed', '/api/generate', { model: 'nomic-embed-text', prompt: 'hi' }, 400],
    ['/api/generate whole', '/api/generate', { model: 'nomic-embed-text', prompt: 'hi', stream: false }, 400],
    ['/api/chat streamed', '/api/chat', { model: 'nomic-embed-text', messages: [{ role: 'user', content: 'hi' }] }, 400],
    ['/v1/chat/completions', '/v1/chat/completions', { model: 'nomic-embed-text', messages: [{ role: 'user', content: 'hi' }], stream: true }, 400],
  ])('%s', async (_name, path, body, status) => {
    const expected = await direct(path, body);
    expect(expected.status).toBe(status);
    node.resetLog();
    const res = await postStream(`${herd.url}${path}`, body);
    expect(res.status).toBe(status);
    expect(res.headers.get('x-herd-node')).toBe('fx');
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.text()).toBe(expected.text);
    expect(node.log.filter((e) => e.route === path)).toHaveLength(1); // not retried
  });
});

describe('a node that dies in the middle of a line', () => {
  let fake: Server;
  let herd: RunningHerd;

  beforeAll(async () => {
    // A bare Ollama look-alike whose generate writes one line and a half, then resets the connection.
    fake = createServer((req, res) => {
      const json = (value: unknown): void => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.url === '/api/tags') return json({ models: [{ name: MODEL, model: MODEL, size: 1000, digest: 'x', details: {} }] });
      if (req.url === '/api/ps') return json({ models: [] });
      if (req.url === '/api/version') return json({ version: '0.12.6' });
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': req.url === '/api/generate' ? 'application/x-ndjson' : 'text/event-stream' });
        const half = req.url === '/api/generate' ? '{"model":"llama3","response":"Hi","done":false}\n{"model":"lla' : 'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\ndata: {"id":"c","obj';
        res.write(half, () => setTimeout(() => req.socket.destroy(), 20));
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', () => r()));
    herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('half', `http://127.0.0.1:${(fake.address() as AddressInfo).port}`)] });
  });
  afterAll(async () => {
    await herd.close(0);
    await new Promise((r) => fake.close(r));
  });

  it('NDJSON: the error still arrives as a line of its own', async () => {
    const res = await postStream(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'x' });
    const lines = (await res.text()).split('\n').filter((l) => l !== '');
    expect(lines[0]).toBe('{"model":"llama3","response":"Hi","done":false}');
    expect(lines[1]).toBe('{"model":"lla');
    expect(JSON.parse(lines[2])).toEqual({ error: expect.stringMatching(/^herd: node half failed: /) as unknown });
    expect(lines).toHaveLength(3);
  });

  it('SSE: the error still arrives as an event of its own', async () => {
    const res = await postStream(`${herd.url}/v1/chat/completions`, { model: 'llama3', messages: [{ role: 'user', content: 'x' }], stream: true });
    const events = (await res.text()).split('\n\n').filter((e) => e !== '');
    expect(events).toHaveLength(3);
    const last = JSON.parse(events[2].slice('data: '.length)) as { error: { message: string } };
    expect(last.error.message).toMatch(/^herd: node half failed: /);
  });
});
