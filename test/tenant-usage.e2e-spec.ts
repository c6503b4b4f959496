import { startSimNode, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import type { RequestRecord } from '../src/inference/request-events';
import { parseExposition, samplesOf, sumOf, type MetricFamily } from '../src/metrics/exposition-parser';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import type { UsageRow } from '../src/usage/usage-rows';
import { nodeConfig, post, startTestHerd, waitFor, type Reply } from './support/herd';
import { startRedis, uniquePrefix } from './support/redis';

/**
 * Issue #12 item 3: per-tenant usage, kept in Redis and shared by the replicas. Two replicas on one Redis take
 * traffic from tenants a and b (keys off: X-Herd-Tenant); either replica's /herd/usage (JSON and CSV) reports
 * the requests and the simulator's token counts, /metrics has the herd_tenant_* families, and a replica that
 * stops writes what it counted last.
 */
jest.setTimeout(30_000);

const ADMIN = { authorization: 'Bearer usage-admin-key' };

let redis: EmbeddedRedis;
let node: SimNode;
let one: RunningHerd;
let two: RunningHerd;
let shared: Parameters<typeof startTestHerd>[0];

beforeAll(async () => {
  redis = await startRedis();
  // One slot, 100 tokens/s in real time: a 200-token answer holds the slot for about two seconds.
  node = await startSimNode({ name: 'one', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], slots: 1, decodeTps: 100 });
  shared = { redisUrl: redis.url, redisPrefix: uniquePrefix('usage'), adminKey: 'usage-admin-key', nodes: [nodeConfig('one', node.url, { slots: 1 })] };
  one = await startTestHerd(shared);
  two = await startTestHerd(shared);
});

afterAll(async () => {
  await one?.close(0);
  await two?.close(0);
  await node?.close();
  await redis?.stop();
});

interface Sent {
  requests: number;
  ok: number;
  promptTokens: number;
  outputTokens: number;
}
const sent = new Map<string, Sent>();

/** One generate for `tenant` through `herd`; what the node reported (its final chunk) is added to `sent`. */
async function generate(herd: RunningHerd, tenant: string, numPredict: number, stream = false): Promise<Reply> {
  const r = await post(`${herd.url}/api/generate`, { model: 'llama3', prompt: `usage of ${tenant}, ${numPredict} tokens`, stream, options: { num_predict: numPredict } }, { 'X-Herd-Tenant': tenant });
  expect(r.status).toBe(200);
  const lines = r.text.trim().split('\n');
  const final = JSON.parse(lines[lines.length - 1]) as { done: boolean; eval_count: number; prompt_eval_count: number };
  expect(final.done).toBe(true);
  const s = sent.get(tenant) ?? { requests: 0, ok: 0, promptTokens: 0, outputTokens: 0 };
  sent.set(tenant, { requests: s.requests + 1, ok: s.ok + 1, promptTokens: s.promptTokens + final.prompt_eval_count, outputTokens: s.outputTokens + final.eval_count });
  return r;
}

type Row = UsageRow;

async function usage(herd: RunningHerd, query = ''): Promise<{ status: number; body: { from: string; to: string; rows: Row[] } }> {
  const res = await fetch(`${herd.url}/herd/usage${query}`, { headers: ADMIN });
  return { status: res.status, body: (await res.json()) as { from: string; to: string; rows: Row[] } };
}

/** Yesterday and today (UTC), so a run across midnight still finds every row. */
function twoDays(): string {
  const today = new Date().toISOString().slice(0, 10);
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  return `?from=${yesterday}&to=${today}`;
}

/** A tenant's rows summed over the days. */
function total(rows: Row[], tenant: string): Omit<Row, 'day' | 'tenant' | 'queueWaitMsMean'> {
  const mine = rows.filter((r) => r.tenant === tenant);
  const sum = (k: 'requests' | 'ok' | 'error' | 'canceled' | 'rejected' | 'promptTokens' | 'outputTokens') => mine.reduce((a, r) => a + r[k], 0);
  return { requests: sum('requests'), ok: sum('ok'), error: sum('error'), canceled: sum('canceled'), rejected: sum('rejected'), promptTokens: sum('promptTokens'), outputTokens: sum('outputTokens') };
}

