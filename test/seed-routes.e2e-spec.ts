import { startSimNode, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeUrlAllow } from '../src/security/node-url-allow';
import { nodeConfig, post, startTestHerd, waitFor } from './support/herd';
import { startRedis } from './support/redis';

/**
 * The routes of the balancers Herd replaces (/work/shared/SEED-APIS.md, docs/coming-from.md), against a real
 * redis-server and simulated Ollama nodes over real HTTP.
 */
jest.setTimeout(60_000);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let redis: EmbeddedRedis;
let n1: SimNode;
let n2: SimNode;
let herd: RunningHerd;

beforeAll(async () => {
  redis = await startRedis();
  n1 = await startSimNode({ name: 'n1', models: [{ name: 'llama3:latest' }, { name: 'qwen2.5:7b' }], resident: ['llama3:latest', 'qwen2.5:7b'], slots: 2, timeScale: 0.01 });
  n2 = await startSimNode({ name: 'n2', models: [{ name: 'llama3:latest' }, { name: 'phi3:mini' }], resident: ['llama3:latest'], slots: 2, timeScale: 0.01 });
  herd = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('n1', n1.url, { slots: 2 }), nodeConfig('n2', n2.url, { slots: 2 })] });
  await waitFor(() => herd.core.fleet.upCount() === 2, 5000, 'both nodes up');
});
afterAll(async () => {
  await herd.close(0);
  await n1.close();
  await n2.close();
  await redis.stop();
});

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${herd.url}${path}`, { headers });
  return { status: res.status, body: await res.json() };
}

/** Every event of an SSE answer, in order: its name (`message` when none) and data. */
function sseEvents(text: string): { event: string; data: string }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
      const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      return { event, data };
    });
}

function expectBadRequest(r: { status: number; body: Record<string, unknown>; text: string }): void {
  expect({ status: r.status, keys: Object.keys(r.body), type: typeof r.body.error }).toEqual({ status: 400, keys: ['error'], type: 'string' });
}

/** Bodies every route must refuse with 400 {"error"}: wrong shapes, prototype keys, bad JSON. */
const HOSTILE_ANY: [string, unknown][] = [
  ['a JSON array', '[1,2]'],
  ['a JSON string', '"hi"'],
  ['truncated JSON', '{"model": "llama3", "prompt": '],
  ['a __proto__ key', '{"model":"llama3","prompt":"x","__proto__":{"admin":true}}'],
  ['a nested constructor key', '{"model":"llama3","prompt":"x","options":{"constructor":{"prototype":{"x":1}}}}'],
];

describe('Cluster LLM', () => {
  it('GET /models lists every model of the fleet once, sorted', async () => {
    const r = await get('/models');
    expect(r).toEqual({ status: 200, body: ['llama3:latest', 'phi3:mini', 'qwen2.5:7b'] });
  });

  it('POST /chat with {model, prompt} answers Ollama’s /api/chat JSON, not streamed', async () => {
    n1.resetLog();
    n2.resetLog();
    const r = await post(`${herd.url}/chat`, { model: 'llama3', prompt: 'Why is the sky blue?', options: { num_predict: 9 } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.body).toMatchObject({ model: 'llama3', done: true, eval_count: 9, message: { role: 'assistant' } });
    expect(typeof (r.body.message as { content: unknown }).content).toBe('string');
    expect([...n1.log, ...n2.log].filter((e) => e.route === '/api/chat')).toHaveLength(1);
  });

  it('POST /chat with {model, messages} answers the conversation', async () => {
    const r = await post(`${herd.url}/chat`, { model: 'qwen2.5:7b', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }], options: { num_predict: 5 } });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-herd-node')).toBe('n1');
    expect(r.body).toMatchObject({ model: 'qwen2.5:7b', done: true, eval_count: 5, message: { role: 'assistant' } });
  });

  it('POST /chat/stream sends one data event per chunk, then an end event', async () => {
    const res = await fetch(`${herd.url}/chat/stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama3', prompt: 'Count to five.', options: { num_predict: 12 } }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = sseEvents(await res.text());
    const data = events.slice(0, -1);
    expect(events[events.length - 1]).toEqual({ event: 'end', data: '{}' });
    expect(data.length).toBeGreaterThan(2);
    expect(data.every((e) => e.event === 'message')).toBe(true);
    const chunks = data.map((e) => JSON.parse(e.data) as { model: string; done: boolean; message?: { content: string }; eval_count?: number });
    expect(chunks.every((c) => c.model === 'llama3')).toBe(true);
    expect(chunks.slice(0, -1).every((c) => c.done === false && typeof c.message?.content === 'string')).toBe(true);
    expect(chunks[chunks.length - 1]).toMatchObject({ done: true, eval_count: 12 });
  });

  it('POST /chat/stream answers 404 {"error"} before streaming for a model no node has', async () => {
    const r = await post(`${herd.url}/chat/stream`, { model: 'nope', prompt: 'x' });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: 'model "nope:latest" not found, try pulling it first' });
  });

  it('POST /chat/stream ends with an error event when the node dies mid-stream', async () => {
    // A node in (scaled) real time, so its first chunks reach Herd before it drops the connection.
    const dropper = await startSimNode({ name: 'dropper', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], decodeTps: 200, timeScale: 0.1 });
    const lone = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('dropper', dropper.url)] });
    try {
      dropper.setFault({ kind: 'drop', afterChunks: 3 });
      const res = await fetch(`${lone.url}/chat/stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama3', prompt: 'x', options: { num_predict: 50 } }) });
      expect(res.status).toBe(200);
      const events = sseEvents(await res.text());
      expect(events.length).toBeGreaterThanOrEqual(2);
      expect(events.slice(0, -1).every((e) => e.event === 'message' && (JSON.parse(e.data) as { done: boolean }).done === false)).toBe(true);
      const last = events[events.length - 1];
      expect(last.event).toBe('error');
      expect(JSON.parse(last.data)).toEqual({ error: expect.stringMatching(/^herd: node dropper failed: /) as unknown });
    } finally {
      await lone.close(0);
      await dropper.close();
    }
  });

  it.each([
    ...HOSTILE_ANY,
    ['no prompt and no messages', { model: 'llama3' }],
    ['a numeric model', { model: 7, prompt: 'x' }],
    ['a prompt array', { model: 'llama3', prompt: ['a', 'b'] }],
    ['messages as a string', { model: 'llama3', messages: 'hi' }],
    ['a message without role', { model: 'llama3', messages: [{ content: 'hi' }] }],
    ['a huge priority', { model: 'llama3', prompt: 'x', priority: 1e308 }],
    ['options as a string', { model: 'llama3', prompt: 'x', options: 'fast' }],
  ] as [string, unknown][])('POST /chat and /chat/stream answer 400 {"error"} for %s', async (_name, body) => {
    expectBadRequest(await post(`${herd.url}/chat`, body));
    expectBadRequest(await post(`${herd.url}/chat/stream`, body));
  });
});

describe('Ollama Connector', () => {
  it('GET /healthz answers {"status": "ok"}', async () => {
    expect(await get('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('GET /nodes lists every node in Connector’s shape', async () => {
    const r = await get('/nodes');
    expect(r.status).toBe(200);
    const nodes = r.body as Record<string, unknown>[];
    expect(nodes.map((n) => n.node_id)).toEqual(['n1', 'n2']);
    for (const [n, sim] of [[nodes[0], n1], [nodes[1], n2]] as const) {
      expect(Object.keys(n).sort()).toEqual(['active_jobs', 'failure_count', 'ipv4', 'ipv6', 'last_seen', 'load', 'metadata', 'models', 'node_id', 'port', 'status'].sort());
      expect(n).toMatchObject({ ipv4: '127.0.0.1', ipv6: null, port: Number(new URL(sim.url).port), load: { cpu: null, memory: null }, status: 'online', active_jobs: 0, failure_count: 0 });
      expect(n.last_seen).toMatch(ISO);
      expect(n.metadata).toMatchObject({ herd_state: 'healthy', slots: 2, weight: 1, draining: false, self_registered: false, labels: {} });
    }
    expect(nodes[0].models).toEqual(['llama3:latest', 'qwen2.5:7b']);
    expect(nodes[1].models).toEqual(['llama3:latest', 'phi3:mini']);
  });

  it('GET /nodes/:id answers one node, and 404 {"error"} for an unknown id', async () => {
    const one = await get('/nodes/n2');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ node_id: 'n2', status: 'online', models: ['llama3:latest', 'phi3:mini'] });
    expect(await get('/nodes/nope')).toEqual({ status: 404, body: { error: 'herd: no node with id "nope"' } });
  });

  it('shows active jobs while a job runs on a node', async () => {
    const slow = fetch(`${herd.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'phi3:mini', prompt: 'long', stream: false, options: { num_predict: 400 } }) });
    let seen = 0;
    await waitFor(async () => ((seen = ((await get('/nodes/n2')).body as { active_jobs: number }).active_jobs) > 0), 5000, 'an active job on n2');
    expect(seen).toBe(1);
    expect((await slow).status).toBe(200);
  });

  it('POST /jobs streams Ollama’s /api/generate NDJSON by default', async () => {
    const res = await fetch(`${herd.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama3', prompt: 'hello', options: { num_predict: 6 } }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as { done: boolean; response: string; eval_count?: number });
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.slice(0, -1).every((l) => l.done === false && typeof l.response === 'string')).toBe(true);
    expect(lines[lines.length - 1]).toMatchObject({ done: true, eval_count: 6 });
  });

  it('POST /jobs with stream false answers one JSON', async () => {
    const r = await post(`${herd.url}/jobs`, { model: 'llama3', prompt: 'hello', stream: false, options: { num_predict: 4 } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ model: 'llama3', done: true, eval_count: 4 });
    expect(typeof r.body.response).toBe('string');
  });

  it.each([
    ...HOSTILE_ANY,
    ['no prompt', { model: 'llama3' }],
    ['a numeric prompt', { model: 'llama3', prompt: 42 }],
    ['no model', { prompt: 'x' }],
    ['stream as a string', { model: 'llama3', prompt: 'x', stream: 'yes' }],
    ['options as an array', { model: 'llama3', prompt: 'x', options: [1] }],
    ['a negative priority', { model: 'llama3', prompt: 'x', priority: -1 }],
  ] as [string, unknown][])('POST /jobs answers 400 {"error"} for %s', async (_name, body) => {
    expectBadRequest(await post(`${herd.url}/jobs`, body));
  });
});

describe('Ollama Coordinator', () => {
  let agentNode: SimNode;
  const register = (body: unknown, headers: Record<string, string> = {}, url = herd.url) => post(`${url}/api/agents`, body, headers);

  beforeAll(async () => {
    agentNode = await startSimNode({ name: 'agent', models: [{ name: 'llama3:latest' }, { name: 'mistral:7b' }], resident: ['mistral:7b'], timeScale: 0.01 });
  });
  afterAll(async () => {
    await agentNode.close();
  });

  it('POST /api/agents registers the agent’s Ollama as a node, idempotently', async () => {
    const body = { machine_name: 'studio-1', ip_address: '127.0.0.1', ollama_version: '0.12.6', ollama_port: Number(new URL(agentNode.url).port) };
    const first = await register(body);
    expect(first.status).toBe(201);
    expect(Object.keys(first.body).sort()).toEqual(['agent_id', 'status']);
    expect(first.body.status).toBe('registered');
    expect(first.body.agent_id).toMatch(UUID);
    const again = await register(body);
    expect(again.body).toEqual(first.body);

    const node = await get('/nodes/studio-1');
    expect(node.body).toMatchObject({ node_id: 'studio-1', ipv4: '127.0.0.1', status: 'online', models: ['llama3:latest', 'mistral:7b'], metadata: { self_registered: true } });
    // The new node serves inference like any other.
    const answer = await post(`${herd.url}/api/generate`, { model: 'mistral:7b', prompt: 'hi', stream: false, options: { num_predict: 3 } });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-herd-node')).toBe('studio-1');
  });

  it('GET /api/agents lists the agents in Coordinator’s shape (and no other node)', async () => {
    const r = await get('/api/agents');
    expect(r.status).toBe(200);
    const agents = r.body as Record<string, unknown>[];
    expect(agents).toHaveLength(1);
    expect(Object.keys(agents[0]).sort()).toEqual(['id', 'ip_address', 'last_seen', 'machine_name', 'ollama_port', 'ollama_version', 'registered_at', 'status'].sort());
    expect(agents[0]).toMatchObject({ machine_name: 'studio-1', ip_address: '127.0.0.1', ollama_version: '0.12.6', ollama_port: Number(new URL(agentNode.url).port), status: 'online' });
    expect(agents[0].id).toMatch(UUID);
    expect(agents[0].registered_at).toMatch(ISO);
    expect(agents[0].last_seen).toMatch(ISO);
  });

  it('POST /api/health is the agent’s heartbeat; an unknown agent_id gets 404 {"error"}', async () => {
    const [before] = (await get('/api/agents')).body as { id: string; last_seen: string; registered_at: string }[];
    await new Promise((r) => setTimeout(r, 5));
    const r = await post(`${herd.url}/api/health`, { agent_id: before.id, cpu_usage: 12.5, memory_usage: 40, active_requests: 1 });
    expect(r).toMatchObject({ status: 200, body: { status: 'ok' } });
    const [after] = (await get('/api/agents')).body as { last_seen: string; registered_at: string }[];
    expect(Date.parse(after.last_seen)).toBeGreaterThan(Date.parse(before.last_seen));
    expect(after.registered_at).toBe(before.registered_at);

    const unknown = await post(`${herd.url}/api/health`, { agent_id: '00000000-0000-4000-8000-000000000000', cpu_usage: 1, memory_usage: 1, active_requests: 0 });
    expect(unknown.status).toBe(404);
    expect(Object.keys(unknown.body)).toEqual(['error']);
  });

  it('registers an agent on an IPv6 address', async () => {
    const r = await register({ machine_name: 'v6-box', ip_address: '::1', ollama_version: '0.12.6', ollama_port: 11434 });
    expect(r.status).toBe(201);
    const agents = (await get('/api/agents')).body as { machine_name: string; ip_address: string; ollama_port: number }[];
    expect(agents.find((a) => a.machine_name === 'v6-box')).toMatchObject({ ip_address: '::1', ollama_port: 11434 });
    expect((await get('/nodes/v6-box')).body).toMatchObject({ ipv4: null, ipv6: '::1', port: 11434 });
  });

  it('refuses to register under the name of a node an operator added (409)', async () => {
    const r = await register({ machine_name: 'n1', ip_address: '127.0.0.1', ollama_version: '0.12.6', ollama_port: Number(new URL(agentNode.url).port) });
    expect(r.status).toBe(409);
    expect(Object.keys(r.body)).toEqual(['error']);
  });

  const agent = { machine_name: 'box', ip_address: '127.0.0.1', ollama_version: '0.12.6', ollama_port: 11434 };
  it.each([
    ...HOSTILE_ANY,
    ['no machine_name', { ...agent, machine_name: undefined }],
    ['a machine_name with a space', { ...agent, machine_name: 'my box' }],
    ['machine_name __proto__', { ...agent, machine_name: '__proto__' }],
    ['a numeric machine_name', { ...agent, machine_name: 12 }],
    ['a host name as ip_address', { ...agent, ip_address: 'evil.example.com' }],
    ['an IPv6 zone id', { ...agent, ip_address: 'fe80::1%eth0' }],
    ['port 0', { ...agent, ollama_port: 0 }],
    ['port 70000', { ...agent, ollama_port: 70000 }],
    ['a huge port', { ...agent, ollama_port: 1e308 }],
    ['a port as a string', { ...agent, ollama_port: '11434' }],
    ['a version object', { ...agent, ollama_version: { v: 1 } }],
  ] as [string, unknown][])('POST /api/agents answers 400 {"error"} for %s', async (_name, body) => {
    expectBadRequest(await register(body));
  });

  const report = { agent_id: '00000000-0000-4000-8000-000000000000', cpu_usage: 1, memory_usage: 2, active_requests: 0 };
  it.each([
    ...HOSTILE_ANY,
    ['an agent_id that is no UUID', { ...report, agent_id: 'agent-1' }],
    ['a numeric agent_id', { ...report, agent_id: 5 }],
    ['cpu_usage as a string', { ...report, cpu_usage: '50' }],
    ['a huge cpu_usage', { ...report, cpu_usage: 1e308 }],
    ['a negative memory_usage', { ...report, memory_usage: -1 }],
    ['fractional active_requests', { ...report, active_requests: 1.5 }],
    ['huge active_requests', { ...report, active_requests: 9e15 }],
  ] as [string, unknown][])('POST /api/health answers 400 {"error"} for %s', async (_name, body) => {
    expectBadRequest(await post(`${herd.url}/api/health`, body));
  });

  describe('guarded like Herd’s node heartbeat', () => {
    const NODE_KEY = 'seed-node-key-1';
    let guarded: RunningHerd;
    beforeAll(async () => {
      guarded = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('n1', n1.url)], nodeKey: NODE_KEY, adminKey: 'seed-admin-key-1', nodeUrlAllow: nodeUrlAllow('10.0.0.0/8') });
    });
    afterAll(async () => {
      await guarded.close(0);
    });

    it('needs HERD_NODE_KEY (not the admin key) and an allowed URL', async () => {
      const body = { ...agent, ollama_port: Number(new URL(agentNode.url).port) };
      expect((await register(body, {}, guarded.url)).status).toBe(401);
      expect((await register(body, { authorization: 'Bearer seed-admin-key-1' }, guarded.url)).status).toBe(401);
      expect((await post(`${guarded.url}/api/health`, report)).status).toBe(401);
      const outside = await register(body, { authorization: `Bearer ${NODE_KEY}` }, guarded.url);
      expect(outside.status).toBe(403);
      expect(outside.body.error).toMatch(/not allowed/);
      expect((await post(`${guarded.url}/api/health`, report, { authorization: `Bearer ${NODE_KEY}` })).status).toBe(404);
    });

    it('shows addresses only to callers who pass the admin check', async () => {
      const nodes = (await (await fetch(`${guarded.url}/nodes`)).json()) as { ipv4: unknown; port: unknown }[];
      expect(nodes[0]).toMatchObject({ ipv4: null, port: null });
      const admin = (await (await fetch(`${guarded.url}/nodes`, { headers: { authorization: 'Bearer seed-admin-key-1' } })).json()) as { ipv4: unknown }[];
      expect(admin[0].ipv4).toBe('127.0.0.1');
    });
  });
});

describe('routes Herd already serves win', () => {
  it('keeps Herd’s /health and /metrics and Ollama’s /api/chat', async () => {
    const health = (await get('/health')).body as { status: string; info: unknown };
    expect(health).toMatchObject({ status: 'ok', info: { redis: { status: 'up' } } });
    expect(await (await fetch(`${herd.url}/metrics`)).text()).toContain('herd_');
    const chat = await post(`${herd.url}/api/chat`, { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: 2 } });
    expect(chat.body).toMatchObject({ done: true, message: { role: 'assistant' } });
  });
});
