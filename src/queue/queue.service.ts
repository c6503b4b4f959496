import { Inject, Injectable } from '@nestjs/common';
import { CanceledError, HerdError } from '../common/herd-error';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { LedgerRepository } from '../fleet/ledger.repository';
import type { Grant } from '../placement/grant';
import { PlacementService } from '../placement/placement.service';
import { isRedisTimeout, RedisWatchdog } from '../redis/redis-watchdog';
import { serviceCost } from '../scheduler/fair-order';
import { FairReserveHint } from './fair-reserve-hint';
import { FairShareRepository } from './fair-share.repository';
import { Handoff } from './handoff';
import { JobQueueRepository } from './job-queue.repository';
import { QueueDepth } from './queue-depth';
import { QueuePump } from './queue-pump';
import { estimatedCost, type Ticket } from './ticket';

/**
 * A ticket in, a grant out. When nobody waits ahead and the best node has a free slot, the request skips the
 * queue (the fast path); otherwise its ticket joins the shared queue and the request waits here until a pump (on
 * any replica) places it and hands the grant over. Cancellation and the queue timeout take it out again.
 */
@Injectable()
export class QueueService {
  /** Requests of this replica between admission and grant: how to answer each one with an error instead. */
  private readonly waiting = new Map<string, (err: Error) => void>();

  constructor(
    private readonly placement: PlacementService,
    private readonly handoff: Handoff,
    private readonly jobs: JobQueueRepository,
    private readonly fair: FairShareRepository,
    private readonly reserveHint: FairReserveHint,
    private readonly depth: QueueDepth,
    private readonly pump: QueuePump,
    private readonly ledger: LedgerRepository,
    private readonly watchdog: RedisWatchdog,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    private readonly log: Logger,
  ) {
    // A Redis that stops answering: requests waiting here are answered 503 instead of waiting out the queue
    // timeout (a grant could only come through Redis).
    watchdog.onDown(() => this.failWaiting(HerdError.redisDown()));
  }

  /** Requests of this replica waiting in the shared queue for their grant. */
  waitingHere(): number {
    return this.depth.waitingHere;
  }

  /**
   * Redis stopped answering: every request of this replica still getting a slot (fast path, enqueue, waiting
   * for its grant) is answered with `err` now; a grant could only come through Redis. Their jobs are withdrawn
   * once Redis answers again; a grant that still arrives for one of them finds nobody waiting and gives its slot
   * back (orphan).
   */
  failWaiting(err: Error): void {
    for (const reject of [...this.waiting.values()]) reject(err);
  }

  /**
   * Gets the ticket a slot: now on the fast path, else through the queue; cleans up on cancel and queue timeout.
   * The request's body (`bodyBytes`) counts toward HERD_MAX_QUEUED_BYTES until then.
   *
   * A Redis that stops answering never holds a request here for long: each command gives up after the command
   * timeout, and from the first command to the grant the watchdog answers the request 503 as soon as it notices
   * (failWaiting). That matters twice: a request waiting for its grant sends no command at all, and a command
   * queued behind an unanswered auto-pipeline is only sent once that one timed out (up to twice the timeout).
   */
  async acquire(ticket: Ticket, bodyBytes: number, signal: AbortSignal): Promise<Grant> {
    const counted = ticket.lane !== 'batch';
    if (counted) this.reserveHint.entered(ticket.tenant);
    try {
      return await this.acquireSlot(ticket, bodyBytes, signal);
    } catch (err) {
      // A request that got no slot ends here (one that did ends in settle).
      if (counted) this.reserveHint.left(ticket.tenant);
      throw err;
    }
  }

