import type { RequestRecord } from '../inference/request-events';
import { recentService } from './recent-service';
import { OTHER_TENANT, TenantLabels, UNKNOWN_TENANT } from './tenant-labels';
import { rowsOfDay, usageField } from './usage-rows';
import { UsageTally, type UsageBatch } from './usage-tally';

const T0 = Date.parse('2025-03-10T12:00:30Z');

function record(extra: Partial<RequestRecord> = {}): RequestRecord {
  return { id: 'x', route: '/api/generate', model: 'llama3:latest', priority: 5, tenant: 'a', replica: 'r1', stream: false, queueMs: 10, durationMs: 50, outcome: 'ok', status: 200, promptTokens: 7, evalCount: 20, retries: 0, endedAt: T0, ...extra };
}

/** A batch as Redis would hold it: one hash per day, fields `tenant|field`. */
function dayHashes(batch: UsageBatch): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const [day, tenants] of batch.days) {
    const hash: Record<string, string> = {};
    for (const [tenant, counts] of tenants) for (const [f, v] of Object.entries(counts)) if (v !== 0) hash[usageField(tenant, f)] = String(v);
    out.set(day, hash);
  }
  return out;
}

function minuteHashes(batch: UsageBatch): Record<string, string>[] {
  return [...batch.minutes.values()].map((tenants) => {
    const hash: Record<string, string> = {};
    for (const [tenant, c] of tenants) {
      hash[usageField(tenant, 'requests')] = String(c.requests);
      hash[usageField(tenant, 'promptTokens')] = String(c.promptTokens);
      hash[usageField(tenant, 'outputTokens')] = String(c.outputTokens);
      if (c.weight !== undefined) hash[usageField(tenant, 'weight')] = String(c.weight);
    }
    return hash;
  });
}

describe('UsageTally', () => {
  it('counts requests, outcomes, tokens of answered requests and queue wait, per tenant and day', () => {
    const t = new UsageTally();
    t.add(record());
    t.add(record({ queueMs: 31, promptTokens: 3, evalCount: 5 }));
    t.add(record({ outcome: 'error', status: 502, queueMs: 2, promptTokens: 9, evalCount: undefined }));
    t.add(record({ outcome: 'canceled', status: 499, queueMs: undefined }));
    t.add(record({ outcome: 'rejected', status: 404, queueMs: undefined, promptTokens: undefined, evalCount: undefined }));
    t.add(record({ tenant: 'b', queueMs: 0, promptTokens: 100, evalCount: 1 }));
    t.add(record({ tenant: undefined, outcome: 'rejected', status: 401, queueMs: undefined }));
    const batch = t.take();
    expect(t.empty).toBe(true);
    expect(rowsOfDay('2025-03-10', dayHashes(batch).get('2025-03-10')!)).toEqual([
      { day: '2025-03-10', tenant: UNKNOWN_TENANT, requests: 1, ok: 0, error: 0, canceled: 0, rejected: 1, promptTokens: 0, outputTokens: 0, queueWaitMsMean: null },
      { day: '2025-03-10', tenant: 'a', requests: 5, ok: 2, error: 1, canceled: 1, rejected: 1, promptTokens: 10, outputTokens: 25, queueWaitMsMean: 14.3 },
      { day: '2025-03-10', tenant: 'b', requests: 1, ok: 1, error: 0, canceled: 0, rejected: 0, promptTokens: 100, outputTokens: 1, queueWaitMsMean: 0 },
    ]);
  });

  it('puts each request on the UTC day it ended', () => {
    const t = new UsageTally();
    t.add(record({ endedAt: Date.parse('2025-03-10T23:59:59.999Z') }));
    t.add(record({ endedAt: Date.parse('2025-03-11T00:00:00Z') }));
    t.add(record({ endedAt: Date.parse('2025-03-10T10:00:00Z') })); // late record of the day before
    const days = dayHashes(t.take());
    expect([...days.keys()].sort()).toEqual(['2025-03-10', '2025-03-11']);
    expect(days.get('2025-03-10')!['a|requests']).toBe('2');
    expect(days.get('2025-03-11')!['a|requests']).toBe('1');
  });

  it('gives a batch that could not be written back, added to what came since', () => {
    const t = new UsageTally();
    t.add(record());
    const failed = t.take();
    t.add(record({ evalCount: 1 }));
    t.restore(failed);
    const rows = rowsOfDay('2025-03-10', dayHashes(t.take()).get('2025-03-10')!);
    expect(rows).toEqual([expect.objectContaining({ tenant: 'a', requests: 2, ok: 2, outputTokens: 21, promptTokens: 14 })]);
  });

  it('names at most the cap of tenants a day and folds the rest into (other)', () => {
    const t = new UsageTally(2);
    for (const tenant of ['a', 'b', 'c', 'd', 'a']) t.add(record({ tenant }));
    t.add(record({ tenant: 'c', endedAt: T0 + 86_400_000 })); // a new day, a new set of names
    const days = dayHashes(t.take());
    expect(rowsOfDay('2025-03-10', days.get('2025-03-10')!).map((r) => [r.tenant, r.requests])).toEqual([
      [OTHER_TENANT, 2],
      ['a', 2],
      ['b', 1],
    ]);
    expect(rowsOfDay('2025-03-11', days.get('2025-03-11')!).map((r) => r.tenant)).toEqual(['c']);
  });

  it('keeps per-minute service for the dashboard, without rejections, with the last weight a record carried', () => {
    const t = new UsageTally();
    t.add(record({ promptTokens: 10, evalCount: 30 }));
    t.add({ ...record({ tenant: 'b', promptTokens: 5, evalCount: 5 }), weight: 3 });
    t.add(record({ tenant: 'b', endedAt: T0 + 60_000, promptTokens: 1, evalCount: 1 }));
    t.add(record({ tenant: 'c', outcome: 'rejected' }));
    const service = recentService(minuteHashes(t.take()));
    expect(service.sort((x, y) => x.tenant.localeCompare(y.tenant))).toEqual([
      { tenant: 'a', requests: 1, promptTokens: 10, outputTokens: 30, weight: 1 },
      { tenant: 'b', requests: 2, promptTokens: 6, outputTokens: 6, weight: 3 },
    ]);
  });
});

describe('rowsOfDay', () => {
  it('ignores fields it does not know and values that are not numbers', () => {
    expect(rowsOfDay('2025-03-10', { 'a|requests': '2', 'a|bogus': '9', 'a|ok': 'x', nobar: '1', '|requests': '4' })).toEqual([
      { day: '2025-03-10', tenant: 'a', requests: 2, ok: 0, error: 0, canceled: 0, rejected: 0, promptTokens: 0, outputTokens: 0, queueWaitMsMean: null },
    ]);
  });
});

describe('TenantLabels', () => {
  it('keeps the first names up to the cap, then answers (other); a missing tenant is (unknown)', () => {
    const labels = new TenantLabels(2);
    expect(['a', 'b', 'c', 'a', 'b', 'd'].map((t) => labels.label(t))).toEqual(['a', 'b', OTHER_TENANT, 'a', 'b', OTHER_TENANT]);
    expect(labels.label(undefined)).toBe(UNKNOWN_TENANT);
  });
});
