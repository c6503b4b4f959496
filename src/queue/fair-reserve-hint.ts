import { Inject, Injectable } from '@nestjs/common';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { fastPathKeepsFastestFree, quietTenants, type RecentTenant } from '../scheduler/fair-reserve';
import { FairShareRepository } from './fair-share.repository';

/** How old the view of the tenants seen lately may be when the fast path decides (read again first after that). */
const RECENT_MAX_AGE_MS = 100;
/** Tenants remembered as having ended a request here (a bound, besides the window). */
const ENDED_HERE_MAX = 1000;

/**
 * The quiet tenants as one replica sees them (scheduler/fair-reserve.ts): those Redis listed as quiet when last
 * read, plus those whose request ended here within the window and that Redis did not list as busy; minus any with
 * more than one request under way here now. `recent` holds Redis' tenants still within the window; `endedHere` the
 * tenants whose last request here ended within it; `here` counts a tenant's requests under way on this replica.
 */
export function quietOnReplica(recent: readonly RecentTenant[], endedHere: Iterable<string>, here: (tenant: string) => number): string[] {
  const quiet = new Set(quietTenants(recent));
  const listed = new Set(recent.map((t) => t.tenant));
  for (const t of endedHere) if (!listed.has(t)) quiet.add(t);
  return [...quiet].filter((t) => here(t) <= 1);
}

/**
 * The fair reserve on the fast path (ADR 006). A burst that arrives while nobody waits takes slots without the
 * queue, so without this it would fill the fastest node before the pump ever applies the reserve, and a quiet
 * tenant's next request would wait for one of the burst's requests to end.
 *
 * The fast path decides without a Redis read of its own, on what this replica knows: its tenant's requests under
 * way here, the tenants whose requests ended here lately, and the tenants Redis listed as seen within the window,
 * read at most RECENT_MAX_AGE_MS before (one read shared by every request deciding meanwhile). The reservation
 * script enforces the decision, so requests racing for the slot cannot both take it.
 */
@Injectable()
export class FairReserveHint {
  /** Requests of this replica's clients per tenant, from their first placement attempt until they end. */
  private readonly here = new Map<string, number>();
  /** Tenant -> when (local clock) its last request here ended; oldest first. */
  private readonly endedHere = new Map<string, number>();
  /** The tenants seen within the window when last read, each with when (local clock) it leaves the window. */
  private recent: (RecentTenant & { until: number })[] = [];
  private readAt = -Infinity;
  private reading?: Promise<void>;
  private readonly windowMs: number;

  constructor(
    private readonly fair: FairShareRepository,
    @Inject(HERD_CONFIG) config: HerdConfig,
  ) {
    this.windowMs = config.fairShare && config.fairReserve ? config.fairReserveWindowMs : 0;
  }

  /** A request of `tenant` starts; `left` must be called once when it ends, however it ends. */
  entered(tenant: string): void {
    this.here.set(tenant, (this.here.get(tenant) ?? 0) + 1);
  }

  left(tenant: string): void {
    const n = (this.here.get(tenant) ?? 0) - 1;
    if (n > 0) this.here.set(tenant, n);
    else this.here.delete(tenant);
    if (this.windowMs === 0) return;
    this.endedHere.delete(tenant); // re-inserted last: the map stays oldest first
    this.endedHere.set(tenant, performance.now());
    if (this.endedHere.size > ENDED_HERE_MAX) this.endedHere.delete(this.endedHere.keys().next().value as string);
  }

  /** Whether `tenant` has more than one request here (the pump may soon have to count them for the reserve). */
  busy(tenant: string): boolean {
    return this.windowMs > 0 && (this.here.get(tenant) ?? 0) > 1;
  }

  /** Whether a request of `tenant` (already entered) may not take the last free slot of its model's fastest node now. */
  async keepsFastestFree(tenant: string): Promise<boolean> {
    if (this.windowMs === 0) return false;
    if (performance.now() - this.readAt >= RECENT_MAX_AGE_MS) await this.read().catch(() => undefined);
    const now = performance.now();
    const quiet = quietOnReplica(
      this.recent.filter((t) => t.until > now),
      this.endedWithin(now),
      (t) => this.here.get(t) ?? 0,
    );
    return fastPathKeepsFastestFree(tenant, (this.here.get(tenant) ?? 1) <= 1, quiet);
  }

  /** The tenants whose last request here ended within the window (older ones forgotten on the way). */
  private *endedWithin(now: number): Generator<string> {
    for (const [tenant, at] of this.endedHere) {
      if (now - at < this.windowMs) yield tenant;
      else this.endedHere.delete(tenant);
    }
  }

  private read(): Promise<void> {
    this.reading ??= (async () => {
      const asked = performance.now();
      try {
        const recent = await this.fair.recentTenants(this.windowMs);
        this.recent = recent.map((t) => ({ ...t, until: asked - t.agoMs + this.windowMs }));
        this.readAt = asked;
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }
}