async function scrape(herd: RunningHerd): Promise<Map<string, MetricFamily>> {
  const res = await fetch(`${herd.url}/metrics`);
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}

describe('per-tenant usage shared by two replicas', () => {
  beforeAll(async () => {
    // Tenant a on both replicas, streamed and not; tenant b on the second; one request refused before its caller is known.
    await Promise.all([generate(one, 'a', 5), generate(one, 'a', 6), generate(two, 'a', 7, true), generate(two, 'b', 8), generate(two, 'b', 9, true), generate(one, 'b', 4)]);
    await generate(one, 'a', 3);
    const refused = await post(`${two.url}/api/generate`, { model: 'llama3', prompt: 'who am I' }, { 'X-Herd-Tenant': 'not a tenant!' });
    expect(refused.status).toBe(400);
    // Each replica writes at most once a second.
    await waitFor(async () => total((await usage(one, twoDays())).body.rows, '(unknown)').rejected === 1 && total((await usage(one, twoDays())).body.rows, 'a').requests === 4, 5000, 'usage in Redis');
  });

  it('reports requests and the tokens the node counted, per tenant, the same on either replica', async () => {
    const fromOne = await usage(one, twoDays());
    expect(fromOne.status).toBe(200);
    const rows = fromOne.body.rows;
    expect(total(rows, 'a')).toEqual({ ...sent.get('a'), error: 0, canceled: 0, rejected: 0 });
    expect(total(rows, 'b')).toEqual({ ...sent.get('b'), error: 0, canceled: 0, rejected: 0 });
    expect(total(rows, '(unknown)')).toEqual({ requests: 1, ok: 0, error: 0, canceled: 0, rejected: 1, promptTokens: 0, outputTokens: 0 });
    expect(sent.get('a')!.outputTokens).toBe(5 + 6 + 7 + 3);
    expect(sent.get('b')!.outputTokens).toBe(8 + 9 + 4);
    for (const r of rows.filter((x) => x.tenant === 'a' || x.tenant === 'b')) expect(r.queueWaitMsMean).toBeGreaterThanOrEqual(0);
    expect(rows.find((r) => r.tenant === '(unknown)')!.queueWaitMsMean).toBeNull();
    expect((await usage(two, twoDays())).body).toEqual(fromOne.body);
  });

  it('covers the last 30 days by default', async () => {
    const { status, body } = await usage(two);
    expect(status).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    expect(body.to).toBe(today);
    expect((Date.parse(body.to) - Date.parse(body.from)) / 86_400_000).toBe(29);
    expect(body.rows.some((r) => r.tenant === 'a' && r.day === today)).toBe(true);
  });

  it('answers CSV with Accept: text/csv, the same numbers as the JSON', async () => {
    const res = await fetch(`${two.url}/herd/usage${twoDays()}`, { headers: { ...ADMIN, accept: 'text/csv' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="herd-usage-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv"$/);
    const lines = (await res.text()).split('\r\n');
    expect(lines.pop()).toBe(''); // ends with a line break
    expect(lines[0]).toBe('day,tenant,requests,ok,error,canceled,rejected,promptTokens,outputTokens,queueWaitMsMean');
    const json = (await usage(two, twoDays())).body.rows;
    expect(lines.slice(1)).toEqual(json.map((r) => [r.day, r.tenant, r.requests, r.ok, r.error, r.canceled, r.rejected, r.promptTokens, r.outputTokens, r.queueWaitMsMean ?? ''].join(',')));
  });

  it('has herd_tenant_* metrics with the tenant names as labels, summed over the replicas', async () => {
    const scrapes = [await scrape(one), await scrape(two)];
    const both = (name: string, labels: Record<string, string>) => scrapes.reduce((a, f) => a + sumOf(f, name, labels), 0);
    for (const tenant of ['a', 'b']) {
      const s = sent.get(tenant)!;
      expect(both('herd_tenant_requests_total', { tenant, outcome: 'ok' })).toBe(s.ok);
      expect(both('herd_tenant_tokens_total', { tenant, kind: 'output' })).toBe(s.outputTokens);
      expect(both('herd_tenant_tokens_total', { tenant, kind: 'prompt' })).toBe(s.promptTokens);
      expect(both('herd_tenant_queue_wait_seconds_count', { tenant })).toBe(s.requests);
    }
    expect(both('herd_tenant_requests_total', { tenant: '(unknown)', outcome: 'rejected' })).toBe(1);
    expect(sumOf(scrapes[0], 'herd_tenant_requests_total', { tenant: 'b' })).toBe(1); // b sent one request through replica one
    expect(scrapes[0].get('herd_tenant_queue_wait_seconds')?.type).toBe('histogram');
    // Nothing waits now.
    for (const f of scrapes) expect(samplesOf(f, 'herd_tenant_waiting')).toEqual([]);
  });

  it('shows the requests waiting per tenant, read from Redis by every replica, and on the dashboard', async () => {
    const running = generate(one, 'c', 200); // holds the only slot for about two seconds
    await waitFor(() => one.core.inference.runningCount() === 1, 5000, 'the long request to start');
    const waiting = [generate(two, 'c', 2), generate(two, 'c', 2), generate(one, 'd', 2), generate(one, 'd', 2), generate(two, 'd', 2)];
    const gauge = (f: Map<string, MetricFamily>) => Object.fromEntries(samplesOf(f, 'herd_tenant_waiting').map((s) => [s.labels.tenant, s.value]));
    let seen: Record<string, number> = {};
    await waitFor(async () => ((seen = gauge(await scrape(one))), seen.c === 2 && seen.d === 3), 5000, 'five requests waiting');
    expect(seen).toEqual({ c: 2, d: 3 });
    expect(gauge(await scrape(two))).toEqual({ c: 2, d: 3 });

    const view = (await (await fetch(`${two.url}/herd/dashboard`, { headers: ADMIN })).json()) as { tenants: { rows: { tenant: string; waiting: number; serviceShare: number | null; weightShare: number }[] } };
    const row = (t: string) => view.tenants.rows.find((r) => r.tenant === t);
    expect(row('c')?.waiting).toBe(2);
    expect(row('d')?.waiting).toBe(3);
    expect(row('a')?.serviceShare).toBeGreaterThan(0);
    expect(row('b')?.serviceShare).toBeGreaterThan(0);
    expect(view.tenants.rows.reduce((a, r) => a + r.weightShare, 0)).toBeCloseTo(1);
    // Without the admin key the dashboard's public view leaves tenants out.
    expect(((await (await fetch(`${two.url}/herd/dashboard`)).json()) as { tenants: unknown }).tenants).toBeNull();
    await Promise.all([running, ...waiting]);
  });

  it('writes what a replica counted last when it stops', async () => {
    const three = await startTestHerd(shared);
    const seen = new Promise<RequestRecord>((resolve) => three.core.events.on((r) => r.tenant === 'e' && resolve(r)));
    try {
      await generate(three, 'e', 4);
      await seen;
    } finally {
      await three.close(0); // well within the second before its regular write
    }
    const rows = (await usage(one, twoDays())).body.rows;
    expect(total(rows, 'e')).toMatchObject({ requests: 1, ok: 1, outputTokens: 4 });
  });
});

describe('GET /herd/usage refuses what it cannot answer', () => {
  it('needs the admin key', async () => {
    const res = await fetch(`${one.url}/herd/usage`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: expect.stringMatching(/admin key required/) });
  });

  it.each([
    ['?from=2025-02-30', /^from must be a day YYYY-MM-DD/],
    ['?to=tomorrow', /^to must be a day YYYY-MM-DD/],
    ['?from=2025-03-05&to=2025-03-01', /^from \(2025-03-05\) is after to \(2025-03-01\)$/],
    ['?from=2023-01-01&to=2025-01-01', /^the range covers 732 days; ask for at most 366 at once$/],
    ['?from=2025-03-01&from=2025-03-02', /^from must be given once/],
    ['?day=2025-03-01', /^unknown query parameter "day"/],
  ])('%s is a 400 in Ollama error shape', async (query, message) => {
    const res = await fetch(`${one.url}/herd/usage${query}`, { headers: ADMIN });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toMatch(message);
  });
});
