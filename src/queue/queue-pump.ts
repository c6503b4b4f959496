import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { HERD_CONFIG, type HerdConfig, type NodeConfig } from '../config/herd-config';
import { CanceledError, HerdError } from '../common/herd-error';
import { Logger } from '../common/logger';
import { FleetRegistry } from '../fleet/fleet-registry';
import { LedgerRepository, type LoadsAndWaiting } from '../fleet/ledger.repository';
import { SlotEventsRepository } from '../fleet/slot-events.repository';
import { PlacementService } from '../placement/placement.service';
import { fairOrder } from '../scheduler/fair-order';
import { fastestNode, keepsFastestFree, nextTicketWithReserve, quietTenants } from '../scheduler/fair-reserve';
import type { NodeSnapshot } from '../scheduler/scheduler.types';
import { FairShareRepository, type FairCandidates } from './fair-share.repository';
import { Handoff } from './handoff';
import { JOB_LOCK_MS, JobQueueRepository, type TakenJob } from './job-queue.repository';
import { QueueDepth } from './queue-depth';
import { estimatedCost, type Ticket } from './ticket';

/** How long the pump sleeps when nothing wakes it (a job enqueued here, a slot freed anywhere, a fleet change do). */
const IDLE_WAKE_MS = 250;
/** How far down the queue the pump looks for a job an idle node can take when the front job must wait. */
const PEEK_DEPTH = 32;
/** Longest a pump holds its turn to choose (a pump that dies holding it stalls the others this long at most). */
const TURN_MS = 2000;
/** How soon a pump that found another replica's pump choosing looks again (a freed slot wakes it sooner). */
const TURN_BUSY_MS = 5;
/** How many waiting requests of each tenant the fair-share choice looks at (more only matter for busy models). */
const PER_TENANT_DEPTH = 8;

/**
 * Every replica runs one pump. It takes a job from the queue only when a node that could serve that job's model
 * has a free slot no placement under way will take, so waiting jobs stay in Redis, in priority order, until a
 * slot can take one; a job for an idle model does not wait behind one for a busy model.
 * A taken job is placed on a node, its grant handed to the replica holding the client, and the job completes.
 */
@Injectable()
export class QueuePump {
  private readonly placing = new Map<string, AbortController>();
  private readonly token = randomUUID();
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private queueKeys: { zsets: string[]; lists: string[] } = { zsets: [], lists: [] };

  constructor(
    private readonly placement: PlacementService,
    private readonly handoff: Handoff,
    private readonly jobs: JobQueueRepository,
    private readonly fair: FairShareRepository,
    private readonly depth: QueueDepth,
    private readonly ledger: LedgerRepository,
    private readonly fleet: FleetRegistry,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    private readonly log: Logger,
    slotEvents: SlotEventsRepository,
  ) {
    handoff.onCancel((id) => this.placing.get(id)?.abort());
    slotEvents.onFreed(() => this.nudge());
    fleet.onChange(() => this.nudge());
    // A job whose taker died goes back to waiting in BullMQ; it left the fair-share index when taken.
    jobs.onStalled((ticket) => void fair.enqueued(ticket).catch(() => undefined));
  }

  start(): void {
    this.running = true;
    this.queueKeys = this.jobs.waitingKeys();
    this.loop = this.pump();
  }

  /**
   * A job was enqueued here, a slot was freed or the fleet changed: look again now (the idle timer covers
   * anything missed). Ignored when no request may be waiting in the queue.
   */
  nudge(): void {
    if (this.depth.mayHaveWork()) this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    for (const ac of this.placing.values()) ac.abort();
    await this.loop;
  }

