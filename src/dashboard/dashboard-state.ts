import { circuitView, type CircuitView } from '../fleet/circuit-breaker';
import type { FleetRegistry, NodeState } from '../fleet/fleet-registry';
import { LiveState, type LiveSource } from '../metrics/live-state';
import type { RequestRecord } from '../inference/request-events';
import { redactUrl } from '../redis/redis-connections';
import { isLoopbackHost, withoutAddress } from '../security/access';
import { RECENT_MINUTES, type UsageService } from '../usage/usage.service';
import { RollingWindow, type RecentRequest, type Series, type WindowSummary } from './rolling-window';
import { tenantShares, type DashboardTenants } from './tenant-shares';

export interface DashboardSource extends LiveSource {
  config: { replicaId: string; strategy: string; adminKey?: string; maxQueue: number; host: string };
  fleet: Pick<FleetRegistry, 'nodes' | 'nodeState' | 'circuit' | 'health' | 'rates' | 'isUp'>;
  inference: { runningCount(): number };
  /** Service per tenant over the last minutes, from every replica (absent: no tenants view). */
  usage?: Pick<UsageService, 'recent'>;
}

export interface DashboardNode {
  name: string;
  /** Only for callers who pass the admin check; the public view shows names and states, not addresses. */
  url?: string;
  state: NodeState;
  slots: number;
  weight: number;
  draining: boolean;
  /** From the lease ledger (all replicas); null when Redis did not answer. */
  inFlight: number | null;
  backlogTokens: number | null;
  version: string | null;
  failures: number;
  lastError: string | null;
  checkedAt: number | null;
  circuit: { view: CircuitView; failures: number; openUntil: number };
  models: { name: string; resident: boolean; decodeTps: number | null; prefillTps: number | null; samples: number }[];
  labels: Record<string, string>;
}

/** Everything the dashboard page shows, in one JSON document (`GET /herd/dashboard`). */
export interface DashboardView {
  now: number;
  replica: string;
  strategy: string;
  startedAt: number;
  adminKeyRequired: boolean;
  /** No HERD_ADMIN_KEY and Herd is not on loopback: admin routes answer 403 until a key is set. */
  adminLocked: boolean;
  redis: boolean;
  fleet: { nodes: number; up: number; slots: number; inFlight: number | null };
  nodes: DashboardNode[];
  queue: { byPriority: number[] | null; waiting: number | null; max: number; runningHere: number };
  summary: WindowSummary;
  series: Series;
  recent: RecentRequest[];
  /** Share of service against weight, and queue, per tenant: only for callers who pass the admin check (else null). */
  tenants: DashboardTenants | null;
}

/** The dashboard's data: the fleet as this replica sees it, Redis-side load and queue, and this replica's traffic. */
export class DashboardState {
  readonly window: RollingWindow;
  private readonly live: LiveState;

  constructor(
    private readonly source: DashboardSource,
    now = Date.now(),
  ) {
    this.window = new RollingWindow(now);
    this.live = new LiveState(source, 500);
  }

  record(r: RequestRecord): void {
    this.window.add(r);
  }

  /** `showUrls`: the caller passed the admin check; otherwise node addresses and tenants are left out. */
  async view(showUrls = false, now = Date.now()): Promise<DashboardView> {
    const { fleet, config } = this.source;
    const [live, served] = await Promise.all([this.live.get(now), showUrls ? this.source.usage?.recent(now) : undefined]);
    const nodes = [...fleet.nodes()].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })).map((n): DashboardNode => {
      const h = fleet.health(n.name);
      const load = live.loads?.get(n.name);
      const c = fleet.circuit(n.name);
      const resident = new Set(h?.resident ?? []);
      return {
        name: n.name,
        ...(showUrls && { url: redactUrl(n.url) }),
        state: fleet.nodeState(n.name),
        slots: n.slots,
        weight: n.weight,
        draining: n.draining === true,
        inFlight: live.loads ? (load?.inFlight ?? 0) : null,
        backlogTokens: live.loads ? (load?.backlogTokens ?? 0) : null,
        version: h?.version ?? null,
        failures: h?.failures ?? 0,
        lastError: (showUrls ? h?.lastError : withoutAddress(h?.lastError, n.url)) ?? null,
        checkedAt: h?.checkedAt ?? null,
        circuit: { view: circuitView(c, now), failures: c.failures, openUntil: c.openUntil },
        models: (h?.models ?? []).map((m) => {
          const r = fleet.rates(n.name, m.name);
          return { name: m.name, resident: resident.has(m.name), decodeTps: r?.decodeTps ?? null, prefillTps: r?.prefillTps ?? null, samples: r?.samples ?? 0 };
        }),
        labels: n.labels,
      };
    });
    const byPriority = live.depth ? Array.from({ length: 10 }, (_, i) => live.depth?.[i + 1] ?? 0) : null;
    const up = nodes.filter((n) => fleet.isUp(n.name));
    return {
      now,
      replica: config.replicaId,
      strategy: config.strategy,
      startedAt: this.window.startedAt,
      adminKeyRequired: Boolean(config.adminKey),
      adminLocked: !config.adminKey && !isLoopbackHost(config.host),
      redis: Boolean(live.loads && live.depth),
      fleet: {
        nodes: nodes.length,
        up: up.length,
        slots: up.filter((n) => !n.draining).reduce((a, n) => a + n.slots, 0),
        inFlight: live.loads ? nodes.reduce((a, n) => a + (n.inFlight ?? 0), 0) : null,
      },
      nodes,
      queue: { byPriority, waiting: byPriority ? byPriority.reduce((a, b) => a + b, 0) : null, max: config.maxQueue, runningHere: this.source.inference.runningCount() },
      summary: this.window.summary(now),
      series: this.window.series(now),
      recent: this.window.recent(30),
      tenants: showUrls && this.source.usage ? tenantShares(served, live.waitingByTenant, RECENT_MINUTES * 60) : null,
    };
  }
}
