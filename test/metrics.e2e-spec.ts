import { startSimNode, type SimNode } from '../sim';
import { startHerd, type RunningHerd } from '../src/bootstrap';
import { Logger } from '../src/common/logger';
import { parseExposition, samplesOf, sumOf, type MetricFamily } from '../src/metrics/exposition-parser';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, post, testConfig, waitFor } from './support/herd';
import { startRedis } from './support/redis';

jest.setTimeout(20_000);

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

let redis: EmbeddedRedis;
let node: SimNode;
let herd: RunningHerd;
const logLines: Record<string, unknown>[] = [];
const requestIds = new Set<string>();

beforeAll(async () => {
  redis = await startRedis();
  // One slot, 50 tokens/s at a tenth of real time: 6 tokens take ~12 ms, 500 tokens ~1 s.
  node = await startSimNode({ name: 'm1', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], slots: 1, decodeTps: 50, timeScale: 0.1 });
  const config = testConfig({ redisUrl: redis.url, nodes: [nodeConfig('m1', node.url, { slots: 1 })], logLevel: 'info', logFormat: 'json' });
  herd = await startHerd(config, new Logger('info', 'json', (line) => logLines.push(JSON.parse(line) as Record<string, unknown>)));
});

afterAll(async () => {
  await herd?.close(0);
  await node?.close();
  await redis?.stop();
});

