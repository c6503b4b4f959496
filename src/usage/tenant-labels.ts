/** Usage and metrics of requests refused before their caller was known (a missing key, a malformed body). */
export const UNKNOWN_TENANT = '(unknown)';
/** Every tenant past the cap: its requests still count, under this one name. */
export const OTHER_TENANT = '(other)';
/** Distinct tenants one replica names in its metrics, or in one day of usage, before folding the rest. */
export const MAX_TENANT_LABELS = 1000;

/**
 * Tenant names as labels, from a bounded set. Names are validated (isTenantName) but with keys off any caller
 * may send a new X-Herd-Tenant: the first `max` names seen keep theirs, later ones become "(other)". Neither
 * fixed name can collide with a tenant's, which must start with a letter or digit.
 */
export class TenantLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly max = MAX_TENANT_LABELS) {}

  label(tenant: string | undefined): string {
    if (tenant === undefined) return UNKNOWN_TENANT;
    if (this.seen.has(tenant)) return tenant;
    if (this.seen.size >= this.max) return OTHER_TENANT;
    this.seen.add(tenant);
    return tenant;
  }
}
