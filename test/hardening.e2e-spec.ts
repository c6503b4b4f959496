import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSimNode, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, post, startTestHerd, waitFor } from './support/herd';
import { startRedis } from './support/redis';

/** Issue #10: bodies that try to slip past validation, and the smaller holes of the same review. */
jest.setTimeout(60_000);

const LLAMA = { models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'] };

let redis: EmbeddedRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

const INFERENCE_ROUTES: [string, Record<string, unknown>][] = [
  ['/ollama/generate', { prompt: 'x' }],
  ['/api/generate', { prompt: 'x', stream: false }],
  ['/api/chat', { messages: [{ role: 'user', content: 'x' }], stream: false }],
  ['/api/embed', { input: 'x' }],
  ['/api/embeddings', { prompt: 'x' }],
  ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }] }],
  ['/v1/completions', { prompt: 'x' }],
  ['/v1/embeddings', { input: 'x' }],
];

/** The error text in either API's shape. */
function errorOf(route: string, body: Record<string, unknown>): string {
  if (route.startsWith('/v1/')) return ((body.error ?? {}) as { message?: string }).message ?? '';
  return typeof body.error === 'string' ? body.error : '';
}

describe('bodies that try to slip past validation', () => {
  let node: SimNode;
  let herd: RunningHerd;
  beforeAll(async () => {
    node = await startSimNode({ name: 'n1', ...LLAMA, timeScale: 0.01 });
    herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('n1', node.url)] });
  });
  afterAll(async () => {
    await herd.close(0);
    await node.close();
  });
  beforeEach(() => node.resetLog());
  /** Requests the node served, not counting Herd's health polls. */
  const served = () => node.log.filter((e) => !['/api/tags', '/api/ps', '/api/version'].includes(e.route));

  it.each(INFERENCE_ROUTES)('%s: a __proto__ key with a wrong-typed model is a 400 in the route’s error shape, not a 500', async (route, rest) => {
    const raw = `{"__proto__":{},${JSON.stringify({ model: 123, ...rest }).slice(1)}`;
    const r = await post(`${herd.url}${route}`, raw);
    expect(r.status).toBe(400);
    expect(errorOf(route, r.body)).toContain('__proto__');
    if (route.startsWith('/v1/')) expect((r.body.error as { type?: string }).type).toBe('invalid_request_error');
  });

  it.each([
    ['top-level __proto__ with priority 0', '{"__proto__":{},"model":"llama3","prompt":"x","priority":0}'],
    ['top-level __proto__ with priority -5', '{"__proto__":{},"model":"llama3","prompt":"x","priority":-5}'],
    ['constructor key', '{"constructor":{"prototype":{"x":1}},"model":"llama3","prompt":"x"}'],
    ['__proto__ inside options', '{"model":"llama3","prompt":"x","options":{"__proto__":{"num_predict":1}}}'],
    ['prototype inside a message', '{"model":"llama3","messages":[{"role":"user","content":"x","prototype":1}]}'],
  ])('refuses a body with a %s before it is queued or sent to a node', async (_name, raw) => {
    const route = raw.includes('messages') ? '/api/chat' : '/ollama/generate';
    const r = await post(`${herd.url}${route}`, raw);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/must not contain the key "(__proto__|constructor|prototype)"/);
    expect(served()).toHaveLength(0);
  });

  it.each([
    ['priority 0', { priority: 0 }],
    ['priority -5', { priority: -5 }],
    ['priority 1.5', { priority: 1.5 }],
    ['priority "3"', { priority: '3' }],
    ['priority 1e400', '{"model":"llama3","prompt":"x","priority":1e400}'],
  ])('%s is a 400, never a queued job', async (_name, extra) => {
    const body = typeof extra === 'string' ? extra : { model: 'llama3', prompt: 'x', ...extra };
    const r = await post(`${herd.url}/ollama/generate`, body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/priority must be an integer from 1/);
    expect(served()).toHaveLength(0);
  });

  it.each(['0', '-5', '11', '1.5', '0x3', 'high'])('X-Herd-Priority %p is a 400', async (header) => {
    const r = await post(`${herd.url}/ollama/generate`, { model: 'llama3', prompt: 'x' }, { 'x-herd-priority': header });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/X-Herd-Priority/);
  });

  it.each<[string, unknown]>([
    ['/api/chat', { model: 'llama3', messages: [null] }],
    ['/api/chat', { model: 'llama3', messages: [{ role: 'user', content: { text: 'x' } }] }],
    ['/api/chat', { model: 'llama3', messages: 'hello' }],
    ['/v1/chat/completions', { model: 'llama3', messages: [{ content: 'no role' }] }],
    ['/api/embed', { model: 'llama3', input: [{}] }],
    ['/api/embed', { model: 'llama3', input: ['a', 1] }],
    ['/v1/embeddings', { model: 'llama3', input: [[1, 'x']] }],
    ['/api/generate', { model: 'llama3', prompt: 'x', options: [1] }],
    ['/api/generate', { model: 'llama3', prompt: 'x', stream: 'yes' }],
    ['/v1/completions', { model: 'llama3', prompt: 'x', max_tokens: 1.5 }],
  ])('%s answers a wrongly typed field with 400: %j', async (route, body) => {
    const r = await post(`${herd.url}${route}`, body);
    expect(r.status).toBe(400);
    expect(errorOf(route, r.body).length).toBeGreaterThan(0);
  });

  it('reads a null field as absent, as Ollama does: priority null is the default, not a 400 or a queued null', async () => {
    const r = await post(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'x', stream: false, priority: null, system: null, options: null });
    expect(r.status).toBe(200);
  });

  it('an admin body with a null where a string is expected is never a 500', async () => {
    const created = await post(`${herd.url}/api/create`, { model: 'hardening-created', from: null, stream: false });
    expect(created.status).toBeLessThan(500);
    const patched = await fetch(`${herd.url}/herd/nodes/n1`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ slots: null, weight: null, draining: null }) });
    expect(patched.status).toBe(200);
    expect(herd.core.fleet.node('n1')?.slots).toBe(1);
  });

  it('refuses deep nesting with a 400 instead of overflowing a stack', async () => {
    const deep = `{"model":"llama3","prompt":"x","options":${'['.repeat(50_000)}${']'.repeat(50_000)}}`;
    const r = await post(`${herd.url}/api/generate`, deep);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/nests deeper than/);
  });

  it('never quotes the body in a JSON parse error', async () => {
    const r = await post(`${herd.url}/api/generate`, '{"model":"llama3","prompt":"my-secret-prompt');
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/^invalid JSON in request body/);
    expect(r.text).not.toContain('my-secret-prompt');
    const wrongToken = await post(`${herd.url}/api/generate`, 'my-secret-prompt');
    expect(wrongToken.status).toBe(400);
    expect(wrongToken.text).not.toContain('my-secret-prompt');
  });

  it('accepts token ids on /v1 and lets unknown fields through to the node untouched', async () => {
    // Herd lets token ids through; whether the node takes them is the node's call.
    const r = await post(`${herd.url}/v1/embeddings`, { model: 'llama3', input: [[1, 2, 3]] });
    expect(r.headers.get('x-herd-node')).toBe('n1');
    const g = await post(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'x', stream: false, brand_new_field: { a: [1] }, options: { num_predict: 2 } });
    expect(g.status).toBe(200);
    expect(served().filter((e) => e.route === '/api/generate' && e.outcome === 'ok')).toHaveLength(1);
  });
});

