import type { NodeConfig } from '../config/herd-config';
import { CLOSED } from '../fleet/circuit-breaker';
import type { NodeHealth } from '../fleet/fleet.types';
import type { NodeState } from '../fleet/fleet-registry';
import type { RequestRecord } from '../inference/request-events';
import { parseExposition, samplesOf, sumOf } from './exposition-parser';
import { HerdMetrics, NO_NODE, UNKNOWN_MODEL, type MetricsSource } from './herd-metrics';

function fakeSource(overrides: { loadsFail?: boolean; waiting?: Map<string, number> } = {}): MetricsSource {
  const nodes: NodeConfig[] = [
    { name: 'a', url: 'http://a', slots: 2, weight: 1, labels: {} },
    { name: 'b', url: 'http://b', slots: 1, weight: 1, labels: {}, draining: true },
  ];
  const health: Record<string, NodeHealth> = {
    a: { reachable: true, models: [{ name: 'llama3:latest' }, { name: 'qwen:7b' }], resident: ['llama3:latest'], failures: 0, checkedAt: 1 },
    b: { reachable: false, models: [{ name: 'llama3:latest' }], resident: [], failures: 3, checkedAt: 1 },
  };
  const states: Record<string, NodeState> = { a: 'healthy', b: 'draining' };
  return {
    config: { replicaId: 'r1', strategy: 'ect' },
    fleet: {
      nodes: () => nodes,
      isUp: (n: string) => health[n]?.reachable === true,
      nodeState: (n: string) => states[n],
      circuit: (n: string) => (n === 'b' ? { failures: 3, openUntil: Date.now() + 10_000, opens: 1, probing: false } : CLOSED),
      health: (n: string) => health[n],
      rates: (n: string, m: string) => (n === 'a' && m === 'llama3:latest' ? { decodeTps: 42.5, samples: 3 } : undefined),
      modelPresence: (m: string) => (m === 'llama3:latest' || m === 'qwen:7b' ? 'up' : 'absent'),
    },
    ledger: {
      loads: async () => {
        if (overrides.loadsFail) throw new Error('redis away');
        return new Map([['a', { inFlight: 2, backlogTokens: 640 }]]);
      },
    },
    queue: { countsByPriority: async () => (overrides.loadsFail ? Promise.reject(new Error('redis away')) : { 1: 2, 5: 7 }) },
    tenants: { waitingByTenant: async () => (overrides.loadsFail ? Promise.reject(new Error('redis away')) : (overrides.waiting ?? new Map([['team-a', 4]]))) },
    work: { counts: async (lane: string) => (overrides.loadsFail ? Promise.reject(new Error('redis away')) : lane === 'batch' ? { ready: 950, running: 2 } : { ready: 0, running: 1 }) },
  };
}

function record(extra: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: '7f1c9a52-3d1e-4c55-9a0e-2b8f6a1d0c11',
    route: '/api/generate',
    model: 'llama3:latest',
    priority: 5,
    replica: 'r1',
    stream: true,
    node: 'a',
    queueMs: 120,
    estimateMs: 1000,
    ttftMs: 300,
    serviceMs: 1500,
    durationMs: 1700,
    outcome: 'ok',
    status: 200,
    retries: 0,
    evalCount: 40,
    endedAt: Date.now(),
    ...extra,
  };
}

