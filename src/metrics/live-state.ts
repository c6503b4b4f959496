import type { FleetService } from '../fleet/fleet.service';
import type { LedgerRepository, NodeLoad } from '../fleet/ledger.repository';
import type { JobQueueRepository } from '../queue/job-queue.repository';

export interface LiveSource {
  fleet: Pick<FleetService, 'nodes'>;
  ledger: Pick<LedgerRepository, 'loads'>;
  queue: Pick<JobQueueRepository, 'countsByPriority'>;
}

/** What only Redis knows: load of every node (all replicas) and waiting jobs per priority. Undefined when Redis did not answer. */
export interface LiveSnapshot {
  loads?: Map<string, NodeLoad>;
  depth?: Record<number, number>;
  at: number;
}

/**
 * Reads the Redis-side state once and shares it for a short while, so one scrape (a dozen gauges) or several
 * dashboards polling at once cost one round of Redis calls.
 */
export class LiveState {
  private last?: { at: number; value: Promise<LiveSnapshot> };

  constructor(
    private readonly source: LiveSource,
    private readonly maxAgeMs = 500,
  ) {}

  get(now = Date.now()): Promise<LiveSnapshot> {
    if (!this.last || now - this.last.at > this.maxAgeMs) this.last = { at: now, value: this.load(now) };
    return this.last.value;
  }

  private async load(now: number): Promise<LiveSnapshot> {
    const names = this.source.fleet.nodes().map((n) => n.name);
    const [loads, depth] = await Promise.all([
      this.source.ledger.loads(names).catch(() => undefined),
      this.source.queue.countsByPriority().catch(() => undefined),
    ]);
    return { loads, depth, at: now };
  }
}
