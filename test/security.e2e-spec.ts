/**
 * Secure by default (issue #10): admin routes and node self-registration need their own keys once Herd listens
 * beyond loopback, node URLs are checked against HERD_NODE_URL_ALLOW before Herd sends them anything, and the
 * public read views name nodes without giving their addresses.
 *
 * Herd is bound to 0.0.0.0 (not loopback) and reached through 127.0.0.1; every node and the "trap" servers that
 * count requests listen on loopback, so no test sends traffic anywhere else.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSimNode, type SimNode } from '../sim';
import { startHerd, type RunningHerd } from '../src/bootstrap';
import { Logger } from '../src/common/logger';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeUrlAllow } from '../src/security/node-url-allow';
import { nodeConfig, post, testConfig, waitFor, type TestOverrides } from './support/herd';
import { startRedis } from './support/redis';

jest.setTimeout(30_000);

const ADMIN_KEY = 'admin-key-for-tests';
const NODE_KEY = 'node-key-for-tests';
const DIGEST = `sha256:${'a'.repeat(64)}`;

/** An HTTP server that answers like an Ollama node (so a probe of it would succeed) and counts every request. */
interface Trap {
  url: string;
  requests: () => number;
  close(): Promise<void>;
}

async function startTrap(host: string): Promise<Trap> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(req.url === '/api/version' ? '{"version":"0.12.6"}' : '{"models":[]}');
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** An in-process Herd on 0.0.0.0 whose log lines (warn and up) are kept. */
async function startWideHerd(overrides: TestOverrides): Promise<{ herd: RunningHerd; logs: string[] }> {
  const logs: string[] = [];
  const config = testConfig({ host: '0.0.0.0', ...overrides });
  const herd = await startHerd(config, new Logger('warn', 'json', (line) => logs.push(line)));
  expect(herd.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  return { herd, logs };
}

interface Call {
  method: string;
  path: string;
  body?: unknown;
}

/** Every admin route, with a body that would succeed if the route let it through. */
function adminCalls(nodeName: string, newNodeUrl: string): Call[] {
  return [
    { method: 'POST', path: '/api/pull', body: { model: 'phi3', stream: false } },
    { method: 'DELETE', path: '/api/delete', body: { model: 'llama3' } },
    { method: 'POST', path: '/api/copy', body: { source: 'llama3', destination: 'llama3-copy' } },
    { method: 'POST', path: '/api/create', body: { model: 'mine', from: 'llama3', stream: false } },
    { method: 'POST', path: '/api/push', body: { model: 'llama3', stream: false } },
    { method: 'HEAD', path: `/api/blobs/${DIGEST}` },
    { method: 'POST', path: `/api/blobs/${DIGEST}`, body: 'blob bytes' },
    { method: 'POST', path: '/herd/nodes', body: { name: 'intruder', url: newNodeUrl } },
    { method: 'PATCH', path: `/herd/nodes/${nodeName}`, body: { slots: 7 } },
    { method: 'POST', path: `/herd/nodes/${nodeName}/drain` },
    { method: 'POST', path: `/herd/nodes/${nodeName}/undrain` },
    { method: 'DELETE', path: `/herd/nodes/${nodeName}` },
  ];
}

async function call(base: string, c: Call, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = c.body === undefined ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
  const res = await fetch(`${base}${c.path}`, { method: c.method, headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; body: unknown }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as unknown };
}

/** Checks that a public view names the nodes but gives none of their addresses. */
function expectNoAddress(text: string, nodes: SimNode[]): void {
  for (const n of nodes) {
    expect(text).toContain(`"${n.name}"`);
    expect(text).not.toContain(n.url);
    expect(text).not.toContain(new URL(n.url).host);
  }
  expect(text).not.toMatch(/https?:\/\//);
  expect(text).not.toMatch(/"url"/);
}

const ADMIN_ROUTES_PATH = /\/api\/(pull|delete|copy|create|push|blobs)/;

let redis: EmbeddedRedis;
let n1: SimNode;
let n2: SimNode;
let trap: Trap;
/** No keys, on 0.0.0.0: admin routes and heartbeats locked. */
let open: { herd: RunningHerd; logs: string[] };
/** On 0.0.0.0 with both keys and an allow-list. */
let keyed: { herd: RunningHerd; logs: string[] };

type HeaderMap = Record<string, string>;
const admin: HeaderMap = { authorization: `Bearer ${ADMIN_KEY}` };
const nodeAuth: HeaderMap = { authorization: `Bearer ${NODE_KEY}` };

beforeAll(async () => {
  redis = await startRedis();
  n1 = await startSimNode({ name: 'n1', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], timeScale: 0 });
  n2 = await startSimNode({ name: 'n2', models: [{ name: 'llama3:latest' }], resident: [], timeScale: 0 });
  // On 127.0.0.2: loopback, but outside the allow-lists below (which name 127.0.0.1 at most).
  trap = await startTrap('127.0.0.2');
  open = await startWideHerd({ redisUrl: redis.url, nodes: [nodeConfig('n1', n1.url)] });
  keyed = await startWideHerd({
    redisUrl: redis.url,
    nodes: [nodeConfig('n1', n1.url)],
    adminKey: ADMIN_KEY,
    nodeKey: NODE_KEY,
    // The simulated nodes listen on 127.0.0.1; the trap on 127.0.0.2 is outside.
    nodeUrlAllow: nodeUrlAllow('10.0.0.0/8, 127.0.0.1/32, *.lab.internal'),
  });
});
afterAll(async () => {
  await open?.herd.close(0);
  await keyed?.herd.close(0);
  await trap?.close();
  await n1?.close();
  await n2?.close();
  await redis?.stop();
});

describe('admin routes', () => {
  it('start-up logs one warning naming HERD_ADMIN_KEY when they are locked, none when keys are set', () => {
    const warnings = (logs: string[]) => logs.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => l.level === 'warn');
    expect(warnings(open.logs)).toEqual([{ level: 'warn', msg: expect.stringMatching(/HERD_ADMIN_KEY .*not set and HOST is not loopback/) as unknown, time: expect.any(String) as unknown, host: '0.0.0.0', hint: expect.any(String) as unknown }]);
    expect(warnings(keyed.logs)).toEqual([]);
  });

  it.each(adminCalls('n1', 'http://127.0.0.2:1').map((c) => [`${c.method} ${c.path}`, c] as const))(
    '%s: 403 naming HERD_ADMIN_KEY when no key is set (whatever is sent), 401 without the key or with a wrong one when it is',
    async (_name, c0) => {
      const c: Call = c0.path === '/herd/nodes' ? { ...c0, body: { name: 'intruder', url: trap.url } } : c0;
      for (const headers of [{}, admin] as HeaderMap[]) {
        const r = await call(open.herd.url, c, headers);
        expect(r.status).toBe(403);
        if (c.method !== 'HEAD') expect(r.body).toEqual({ error: expect.stringContaining('HERD_ADMIN_KEY') as unknown });
      }
      for (const headers of [{}, { authorization: 'Bearer not-the-key' }, nodeAuth, { 'x-herd-admin-key': 'not-the-key' }] as HeaderMap[]) {
        const r = await call(keyed.herd.url, c, headers);
        expect(r.status).toBe(401);
        if (c.method !== 'HEAD') expect(r.body).toEqual({ error: expect.stringMatching(/admin key/) as unknown });
      }
    },
  );

  it('changed nothing while refusing, left inference open, and the admin key opens them', async () => {
    for (const { herd } of [open, keyed]) expect(herd.core.fleet.nodes().map((n) => [n.name, n.slots, n.draining ?? false])).toEqual([['n1', 1, false]]);
    expect(n1.log.filter((e) => ADMIN_ROUTES_PATH.test(e.route))).toEqual([]);
    expect(trap.requests()).toBe(0);
    for (const { herd } of [open, keyed]) {
      const r = await post(`${herd.url}/api/generate`, { model: 'llama3', prompt: 'hi', stream: false, options: { num_predict: 3 } });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-herd-node')).toBe('n1');
    }
    expect((await call(keyed.herd.url, { method: 'POST', path: '/herd/nodes/n1/drain' }, admin)).status).toBe(200);
    expect(keyed.herd.core.fleet.node('n1')?.draining).toBe(true);
    expect((await call(keyed.herd.url, { method: 'POST', path: '/herd/nodes/n1/undrain' }, { 'x-herd-admin-key': ADMIN_KEY })).status).toBe(200);
    expect(keyed.herd.core.fleet.node('n1')?.draining).toBe(false);
  });
});

