import type { FleetRegistry } from '../fleet/fleet-registry';
import type { LedgerRepository, NodeLoad } from '../fleet/ledger.repository';
import type { FairShareRepository } from '../queue/fair-share.repository';
import type { JobQueueRepository } from '../queue/job-queue.repository';
import type { WorkLane, WorkRepository } from '../batch/work.repository';

export const WORK_LANES: readonly WorkLane[] = ['batch', 'jobs'];

export interface LiveSource {
  fleet: Pick<FleetRegistry, 'nodes'>;
  ledger: Pick<LedgerRepository, 'loads'>;
  queue: Pick<JobQueueRepository, 'countsByPriority'>;
  /** Waiting requests per tenant (the fair-share index); absent in tests that do not need it. */
  tenants?: Pick<FairShareRepository, 'waitingByTenant'>;
  /** Batch lines and async jobs waiting and running (src/batch); absent in tests that do not need it. */
  work?: Pick<WorkRepository, 'counts'>;
}

/** What only Redis knows: load of every node (all replicas), waiting jobs per priority and per tenant. Undefined when Redis did not answer. */
export interface LiveSnapshot {
  loads?: Map<string, NodeLoad>;
  depth?: Record<number, number>;
  /** Tenants with requests waiting, and how many each. */
  waitingByTenant?: Map<string, number>;
  /** Per lane of durable work: how many pieces wait to be claimed and how many run. */
  work?: Map<WorkLane, { ready: number; running: number }>;
  at: number;
}

/**
 * Reads the Redis-side state once and shares it: with every caller while the read is under way (one scrape
 * asks from a dozen gauges at once), and for `maxAgeMs` after it (several dashboards polling).
 */
export class LiveState {
  private last?: { settledAt?: number; value: Promise<LiveSnapshot> };

  constructor(
    private readonly source: LiveSource,
    private readonly maxAgeMs = 0,
  ) {}

  get(now = Date.now()): Promise<LiveSnapshot> {
    const last = this.last;
    if (last && (last.settledAt === undefined || now - last.settledAt <= this.maxAgeMs)) return last.value;
    const entry: { settledAt?: number; value: Promise<LiveSnapshot> } = { value: this.load(now) };
    this.last = entry;
    void entry.value.then(() => (entry.settledAt = Date.now()));
    return entry.value;
  }

  private async load(now: number): Promise<LiveSnapshot> {
    const names = this.source.fleet.nodes().map((n) => n.name);
    const [loads, depth, waitingByTenant, work] = await Promise.all([
      this.source.ledger.loads(names).catch(() => undefined),
      this.source.queue.countsByPriority().catch(() => undefined),
      this.source.tenants?.waitingByTenant().catch(() => undefined),
      this.workCounts(),
    ]);
    return { loads, depth, waitingByTenant, work, at: now };
  }

  private async workCounts(): Promise<LiveSnapshot['work']> {
    const work = this.source.work;
    if (!work) return undefined;
    try {
      return new Map(await Promise.all(WORK_LANES.map(async (lane) => [lane, await work.counts(lane)] as const)));
    } catch {
      return undefined;
    }
  }
}
