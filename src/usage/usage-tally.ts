import type { RequestRecord } from '../inference/request-events';
import { TenantLabels } from './tenant-labels';
import { DAY_MS, utcDay } from './usage-days';

/** What is counted per tenant and UTC day; each is one integer field in Redis. */
export const USAGE_FIELDS = ['requests', 'ok', 'error', 'canceled', 'rejected', 'promptTokens', 'outputTokens', 'queueWaitMs', 'queueWaitCount'] as const;
export type UsageField = (typeof USAGE_FIELDS)[number];
export type UsageCounts = Record<UsageField, number>;

/** What is counted per tenant and minute, for the dashboard's share of service over the last minutes. */
export interface RecentCounts {
  requests: number;
  promptTokens: number;
  outputTokens: number;
  /** The tenant's share weight on its last request (absent when the record did not carry one). */
  weight?: number;
}

/** Counts not yet written to Redis: per day then tenant, and per epoch minute then tenant. */
export interface UsageBatch {
  days: Map<string, Map<string, UsageCounts>>;
  minutes: Map<number, Map<string, RecentCounts>>;
}

export const MINUTE_MS = 60_000;

function emptyCounts(): UsageCounts {
  return { requests: 0, ok: 0, error: 0, canceled: 0, rejected: 0, promptTokens: 0, outputTokens: 0, queueWaitMs: 0, queueWaitCount: 0 };
}

function entry<K, V>(map: Map<K, Map<string, V>>, key: K, tenant: string, make: () => V): V {
  let inner = map.get(key);
  if (!inner) map.set(key, (inner = new Map<string, V>()));
  let value = inner.get(tenant);
  if (!value) inner.set(tenant, (value = make()));
  return value;
}

const tokens = (n: number | undefined): number => (n !== undefined && Number.isFinite(n) && n > 0 ? Math.round(n) : 0);

/** The share weight a record carries (absent on records of requests refused before their caller was known). */
function weightOf(r: RequestRecord): number | undefined {
  const w = r.weight;
  return typeof w === 'number' && Number.isFinite(w) && w > 0 ? w : undefined;
}

/**
 * This replica's usage since its last write to Redis. `add` runs once per finished request (a few map look-ups
 * and additions); `take` hands the batch over for one transaction and starts a new one. Tokens count only for
 * requests that ended well (prompt tokens as the node reported them, or Herd's estimate when its answer has no
 * prompt_eval_count; output tokens its eval_count); queue wait for every request that was admitted. Requests
 * refused before their caller was known count under "(unknown)". Each day names at most MAX_TENANT_LABELS
 * tenants per replica.
 */
export class UsageTally {
  private batch: UsageBatch = { days: new Map(), minutes: new Map() };
  private readonly labels = new Map<string, TenantLabels>();
  private today = { start: 0, end: 0, day: '' };

  constructor(private readonly maxTenants?: number) {}

  get empty(): boolean {
    return this.batch.days.size === 0 && this.batch.minutes.size === 0;
  }

  add(r: RequestRecord): void {
    const day = this.dayOf(r.endedAt);
    const tenant = this.labelsOf(day).label(r.tenant);
    const c = entry(this.batch.days, day, tenant, emptyCounts);
    c.requests++;
    c[r.outcome]++;
    if (r.queueMs !== undefined && Number.isFinite(r.queueMs)) {
      c.queueWaitMs += Math.max(0, Math.round(r.queueMs));
      c.queueWaitCount++;
    }
    if (r.outcome === 'rejected') return;
    const prompt = r.outcome === 'ok' ? tokens(r.promptTokens) : 0;
    const output = r.outcome === 'ok' ? tokens(r.evalCount) : 0;
    c.promptTokens += prompt;
    c.outputTokens += output;
    const m = entry(this.batch.minutes, Math.floor(r.endedAt / MINUTE_MS), tenant, (): RecentCounts => ({ requests: 0, promptTokens: 0, outputTokens: 0 }));
    m.requests++;
    m.promptTokens += prompt;
    m.outputTokens += output;
    const weight = weightOf(r);
    if (weight !== undefined) m.weight = weight;
  }

  /** The counts so far; the tally starts empty again. */
  take(): UsageBatch {
    const batch = this.batch;
    this.batch = { days: new Map(), minutes: new Map() };
    return batch;
  }

  /** A batch that could not be written goes back, added to whatever came in meanwhile. */
  restore(batch: UsageBatch): void {
    for (const [day, tenants] of batch.days) {
      for (const [tenant, counts] of tenants) {
        const c = entry(this.batch.days, day, tenant, emptyCounts);
        for (const f of USAGE_FIELDS) c[f] += counts[f];
      }
    }
    for (const [minute, tenants] of batch.minutes) {
      for (const [tenant, counts] of tenants) {
        const m = entry(this.batch.minutes, minute, tenant, (): RecentCounts => ({ requests: 0, promptTokens: 0, outputTokens: 0 }));
        m.requests += counts.requests;
        m.promptTokens += counts.promptTokens;
        m.outputTokens += counts.outputTokens;
        if (m.weight === undefined && counts.weight !== undefined) m.weight = counts.weight;
      }
    }
  }

  /** The record's UTC day; the current one is remembered, so most records cost a comparison. */
  private dayOf(ms: number): string {
    if (ms >= this.today.start && ms < this.today.end) return this.today.day;
    const start = Math.floor(ms / DAY_MS) * DAY_MS;
    const day = utcDay(start);
    if (start > this.today.start) this.today = { start, end: start + DAY_MS, day };
    return day;
  }

  /** One bounded set of names per day; days before yesterday are forgotten. */
  private labelsOf(day: string): TenantLabels {
    let labels = this.labels.get(day);
    if (!labels) {
      this.labels.set(day, (labels = new TenantLabels(this.maxTenants)));
      const yesterday = utcDay(this.today.start - DAY_MS);
      for (const d of this.labels.keys()) if (d < yesterday) this.labels.delete(d);
    }
    return labels;
  }
}