  private async acquireSlot(ticket: Ticket, bodyBytes: number, signal: AbortSignal): Promise<Grant> {
    this.depth.holdBytes(bodyBytes);
    try {
      const id = ticket.requestId;
      // Known not to answer: say so now rather than after one more command timeout.
      if (this.watchdog.isDown) throw HerdError.redisDown();
      let failNow: (err: Error) => void = () => undefined;
      const down = new Promise<never>((_, reject) => (failNow = reject));
      down.catch(() => undefined); // only ever raced; never left unhandled
      this.waiting.set(id, failNow);
      try {
        // The batch lane never queues: a slot it may take now, or a 503 its runner treats as "not yet".
        const fast = ticket.lane === 'batch' ? this.placement.tryBatch(ticket) : this.reserveHint.keepsFastestFree(ticket.tenant).then((keep) => this.placement.tryNow(ticket, keep));
        let now: Grant | undefined;
        try {
          now = await Promise.race([fast, down]);
        } catch {
          // Given up while the reservation may still be made: a slot it gets after all goes straight back.
          void fast.then((g) => g && this.ledger.release(g.node, g.requestId)).catch(() => undefined);
          throw HerdError.redisDown();
        }
        if (now) {
          // Nobody waited: its tenant is charged the estimate now, as the pump charges a request it takes, and the
          // request counts as running (fair reserve). A batch line is neither: it only takes what nobody waited for.
          if (ticket.lane !== 'batch') this.fair.started(ticket, estimatedCost(ticket), this.reserveHint.busy(ticket.tenant));
          return now;
        }
        if (ticket.lane === 'batch') throw HerdError.batchLaneFull();
        const granted = this.handoff.expectGrant(id);
        this.depth.enqueued();
        try {
          await Promise.race([this.jobs.enqueue(ticket), down]);
          // Then its fair-share entry (after the job: the pump drops an entry whose job does not exist). Not waited
          // for, and its failure is not the request's: a job missing from the index is served in BullMQ's order.
          this.fair.enqueued(ticket).catch((err: Error) => this.log.debug('fair-share entry not written', { id, error: err.message }));
          this.pump.nudge();
        } catch (err) {
          this.depth.enqueueFailed();
          this.handoff.forget(id);
          // Sent but not answered: the job may still be added once Redis answers; take it out again then.
          if (err instanceof HerdError || isRedisTimeout(err)) this.watchdog.afterRecovery(() => this.withdraw(ticket));
          throw HerdError.redisDown();
        }
        let timer: NodeJS.Timeout | undefined;
        let onAbort: (() => void) | undefined;
        try {
          const grant = await Promise.race([
            granted,
            down,
            new Promise<never>((_, reject) => {
              // The worker gives up at the deadline itself; this is the backstop when the job never became active.
              timer = setTimeout(() => reject(new HerdError(503, 'HERD_QUEUE_TIMEOUT', 'herd: timed out waiting in the queue', 5)), this.config.queueTimeoutMs + 1000);
              onAbort = () => reject(new CanceledError());
              signal.addEventListener('abort', onAbort, { once: true });
            }),
          ]);
          this.fair.granted(ticket);
          return grant;
        } catch (err) {
          this.handoff.forget(id);
          // With Redis not answering, the client hears now and the job is withdrawn once Redis answers again.
          if (err instanceof HerdError && err.code === 'HERD_REDIS_UNAVAILABLE') this.watchdog.afterRecovery(() => this.withdraw(ticket));
          else await this.withdraw(ticket);
          throw err;
        } finally {
          this.depth.left();
          clearTimeout(timer);
          if (onAbort) signal.removeEventListener('abort', onAbort);
        }
      } finally {
        this.waiting.delete(id);
      }
    } finally {
      this.depth.releaseBytes(bodyBytes);
    }
  }

  /**
   * A request that got a slot ended: its tenant was charged the estimate when it got the slot, and now pays the
   * difference to what it really used (tokens evaluated and generated; nothing when it failed before any). It no
   * longer counts as running (sent in the same batch). Batch lines were never charged nor counted.
   */
  settle(ticket: Ticket, promptTokens: number, outputTokens: number): void {
    if (ticket.lane === 'batch') return;
    this.reserveHint.left(ticket.tenant);
    this.fair.charge(ticket.tenant, serviceCost(promptTokens, outputTokens, ticket.weight) - estimatedCost(ticket));
    this.fair.ended(ticket, this.depth.mayHaveWork());
  }

  /**
   * Takes a request out of the queue, or tells whoever is placing it to stop. When Redis does not answer, it is
   * tried again once Redis answers (a few times at most); until then a grant for it is an orphan and released.
   */
  private async withdraw(ticket: Ticket, triesLeft = 3): Promise<void> {
    const requestId = ticket.requestId;
    const later = (): void => {
      if (triesLeft > 1) this.watchdog.afterRecovery(() => this.withdraw(ticket, triesLeft - 1));
    };
    if (this.watchdog.isDown) return later();
    try {
      if (await this.jobs.remove(requestId)) {
        await this.fair.withdrawn(ticket);
        return;
      }
      await this.handoff.cancel(requestId, this.config.queueTimeoutMs + 5000);
    } catch (err) {
      this.log.warn('could not withdraw a request from the queue; trying again once Redis answers', { id: requestId, error: (err as Error).message });
      later();
    }
  }
}