describe('HerdMetrics', () => {
  it('counts requests and observes durations, queue wait, TTFT, estimate error and tokens', async () => {
    const m = new HerdMetrics(fakeSource(), { defaultMetrics: false });
    m.observe(record());
    m.observe(record({ stream: false, evalCount: 10, retries: 1 }));
    const f = parseExposition(await m.render());
    expect(sumOf(f, 'herd_requests_total', { route: '/api/generate', model: 'llama3:latest', node: 'a', outcome: 'ok' })).toBe(2);
    expect(sumOf(f, 'herd_request_retries_total')).toBe(1);
    expect(sumOf(f, 'herd_tokens_generated_total', { model: 'llama3:latest', node: 'a' })).toBe(50);
    expect(sumOf(f, 'herd_request_duration_seconds_count')).toBe(2);
    expect(sumOf(f, 'herd_request_duration_seconds_sum')).toBeCloseTo(3.4);
    expect(sumOf(f, 'herd_queue_wait_seconds_sum', { model: 'llama3:latest' })).toBeCloseTo(0.24);
    // Only the streamed request, from arrival: 1700 - 1500 + 300 ms.
    expect(sumOf(f, 'herd_time_to_first_token_seconds_count')).toBe(1);
    expect(sumOf(f, 'herd_time_to_first_token_seconds_sum')).toBeCloseTo(0.5);
    expect(sumOf(f, 'herd_estimate_error_ratio_count')).toBe(2);
    expect(sumOf(f, 'herd_estimate_error_ratio_sum')).toBeCloseTo(3);
  });

  it('keeps labels bounded: unknown models collapse, requests without a node get a placeholder', async () => {
    const m = new HerdMetrics(fakeSource(), { defaultMetrics: false });
    m.observe(record({ model: 'made-up-by-a-client:latest', node: undefined, outcome: 'rejected', status: 404, queueMs: undefined, estimateMs: undefined, serviceMs: undefined, ttftMs: undefined }));
    const f = parseExposition(await m.render());
    expect(sumOf(f, 'herd_requests_total', { model: UNKNOWN_MODEL, node: NO_NODE, outcome: 'rejected' })).toBe(1);
    // A rejected request never entered the queue: no duration.
    expect(sumOf(f, 'herd_request_duration_seconds_count')).toBe(0);
    for (const fam of f.values()) for (const s of fam.samples) expect(Object.values(s.labels).join()).not.toContain('7f1c9a52');
  });

  it('counts requests, tokens and queue wait per tenant; a request refused before its caller was known is (unknown)', async () => {
    const m = new HerdMetrics(fakeSource(), { defaultMetrics: false });
    m.observe(record({ tenant: 'team-a', promptTokens: 12, evalCount: 40, queueMs: 100 }));
    m.observe(record({ tenant: 'team-a', promptTokens: 3, evalCount: 5, queueMs: 300 }));
    m.observe(record({ tenant: 'team-b', outcome: 'error', status: 502, promptTokens: 9, evalCount: undefined, queueMs: 50 }));
    m.observe(record({ tenant: undefined, node: undefined, outcome: 'rejected', status: 401, queueMs: undefined, evalCount: undefined }));
    const f = parseExposition(await m.render());
    expect(samplesOf(f, 'herd_tenant_requests_total').map((s) => [s.labels.tenant, s.labels.outcome, s.value])).toEqual([
      ['team-a', 'ok', 2],
      ['team-b', 'error', 1],
      ['(unknown)', 'rejected', 1],
    ]);
    expect(sumOf(f, 'herd_tenant_tokens_total', { tenant: 'team-a', kind: 'output' })).toBe(45);
    expect(sumOf(f, 'herd_tenant_tokens_total', { tenant: 'team-a', kind: 'prompt' })).toBe(15);
    // Only answered requests are charged tokens.
    expect(samplesOf(f, 'herd_tenant_tokens_total', { tenant: 'team-b' })).toHaveLength(0);
    expect(sumOf(f, 'herd_tenant_queue_wait_seconds_count', { tenant: 'team-a' })).toBe(2);
    expect(sumOf(f, 'herd_tenant_queue_wait_seconds_sum', { tenant: 'team-a' })).toBeCloseTo(0.4);
    expect(sumOf(f, 'herd_tenant_queue_wait_seconds_count', { tenant: 'team-b' })).toBe(1);
    expect(f.get('herd_tenant_queue_wait_seconds')?.type).toBe('histogram');
    expect(samplesOf(f, 'herd_tenant_waiting').map((s) => [s.labels.tenant, s.value])).toEqual([['team-a', 4]]);
  });

  it('names at most the cap of tenants and folds the others, waiting ones too, into (other)', async () => {
    const waiting = new Map([
      ['t1', 1],
      ['t9', 2],
      ['t8', 3],
    ]);
    const m = new HerdMetrics(fakeSource({ waiting }), { defaultMetrics: false, maxTenants: 2 });
    for (const tenant of ['t1', 't2', 't3', 't4', 't1']) m.observe(record({ tenant }));
    const f = parseExposition(await m.render());
    expect(samplesOf(f, 'herd_tenant_requests_total').map((s) => [s.labels.tenant, s.value])).toEqual([
      ['t1', 2],
      ['t2', 1],
      ['(other)', 2],
    ]);
    expect(samplesOf(f, 'herd_tenant_waiting').map((s) => [s.labels.tenant, s.value])).toEqual([
      ['t1', 1],
      ['(other)', 5],
    ]);
  });

  it('folds the case and trailing slash of a route (Express matches both)', async () => {
    const m = new HerdMetrics(fakeSource(), { defaultMetrics: false });
    for (const route of ['/api/generate', '/API/Generate', '/api/generate/']) m.observe(record({ route }));
    const f = parseExposition(await m.render());
    expect(samplesOf(f, 'herd_requests_total').map((s) => [s.labels.route, s.value])).toEqual([['/api/generate', 3]]);
  });

  it('computes fleet and queue gauges at scrape time', async () => {
    const f = parseExposition(await new HerdMetrics(fakeSource(), { defaultMetrics: false }).render());
    expect(sumOf(f, 'herd_node_up', { node: 'a' })).toBe(1);
    expect(sumOf(f, 'herd_node_up', { node: 'b' })).toBe(0);
    expect(samplesOf(f, 'herd_node_state', { node: 'b' }).map((s) => [s.labels.state, s.value])).toEqual([
      ['healthy', 0],
      ['degraded', 0],
      ['down', 0],
      ['draining', 1],
    ]);
    expect(sumOf(f, 'herd_node_slots', { node: 'a' })).toBe(2);
    expect(sumOf(f, 'herd_node_circuit_open', { node: 'b' })).toBe(1);
    expect(sumOf(f, 'herd_node_circuit_open', { node: 'a' })).toBe(0);
    expect(sumOf(f, 'herd_node_in_flight', { node: 'a' })).toBe(2);
    expect(sumOf(f, 'herd_node_in_flight', { node: 'b' })).toBe(0);
    expect(sumOf(f, 'herd_node_backlog_tokens', { node: 'a' })).toBe(640);
    expect(samplesOf(f, 'herd_learned_decode_tokens_per_second').map((s) => [s.labels.node, s.labels.model, s.value])).toEqual([['a', 'llama3:latest', 42.5]]);
    expect(samplesOf(f, 'herd_queue_depth')).toHaveLength(10);
    expect(sumOf(f, 'herd_queue_depth', { priority: '5' })).toBe(7);
    expect(sumOf(f, 'herd_work_items', { lane: 'batch', state: 'ready' })).toBe(950);
    expect(sumOf(f, 'herd_work_items', { lane: 'batch', state: 'running' })).toBe(2);
    expect(sumOf(f, 'herd_work_items', { lane: 'jobs', state: 'running' })).toBe(1);
    expect(sumOf(f, 'herd_redis_up')).toBe(1);
    expect(samplesOf(f, 'herd_info')[0].labels).toEqual({ replica: 'r1', strategy: 'ect' });
  });

  it('still answers when Redis does not: Redis-backed gauges are left out and herd_redis_up is 0', async () => {
    const f = parseExposition(await new HerdMetrics(fakeSource({ loadsFail: true }), { defaultMetrics: false }).render());
    expect(samplesOf(f, 'herd_node_in_flight')).toHaveLength(0);
    expect(samplesOf(f, 'herd_queue_depth')).toHaveLength(0);
    expect(samplesOf(f, 'herd_tenant_waiting')).toHaveLength(0);
    expect(samplesOf(f, 'herd_work_items')).toHaveLength(0);
    expect(sumOf(f, 'herd_redis_up')).toBe(0);
    expect(sumOf(f, 'herd_node_up', { node: 'a' })).toBe(1);
  });

  it('costs microseconds per request', () => {
    const m = new HerdMetrics(fakeSource(), { defaultMetrics: false });
    const r = record();
    for (let i = 0; i < 2000; i++) m.observe(r);
    const n = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) m.observe(r);
    const perCallUs = ((performance.now() - t0) * 1000) / n;
    expect(perCallUs).toBeLessThan(50);
  });

  it('exposes Node process metrics under the herd_ prefix', async () => {
    const f = parseExposition(await new HerdMetrics(fakeSource()).render());
    expect(f.has('herd_process_cpu_seconds_total')).toBe(true);
    for (const name of f.keys()) expect(name.startsWith('herd_')).toBe(true);
  });
});