describe('the request timeout covers the wait for another node after a failed attempt', () => {
  it('answers 504 when the retry cannot get a slot before the timeout', async () => {
    const a = await startSimNode({ name: 'a', ...LLAMA, timeScale: 0.01 });
    const b = await startSimNode({ name: 'b', ...LLAMA, timeScale: 0.01 });
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('a', a.url), nodeConfig('b', b.url)], requestTimeoutMs: 1500, queueTimeoutMs: 6000 });
    try {
      // b's only slot is held (as by another replica's long request); a fails every request before its first byte.
      expect(await herd.core.ledger.reserve('b', 'held-elsewhere', 1, 100, 60_000, 60_000)).toBe(true);
      a.setFault({ kind: 'error500' });
      const started = Date.now();
      const r = await post(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'short', stream: false, options: { num_predict: 2 } });
      const took = Date.now() - started;
      expect(r.status).toBe(504);
      expect(r.body.error).toMatch(/HERD_REQUEST_TIMEOUT_MS/);
      expect(took).toBeLessThan(3000);
      expect(a.log.some((e) => e.route === '/api/generate')).toBe(true);
    } finally {
      await herd.close(0);
      await a.close();
      await b.close();
    }
  });
});

describe('one replica holds a bounded number of queued body bytes', () => {
  it('answers 503 with Retry-After once waiting bodies would exceed HERD_MAX_QUEUED_BYTES, and recovers', async () => {
    const node = await startSimNode({ name: 'n1', ...LLAMA, decodeTps: 20 });
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('n1', node.url)], maxQueuedBytes: 5000 });
    const pad = 'p'.repeat(2000);
    const controllers: AbortController[] = [];
    const send = (prompt: string, numPredict: number): Promise<Response> => {
      const ac = new AbortController();
      controllers.push(ac);
      return fetch(`${herd.url}/api/generate`, { method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama3', prompt, stream: false, options: { num_predict: numPredict } }) });
    };
    try {
      const running = send('busy', 200).catch(() => undefined);
      await waitFor(() => node.active() === 1, 5000, 'the node to be busy');
      const waiting = [send(pad, 1).catch(() => undefined), send(pad, 1).catch(() => undefined)];
      await waitFor(() => herd.core.inference.pendingCount() === 3, 5000, 'two requests to wait');
      const refused = await post(`${herd.url}/api/generate`, { model: 'llama3', prompt: pad, stream: false });
      expect(refused.status).toBe(503);
      expect(refused.body.error).toMatch(/HERD_MAX_QUEUED_BYTES/);
      expect(refused.headers.get('retry-after')).toBe('1');
      // A small body still fits beside the two waiting ones.
      const small = send('s', 1).catch(() => undefined);
      await waitFor(() => herd.core.inference.pendingCount() === 4, 5000, 'the small request to wait');
      for (const ac of controllers) ac.abort();
      await Promise.all([running, ...waiting, small]);
      await waitFor(() => herd.core.inference.pendingCount() === 0, 5000, 'the cancelled requests to leave');
      node.setFault(null);
      const after = await post(`${herd.url}/api/generate`, { model: 'llama3', prompt: pad, stream: false, options: { num_predict: 1 } });
      expect(after.status).toBe(200);
    } finally {
      for (const ac of controllers) ac.abort();
      await herd.close(0);
      await node.close();
    }
  });
});