  /**
   * Never wedges on Redis: every command it sends (on the command and the BullMQ worker connections) is given up
   * after the command timeout, so a stuck Redis costs one error per round and the pump carries on when Redis
   * answers again.
   */
  private async pump(): Promise<void> {
    let failingSince: number | undefined;
    while (this.running) {
      try {
        const taken = await this.round();
        if (failingSince !== undefined) this.log.info('queue pump works again', { afterMs: Date.now() - failingSince });
        failingSince = undefined;
        if (taken === 'busy') await this.pause(TURN_BUSY_MS);
        else if (taken === 'none') await this.pause(IDLE_WAKE_MS);
        else if (taken === 'missed') await this.pause(IDLE_WAKE_MS / 5); // counted but not takeable (e.g. just taken elsewhere): no busy loop
      } catch (err) {
        if (!this.running) break;
        // One warning per outage, not one per round.
        if (failingSince === undefined) this.log.warn('queue pump error; retrying', { error: (err as Error).message });
        else this.log.debug('queue pump error; retrying', { error: (err as Error).message });
        failingSince ??= Date.now();
        await this.pause(500);
      }
    }
  }

  /**
   * One round: take the pump turn (one pump at a time chooses, see LedgerRepository.takePumpTurn) and, in the same
   * round trip (the command connection pipelines what is sent together, and Redis runs it in order), read the
   * loads, the queue and the fair-share candidates; then take the job to start next, if any, and hand it to
   * placement. The turn ends with the job's placing mark, or here when no job was taken.
   */
  private async round(): Promise<'taken' | 'none' | 'missed' | 'busy'> {
    const up = this.fleet.nodes().filter((n) => this.fleet.isUp(n.name) && !n.draining);
    const [{ turn, state }, fair] = await Promise.all([
      this.ledger.pumpTurnAndLoads(
        this.token,
        TURN_MS,
        up.map((n) => n.name),
        this.queueKeys,
      ),
      // Without an answer from the fair-share index the pump still serves, in BullMQ's order.
      this.config.fairShare && up.length > 0 ? this.fair.candidates(PER_TENANT_DEPTH, this.reserveWindowMs()).catch(() => undefined) : undefined,
    ]);
    if (!turn) return 'busy';
    let job: TakenJob | undefined;
    try {
      const next = up.length > 0 ? await this.nextWaiting(up, state, fair) : undefined;
      if (!next) return 'none';
      // A job that may pass the ones ahead of it is moved to the front first: take() only takes the front.
      if (next.promote) await this.jobs.promote(next.requestId);
      // Never blocks: a job is taken only right after the check above found room for it.
      job = await this.jobs.take(this.token);
      if (!job) return 'missed';
    } finally {
      if (!job) void this.ledger.endPumpTurn(this.token).catch(() => undefined);
    }
    // Marked before the next round so no pump takes a second job for the same free slot. A job taken is handled
    // whatever the mark's fate: left unhandled it would wait for BullMQ's stalled check.
    const marked = this.ledger.markPlacing(job.ticket.requestId, job.ticket.model, 2000, this.token);
    // Charged before the next round, so the next choice already sees this tenant's share grow.
    const charged = this.fair.taken(job.ticket, estimatedCost(job.ticket)).catch(() => undefined);
    void this.handle(job);
    await Promise.all([marked, charged]);
    return 'taken';
  }

  /**
   * The waiting job to take now, or undefined when none can start (scheduler/next-ticket.ts decides: a job is
   * held back only while no node that could serve its model has a slot not already claimed by a placement
   * under way). With fair share, among the first few waiting requests of each tenant: priority first, then the
   * tenant with the smallest counter (scheduler/fair-order.ts); the choice is promoted unless BullMQ hands it out
   * next anyway. Otherwise, or when nothing in the fair-share index can start (it may miss a job, e.g. one
   * queued before an upgrade), BullMQ's own order: the front job first, further ones only when it must wait.
   */
  private async nextWaiting(
    up: NodeConfig[],
    state: LoadsAndWaiting,
    fair: FairCandidates | undefined,
  ): Promise<{ requestId: string; promote: boolean } | undefined> {
    const { loads, queued, placingModels } = state;
    if (queued === 0) return undefined;
    const now = Date.now();
    const views = up.map((n) => ({ ...this.fleet.eligibilityView(n, now), inFlight: loads.get(n.name)?.inFlight ?? 0 }));
    const keptFrom = this.keptFrom(up, loads, fair);
    if (fair && fair.entries.length > 0) {
      const order = fairOrder(fair.entries, fair.counters, true);
      const i = nextTicketWithReserve(order, views, placingModels, keptFrom);
      if (i !== undefined) return { requestId: order[i].requestId, promote: fair.promoted > 0 || order[i].requestId !== fair.frontId };
    }
    for (const limit of queued > 1 ? [1, PEEK_DEPTH] : [1]) {
      const waiting = await this.jobs.peek(limit);
      const i = nextTicketWithReserve(waiting, views, placingModels, keptFrom);
      if (i !== undefined) return { requestId: waiting[i].requestId, promote: i > 0 };
    }
    return undefined;
  }

