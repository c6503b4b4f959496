import { USAGE_FIELDS, type UsageCounts, type UsageField } from './usage-tally';

/** One line of `GET /herd/usage`: a tenant's usage on one UTC day. */
export interface UsageRow {
  day: string;
  tenant: string;
  requests: number;
  ok: number;
  error: number;
  canceled: number;
  rejected: number;
  promptTokens: number;
  outputTokens: number;
  /** Mean wait from admission to a slot, over the requests that were admitted; null when none was. */
  queueWaitMsMean: number | null;
}

export interface UsageReport {
  from: string;
  to: string;
  rows: UsageRow[];
}

/** Fields of a usage hash are `tenant|field` (tenant names never hold a `|`). */
export function usageField(tenant: string, field: string): string {
  return `${tenant}|${field}`;
}

export function splitUsageField(name: string): { tenant: string; field: string } | undefined {
  const cut = name.lastIndexOf('|');
  return cut > 0 ? { tenant: name.slice(0, cut), field: name.slice(cut + 1) } : undefined;
}

const FIELDS = new Set<string>(USAGE_FIELDS);

/** One day's hash as rows, by tenant name; unknown fields are ignored. */
export function rowsOfDay(day: string, hash: Record<string, string>): UsageRow[] {
  const byTenant = new Map<string, Partial<UsageCounts>>();
  for (const [name, value] of Object.entries(hash)) {
    const parts = splitUsageField(name);
    if (!parts || !FIELDS.has(parts.field)) continue;
    const n = Number(value);
    if (!Number.isFinite(n)) continue;
    let counts = byTenant.get(parts.tenant);
    if (!counts) byTenant.set(parts.tenant, (counts = {}));
    counts[parts.field as UsageField] = n;
  }
  return [...byTenant]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([tenant, c]) => {
      const waits = c.queueWaitCount ?? 0;
      return {
        day,
        tenant,
        requests: c.requests ?? 0,
        ok: c.ok ?? 0,
        error: c.error ?? 0,
        canceled: c.canceled ?? 0,
        rejected: c.rejected ?? 0,
        promptTokens: c.promptTokens ?? 0,
        outputTokens: c.outputTokens ?? 0,
        queueWaitMsMean: waits > 0 ? Math.round(((c.queueWaitMs ?? 0) / waits) * 10) / 10 : null,
      };
    });
}