async function scrape(): Promise<Map<string, MetricFamily>> {
  const res = await fetch(`${herd.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(await res.text());
}

const requestCount = (f: Map<string, MetricFamily>): number => sumOf(f, 'herd_requests_total');

async function generate(path: '/ollama/generate' | '/api/generate', body: Record<string, unknown>): Promise<{ status: number; evalCount: number }> {
  const r = await post(`${herd.url}${path}`, body);
  const id = r.headers.get('x-request-id');
  if (id) requestIds.add(id);
  if (r.status !== 200) return { status: r.status, evalCount: 0 };
  // Non-streamed: one object. Streamed: NDJSON whose last line has the totals.
  const lines = r.text.trim().split('\n');
  const final = JSON.parse(lines[lines.length - 1]) as { done: boolean; eval_count: number };
  expect(final.done).toBe(true);
  return { status: r.status, evalCount: final.eval_count };
}

describe('GET /metrics', () => {
  it('counts every request once, by route, model, node and outcome, and observes its timings', async () => {
    const before = await scrape();
    const replies = await Promise.all([
      ...[5, 6, 7, 8].map((n) => generate('/ollama/generate', { model: 'llama3', prompt: `whole ${n}`, options: { num_predict: n } })),
      ...[4, 5, 6].map((n) => generate('/api/generate', { model: 'llama3', prompt: `stream ${n}`, stream: true, options: { num_predict: n } })),
      generate('/api/generate', { model: 'no-such-model', prompt: 'x' }),
    ]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 404]);
    const tokens = replies.reduce((a, r) => a + r.evalCount, 0);
    expect(tokens).toBe(5 + 6 + 7 + 8 + 4 + 5 + 6);

    // The record is emitted once the request is fully done (slot released), a moment after the client has its answer.
    let after = await scrape();
    await waitFor(async () => requestCount((after = await scrape())) - requestCount(before) >= 8, 5000, 'eight requests on /metrics');
    const delta = (name: string, match: Record<string, string> = {}) => sumOf(after, name, match) - sumOf(before, name, match);

    expect(requestCount(after) - requestCount(before)).toBe(8);
    expect(delta('herd_requests_total', { route: '/ollama/generate', model: 'llama3:latest', node: 'm1', outcome: 'ok' })).toBe(4);
    expect(delta('herd_requests_total', { route: '/api/generate', model: 'llama3:latest', node: 'm1', outcome: 'ok' })).toBe(3);
    // A model nobody has does not become a label value: clients could otherwise mint series at will.
    expect(delta('herd_requests_total', { route: '/api/generate', model: '(unknown)', node: '(none)', outcome: 'rejected' })).toBe(1);
    expect(delta('herd_tokens_generated_total', { model: 'llama3:latest', node: 'm1' })).toBe(tokens);

    expect(delta('herd_request_duration_seconds_count')).toBe(7);
    expect(delta('herd_queue_wait_seconds_count', { model: 'llama3:latest' })).toBe(7);
    expect(delta('herd_time_to_first_token_seconds_count', { route: '/api/generate' })).toBe(3);
    expect(delta('herd_time_to_first_token_seconds_count', { route: '/ollama/generate' })).toBe(0);
    expect(delta('herd_estimate_error_ratio_count')).toBe(7);
    expect(delta('herd_request_duration_seconds_sum')).toBeGreaterThan(0);

    // Histograms come with their buckets (the parser already checked they are cumulative and end at +Inf = _count).
    for (const name of ['herd_request_duration_seconds', 'herd_queue_wait_seconds', 'herd_time_to_first_token_seconds', 'herd_estimate_error_ratio']) {
      expect(after.get(name)?.type).toBe('histogram');
      const les = samplesOf(after, `${name}_bucket`).map((s) => s.labels.le);
      expect(les).toContain('+Inf');
      expect(new Set(les).size).toBeGreaterThanOrEqual(10);
    }
    expect(after.get('herd_requests_total')?.type).toBe('counter');

    // No label anywhere carries a request id (the ids the clients got back are known here).
    expect(requestIds.size).toBe(7);
    for (const family of after.values()) {
      for (const s of family.samples) {
        for (const value of Object.values(s.labels)) {
          expect(value).not.toMatch(UUID);
          expect(requestIds.has(value)).toBe(false);
        }
      }
    }
  });

  it('writes one structured log line per request, without the prompt', async () => {
    const lines = logLines.filter((l) => l.msg === 'request');
    expect(lines.length).toBeGreaterThanOrEqual(8);
    const ok = lines.find((l) => l.route === '/ollama/generate' && l.outcome === 'ok')!;
    expect(ok).toMatchObject({ level: 'info', model: 'llama3:latest', node: 'm1', priority: 5, status: 200, retries: 0 });
    for (const key of ['id', 'queueMs', 'durationMs', 'estimateMs', 'serviceMs']) expect(ok).toHaveProperty(key);
    expect(requestIds.has(ok.id as string)).toBe(true);
    const rejected = lines.find((l) => l.outcome === 'rejected')!;
    expect(rejected).toMatchObject({ status: 404, model: 'no-such-model:latest', errorCode: 'HERD_MODEL_NOT_FOUND' });
    expect(rejected).not.toHaveProperty('node');
    expect(JSON.stringify(lines)).not.toMatch(/whole 5|stream 4/);
  });

  it('counts and logs inference requests refused before the queue (bad JSON, invalid body), and nothing else', async () => {
    const before = await scrape();
    const logged = logLines.length;
    const replies = await Promise.all([
      post(`${herd.url}/api/generate`, '{"model": "llama3", '),
      post(`${herd.url}/api/chat`, { messages: 'not a list' }),
      post(`${herd.url}/v1/chat/completions`, { model: 'llama3' }),
      post(`${herd.url}/api/show`, { nothing: true }),
    ]);
    expect(replies.map((r) => r.status)).toEqual([400, 400, 400, 400]);
    const after = await scrape();
    const delta = (match: Record<string, string>) => sumOf(after, 'herd_requests_total', match) - sumOf(before, 'herd_requests_total', match);
    expect(delta({ outcome: 'rejected' })).toBe(3);
    for (const route of ['/api/generate', '/api/chat', '/v1/chat/completions']) expect(delta({ route, model: '(unknown)', node: '(none)', outcome: 'rejected' })).toBe(1);
    const lines = logLines.slice(logged).filter((l) => l.msg === 'request');
    expect(lines.map((l) => l.route).sort()).toEqual(['/api/chat', '/api/generate', '/v1/chat/completions']);
    for (const l of lines) expect(l).toMatchObject({ status: 400, outcome: 'rejected', errorCode: 'HERD_BAD_REQUEST' });
    expect(String(lines.find((l) => l.route === '/api/generate')?.error)).toContain('invalid JSON');
  });

  it('reports node gauges computed from the fleet at scrape time', async () => {
    const f = await scrape();
    expect(sumOf(f, 'herd_node_up', { node: 'm1' })).toBe(1);
    expect(samplesOf(f, 'herd_node_state', { node: 'm1' }).map((s) => [s.labels.state, s.value])).toEqual([
      ['healthy', 1],
      ['degraded', 0],
      ['down', 0],
      ['draining', 0],
    ]);
    expect(sumOf(f, 'herd_node_slots', { node: 'm1' })).toBe(1);
    expect(sumOf(f, 'herd_node_circuit_open', { node: 'm1' })).toBe(0);
    expect(samplesOf(f, 'herd_node_in_flight', { node: 'm1' })).toHaveLength(1);
    expect(samplesOf(f, 'herd_node_backlog_tokens', { node: 'm1' })).toHaveLength(1);
    // Learned from the answers of the first test: ~50 tokens/s of simulated time.
    const [rate] = samplesOf(f, 'herd_learned_decode_tokens_per_second', { node: 'm1', model: 'llama3:latest' });
    expect(rate.value).toBeGreaterThan(10);
    expect(samplesOf(f, 'herd_queue_depth').map((s) => s.labels.priority)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
    expect(sumOf(f, 'herd_redis_up')).toBe(1);
    expect(samplesOf(f, 'herd_info')[0].labels.replica).toBe(herd.core.config.replicaId);
    expect(f.has('herd_process_resident_memory_bytes')).toBe(true);
  });

  it('shows a busy node: in flight, backlog and queue depth by priority', async () => {
    const long = generate('/ollama/generate', { model: 'llama3', prompt: 'long', options: { num_predict: 500 } });
    await waitFor(() => node.active() === 1, 5000, 'the long request to start');
    const queued = generate('/ollama/generate', { model: 'llama3', prompt: 'urgent', priority: 2, options: { num_predict: 3 } });
    await waitFor(async () => (await herd.core.queue.waitingCount()) === 1, 5000, 'a request to wait');
    const busy = await scrape();
    expect(sumOf(busy, 'herd_node_in_flight', { node: 'm1' })).toBe(1);
    // The 500 tokens (plus prompt), counted down as the request progresses through its estimate.
    expect(sumOf(busy, 'herd_node_backlog_tokens', { node: 'm1' })).toBeGreaterThan(40);
    expect(sumOf(busy, 'herd_queue_depth', { priority: '2' })).toBe(1);
    expect(sumOf(busy, 'herd_queue_depth')).toBe(1);
    expect((await Promise.all([long, queued])).map((r) => r.status)).toEqual([200, 200]);
    await waitFor(async () => sumOf(await scrape(), 'herd_node_in_flight', { node: 'm1' }) === 0, 3000, 'the slot to be released');
  });

  it('shows a drained node as draining', async () => {
    expect((await post(`${herd.url}/herd/nodes/m1/drain`, {})).status).toBe(200);
    try {
      const f = await scrape();
      expect(sumOf(f, 'herd_node_state', { node: 'm1', state: 'draining' })).toBe(1);
      expect(sumOf(f, 'herd_node_state', { node: 'm1', state: 'healthy' })).toBe(0);
    } finally {
      expect((await post(`${herd.url}/herd/nodes/m1/undrain`, {})).status).toBe(200);
    }
  });
});
