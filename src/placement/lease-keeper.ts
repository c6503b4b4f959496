import { Inject, Injectable } from '@nestjs/common';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { LedgerRepository } from '../fleet/ledger.repository';
import type { Grant } from './grant';
import { PlacementService } from './placement.service';

/**
 * The slots held by this replica's running requests. Each lease is renewed every third of HERD_LEASE_MS while
 * its request runs (a replica that dies stops renewing, and its slots come back by themselves), and given back
 * exactly once: as soon as the node's answer is read, or when the request ends, whichever comes first.
 */
@Injectable()
export class LeaseKeeper {
  /** Grants of requests running here, by request id. */
  private readonly held = new Map<string, Grant>();
  /** Grants already given back (released early when the node's answer ended, or on the way out). */
  private readonly released = new WeakSet<Grant>();
  private renewTimer?: NodeJS.Timeout;
  private renewInFlight = false;

  constructor(
    private readonly ledger: LedgerRepository,
    private readonly placement: PlacementService,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.renewTimer = setInterval(() => void this.renew(), Math.max(250, Math.floor(this.config.leaseMs / 3)));
    this.renewTimer.unref();
  }

  stop(): void {
    clearInterval(this.renewTimer);
  }

  /** A request starts running on its grant: its lease is renewed from now on. */
  hold(grant: Grant): void {
    this.held.set(grant.requestId, grant);
  }

  /** Requests running here. */
  count(): number {
    return this.held.size;
  }

  /** Gives the slot back (once per grant); waiting placements look again when it was still held. */
  async release(grant: Grant): Promise<void> {
    if (this.released.has(grant)) return;
    this.released.add(grant);
    if (this.held.get(grant.requestId) === grant) this.held.delete(grant.requestId);
    try {
      if (await this.ledger.release(grant.node, grant.requestId)) this.placement.wakeAll();
    } catch (err) {
      this.log.warn('could not release a slot; its lease will expire', { node: grant.node, error: (err as Error).message });
    }
  }

  /** A grant for a request this replica no longer waits for (cancelled, timed out): give the slot back. */
  async dropOrphan(grant: Grant): Promise<void> {
    if (this.held.get(grant.requestId)?.node !== grant.node) await this.ledger.release(grant.node, grant.requestId).catch(() => undefined);
  }

  private async renew(): Promise<void> {
    // One renewal at a time: while Redis does not answer, each one waits out the command timeout.
    if (this.renewInFlight) return;
    this.renewInFlight = true;
    try {
      await this.ledger.renew([...this.held.values()].map((g) => ({ node: g.node, requestId: g.requestId })), this.config.leaseMs);
    } catch {
      // Redis away: leases run out on their own; requests keep streaming
    } finally {
      this.renewInFlight = false;
    }
  }
}