describe('node self-registration (heartbeats)', () => {
  it('is refused with 403 naming HERD_NODE_KEY when no node key is set, without contacting the URL', async () => {
    for (const headers of [{}, admin] as HeaderMap[]) {
      const hb = await post(`${open.herd.url}/herd/nodes/heartbeat`, { name: 'intruder', url: trap.url, slots: 8 }, headers);
      expect(hb.status).toBe(403);
      expect(hb.body).toEqual({ error: expect.stringContaining('HERD_NODE_KEY') as unknown });
    }
    expect(open.herd.core.fleet.node('intruder')).toBeUndefined();
    expect(trap.requests()).toBe(0);
  });

  it('takes the node key only: not no key, not the admin key; and the node key opens nothing else', async () => {
    const beat = { name: 'n2', url: n2.url, slots: 2 };
    for (const headers of [{}, admin, { 'x-herd-admin-key': ADMIN_KEY }, { authorization: 'Bearer not-the-key' }] as HeaderMap[]) {
      const r = await post(`${keyed.herd.url}/herd/nodes/heartbeat`, beat, headers);
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: expect.stringMatching(/node key/) as unknown });
    }
    expect(keyed.herd.core.fleet.node('n2')).toBeUndefined();
    const ok = await post(`${keyed.herd.url}/herd/nodes/heartbeat`, beat, nodeAuth);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ ok: true, joined: true });
    expect(keyed.herd.core.fleet.node('n2')?.slots).toBe(2);
    expect((await post(`${keyed.herd.url}/herd/nodes/heartbeat`, beat, { 'x-herd-node-key': NODE_KEY })).body).toEqual({ ok: true, joined: false });
    expect((await call(keyed.herd.url, { method: 'POST', path: '/herd/nodes/n2/drain' }, nodeAuth)).status).toBe(401);
  });

  it('cannot move a node an operator configured to another URL', async () => {
    const r = await post(`${keyed.herd.url}/herd/nodes/heartbeat`, { name: 'n1', url: n2.url }, nodeAuth);
    expect(r.status).toBe(409);
    expect(keyed.herd.core.fleet.node('n1')?.url).toBe(n1.url);
  });
});

