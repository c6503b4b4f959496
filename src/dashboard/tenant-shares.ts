import { serviceCost } from '../scheduler/fair-order';
import type { TenantService } from '../usage/recent-service';

/** One tenant in the dashboard's tenants view: its service over the last minutes against its weight, and its queue. */
export interface DashboardTenant {
  tenant: string;
  requests: number;
  promptTokens: number;
  outputTokens: number;
  /** Tokens weighed as the fair-share counter weighs them (an output token costs more than a prompt token). */
  service: number;
  /** Its part of all the service in the window, 0..1; null when nobody was served. */
  serviceShare: number | null;
  weight: number;
  /** Its weight over the weights of every tenant in the view (served in the window or waiting now). */
  weightShare: number;
  /** Requests waiting now; null when Redis did not say. */
  waiting: number | null;
}

export interface DashboardTenants {
  windowSeconds: number;
  rows: DashboardTenant[];
  /** Tenants past MAX_ROWS, left out of `rows` (the least served). */
  more: number;
}

export const MAX_ROWS = 100;

/** Tenants served in the window or waiting now, most served first. */
export function tenantShares(served: readonly TenantService[] | undefined, waiting: ReadonlyMap<string, number> | undefined, windowSeconds: number): DashboardTenants {
  const byTenant = new Map<string, TenantService>();
  for (const s of served ?? []) byTenant.set(s.tenant, s);
  for (const tenant of waiting?.keys() ?? []) if (!byTenant.has(tenant)) byTenant.set(tenant, { tenant, requests: 0, promptTokens: 0, outputTokens: 0, weight: 1 });
  const all = [...byTenant.values()].map((s) => ({ ...s, service: serviceCost(s.promptTokens, s.outputTokens, 1) }));
  const totalService = all.reduce((a, s) => a + s.service, 0);
  const totalWeight = all.reduce((a, s) => a + s.weight, 0);
  const rows = all
    .map(
      (s): DashboardTenant => ({
        tenant: s.tenant,
        requests: s.requests,
        promptTokens: s.promptTokens,
        outputTokens: s.outputTokens,
        service: s.service,
        serviceShare: totalService > 0 ? s.service / totalService : null,
        weight: s.weight,
        weightShare: totalWeight > 0 ? s.weight / totalWeight : 0,
        waiting: waiting ? (waiting.get(s.tenant) ?? 0) : null,
      }),
    )
    .sort((a, b) => b.service - a.service || (b.waiting ?? 0) - (a.waiting ?? 0) || (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0));
  return { windowSeconds, rows: rows.slice(0, MAX_ROWS), more: Math.max(0, rows.length - MAX_ROWS) };
}
