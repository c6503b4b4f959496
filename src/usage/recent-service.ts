import { splitUsageField } from './usage-rows';

/** A tenant's service over the last few minutes, from every replica (the dashboard's tenants view). */
export interface TenantService {
  tenant: string;
  requests: number;
  promptTokens: number;
  outputTokens: number;
  /** The weight on its last request in the window; 1 when no record carried one. */
  weight: number;
}

/** Sums the minute hashes (`tenant|requests`, `tenant|promptTokens`, `tenant|outputTokens`, `tenant|weight`), oldest first. */
export function recentService(minutes: readonly Record<string, string>[]): TenantService[] {
  const byTenant = new Map<string, TenantService>();
  for (const hash of minutes) {
    for (const [name, value] of Object.entries(hash)) {
      const parts = splitUsageField(name);
      const n = Number(value);
      if (!parts || !Number.isFinite(n)) continue;
      let s = byTenant.get(parts.tenant);
      if (!s) byTenant.set(parts.tenant, (s = { tenant: parts.tenant, requests: 0, promptTokens: 0, outputTokens: 0, weight: 1 }));
      if (parts.field === 'weight') {
        if (n > 0) s.weight = n; // later minutes overwrite earlier ones
      } else if (parts.field === 'requests' || parts.field === 'promptTokens' || parts.field === 'outputTokens') s[parts.field] += n;
    }
  }
  return [...byTenant.values()];
}