  /** The fair reserve's window, or 0 when it is off (it needs fair share). */
  private reserveWindowMs(): number {
    return this.config.fairShare && this.config.fairReserve ? this.config.fairReserveWindowMs : 0;
  }

  /**
   * Fair reserve (scheduler/fair-reserve.ts): the node whose last free slot a waiting request may not take, from
   * what the candidates read said of its tenant (a tenant the index does not list is never kept out).
   */
  private keptFrom(up: NodeConfig[], loads: LoadsAndWaiting['loads'], fair: FairCandidates | undefined): (entry: { tenant: string; model: string }) => string | undefined {
    const quiet = fair ? quietTenants(fair.recent) : [];
    if (!fair || quiet.length === 0) return () => undefined;
    const fastest = new Map<string, string | undefined>();
    let nodes: NodeSnapshot[] | undefined;
    return (entry) => {
      if (!keepsFastestFree(entry.tenant, fair.running.get(entry.tenant) ?? 0, quiet)) return undefined;
      if (!fastest.has(entry.model)) fastest.set(entry.model, fastestNode((nodes ??= this.fleet.snapshot(up, loads).nodes), entry.model));
      return fastest.get(entry.model);
    };
  }

  /** Asked by placement every round while it waits: whether the request may not take the fastest node's last free slot. */
  private spareFastest(ticket: Ticket): (() => Promise<boolean>) | undefined {
    const windowMs = this.reserveWindowMs();
    if (windowMs === 0) return undefined;
    return async () => {
      const { running, recent } = await this.fair.reserveState(ticket, windowMs);
      return keepsFastestFree(ticket.tenant, running, quietTenants(recent));
    };
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async handle(job: TakenJob): Promise<void> {
    const { ticket } = job;
    const ac = new AbortController();
    this.placing.set(ticket.requestId, ac);
    const keepLock = setInterval(() => void job.extend().catch(() => undefined), JOB_LOCK_MS / 3);
    let delivered = false;
    try {
      if (await this.handoff.isCanceled(ticket.requestId)) {
        this.fair.ended(ticket);
        await job.complete();
        return;
      }
      const grant = await this.placement.place(ticket, { signal: ac.signal, deadline: ticket.enqueuedAt + this.config.queueTimeoutMs, spareFastest: this.spareFastest(ticket) });
      delivered = await this.handoff.deliver(ticket.origin, grant).catch(() => false);
      if (!delivered) {
        this.log.debug('grant had no taker; slot released', { id: ticket.requestId, node: grant.node });
        this.fair.ended(ticket);
        await this.ledger.release(grant.node, ticket.requestId);
      }
      await job.complete();
    } catch (err) {
      // Counted as running when taken; it will not run (its replica settles only a request that got its grant).
      if (!delivered) this.fair.ended(ticket);
      if (!(err instanceof CanceledError)) {
        const herdErr = err instanceof HerdError ? err : HerdError.redisDown();
        await this.handoff.fail(ticket.origin, ticket.requestId, herdErr).catch(() => undefined);
      }
      await job.fail((err as Error).message).catch(() => undefined);
    } finally {
      clearInterval(keepLock);
      this.placing.delete(ticket.requestId);
      await this.ledger.unmarkPlacing(ticket.requestId).catch(() => undefined);
      this.nudge();
    }
  }
}