describe('HERD_NODE_URL_ALLOW', () => {
  it('refuses a URL outside it before sending it anything (admin add and heartbeat), and accepts one inside', async () => {
    const added = await post(`${keyed.herd.url}/herd/nodes`, { name: 'trap', url: trap.url }, admin);
    expect(added.status).toBe(403);
    expect(added.body).toEqual({ error: expect.stringMatching(/127\.0\.0\.2 is not in an address range of HERD_NODE_URL_ALLOW/) as unknown });
    const beat = await post(`${keyed.herd.url}/herd/nodes/heartbeat`, { name: 'trap', url: trap.url, slots: 4 }, nodeAuth);
    expect(beat.status).toBe(403);
    expect(beat.body.error).toMatch(/HERD_NODE_URL_ALLOW/);
    expect(keyed.herd.core.fleet.node('trap')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300)); // a health poll (every 500 ms) would have reached a joined node by now
    expect(trap.requests()).toBe(0);

    const extra = await startSimNode({ name: 'n3', models: [{ name: 'llama3:latest' }], timeScale: 0 });
    try {
      const r = await post(`${keyed.herd.url}/herd/nodes`, { name: 'n3', url: extra.url }, admin);
      expect(r.status).toBe(201);
      expect(extra.log.some((e) => e.route === '/api/tags')).toBe(true);
      expect((await call(keyed.herd.url, { method: 'DELETE', path: '/herd/nodes/n3' }, admin)).status).toBe(200);
    } finally {
      await extra.close();
    }
  });

  it('resolves a name no entry lists and refuses it when an address is outside the ranges, before any request', async () => {
    const local = await startTrap('127.0.0.1');
    // Loopback Herd, no keys: the routes are open, so only the allow-list stands between a URL and a request.
    const { herd } = await startWideHerd({ host: '127.0.0.1', redisUrl: redis.url, nodes: [nodeConfig('n1', n1.url)], nodeUrlAllow: nodeUrlAllow('10.0.0.0/8, *.lab.internal') });
    try {
      const port = new URL(local.url).port;
      const added = await post(`${herd.url}/herd/nodes`, { name: 'by-name', url: `http://localhost:${port}` });
      expect(added.status).toBe(403);
      expect(added.body.error).toMatch(/localhost resolves to .*outside the address ranges of HERD_NODE_URL_ALLOW/);
      const beat = await post(`${herd.url}/herd/nodes/heartbeat`, { name: 'by-name', url: `http://localhost:${port}` });
      expect(beat.status).toBe(403);
      const literal = await post(`${herd.url}/herd/nodes`, { name: 'by-ip', url: local.url });
      expect(literal.status).toBe(403);
      expect(local.requests()).toBe(0);
      expect(herd.core.fleet.nodes().map((n) => n.name)).toEqual(['n1']);
    } finally {
      await herd.close(0);
      await local.close();
    }
  });
});