describe('fleet change listeners', () => {
  it('one that throws never keeps the others from hearing about the change', async () => {
    const node = await startSimNode({ name: 'n1', ...LLAMA, timeScale: 0.01 });
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('n1', node.url)] });
    try {
      let heard = 0;
      herd.core.fleet.onChange(() => {
        throw new Error('a buggy listener');
      });
      herd.core.fleet.onChange(() => heard++);
      await expect(herd.core.fleet.refresh()).resolves.toBeUndefined();
      expect(heard).toBeGreaterThan(0);
      const r = await post(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'x', stream: false, options: { num_predict: 1 } });
      expect(r.status).toBe(200);
    } finally {
      await herd.close(0);
      await node.close();
    }
  });
});

describe('a node that lies about its own state', () => {
  it('stays in rotation with what it listed sensibly when /api/tags holds junk and /api/ps fails', async () => {
    const generated: string[] = [];
    const rogue: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.url === '/api/tags') return res.end(JSON.stringify({ models: [{ name: 123 }, null, 'x', { name: 'llama3:latest', size: 'huge' }] }));
        if (req.url === '/api/ps') return res.writeHead(500).end('{"error":"Invalid time value"}');
        if (req.url === '/api/version') return res.end(JSON.stringify({ version: { nested: true } }));
        generated.push(body);
        res.end(JSON.stringify({ model: 'llama3:latest', response: 'ok', done: true, done_reason: 'stop', eval_count: 1, eval_duration: 1e6 }));
      });
    });
    await new Promise<void>((r) => rogue.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(rogue.address() as AddressInfo).port}`;
    const herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('rogue', url)] });
    try {
      expect(herd.core.fleet.isUp('rogue')).toBe(true);
      const r = await post(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'x', stream: false });
      expect(r.status).toBe(200);
      expect(generated).toHaveLength(1);
      const tags = await fetch(`${herd.url}/api/tags`).then((t) => t.json() as Promise<{ models: { name: string }[] }>);
      expect(tags.models.map((m) => m.name)).toEqual(['llama3:latest']);
      const version = await fetch(`${herd.url}/api/version`);
      expect(version.status).toBe(200);
    } finally {
      await herd.close(0);
      await new Promise((r) => rogue.close(r));
    }
  });
});