describe('public read views', () => {
  it('show node names and states, not URLs, on /health, GET /herd/nodes and the dashboard data', async () => {
    for (const { herd } of [open, keyed]) {
      const health = await getJson(`${herd.url}/health`);
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ info: { nodes: { nodes: { n1: { status: 'healthy' } } } } });
      expectNoAddress(health.text, [n1]);
      // Nothing but the configured admin key shows URLs: not a wrong key, not the node key, not any key when none is set.
      for (const headers of [{}, { authorization: 'Bearer not-the-key' }, nodeAuth, ...(herd === open.herd ? [admin] : [])] as HeaderMap[]) {
        const list = await getJson(`${herd.url}/herd/nodes`, headers);
        expect(list.status).toBe(200);
        expect(list.body).toMatchObject({ nodes: expect.arrayContaining([expect.objectContaining({ name: 'n1', state: 'healthy' })]) as unknown });
        expectNoAddress(list.text, [n1]);
        const dash = await getJson(`${herd.url}/herd/dashboard`, headers);
        expect(dash.body).toMatchObject({ nodes: expect.arrayContaining([expect.objectContaining({ name: 'n1', state: 'healthy' })]) as unknown });
        expectNoAddress(dash.text, [n1]);
      }
    }
    expect((await getJson(`${open.herd.url}/herd/dashboard`)).body).toMatchObject({ adminLocked: true, adminKeyRequired: false });
  });

  it('show node URLs on GET /herd/nodes and the dashboard data with the admin key', async () => {
    const list = (await getJson(`${keyed.herd.url}/herd/nodes`, admin)).body as { nodes: { name: string; url: string }[] };
    expect(list.nodes.find((n) => n.name === 'n1')?.url).toBe(n1.url);
    const dash = (await getJson(`${keyed.herd.url}/herd/dashboard`, admin)).body as { adminKeyRequired: boolean; adminLocked: boolean; nodes: { name: string; url: string }[] };
    expect(dash).toMatchObject({ adminKeyRequired: true, adminLocked: false });
    expect(dash.nodes.find((n) => n.name === 'n1')?.url).toBe(n1.url);
    // Without the key the same views stay public.
    expect((await getJson(`${keyed.herd.url}/herd/nodes`)).text).not.toContain(n1.url);
  });

  it('keep a down node’s address out of its error', async () => {
    const gone = await startSimNode({ name: 'gone', models: [{ name: 'llama3:latest' }], timeScale: 0 });
    const wide = await startWideHerd({ redisUrl: redis.url, nodes: [nodeConfig('n1', n1.url), nodeConfig('gone', gone.url)], healthIntervalMs: 200 });
    try {
      await gone.close();
      await waitFor(() => wide.herd.core.fleet.nodeState('gone') === 'down', 5000, 'the node to be seen down');
      const health = await getJson(`${wide.herd.url}/health`);
      const list = await getJson(`${wide.herd.url}/herd/nodes`);
      const dash = await getJson(`${wide.herd.url}/herd/dashboard`);
      expect(health.body).toMatchObject({ info: { nodes: { nodes: { gone: { status: 'down', lastError: expect.any(String) as unknown } } } } });
      expect((list.body as { nodes: { name: string; lastError?: string }[] }).nodes.find((n) => n.name === 'gone')?.lastError).toEqual(expect.any(String));
      for (const text of [health.text, list.text, dash.text]) expectNoAddress(text, [n1, gone]);
    } finally {
      await wide.herd.close(0);
    }
  });
});
