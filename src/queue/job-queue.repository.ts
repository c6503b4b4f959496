import { Inject, Injectable } from '@nestjs/common';
import { Queue, Worker, type Job } from 'bullmq';
import { REDIS_PRODUCER, REDIS_WORKER, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';
import { SHARED_TENANT } from '../tenants/caller';
import type { Ticket } from './ticket';

/**
 * Lock on a job being placed; extended every third of it while the placement waits for a slot. Short, because
 * a job taken by a replica that then dies waits for its lock to lapse (plus one stalled check) before another
 * replica takes it: about ten seconds of delay for that request instead of a minute.
 */
export const JOB_LOCK_MS = 5_000;

export interface TakenJob {
  ticket: Ticket;
  /** Keeps the job's lock alive while placement waits. */
  extend(): Promise<void>;
  complete(): Promise<void>;
  fail(reason: string): Promise<void>;
}

/**
 * The only file that knows BullMQ. One priority queue of tickets shared by every replica. Jobs are taken by
 * hand (BullMQ's manual fetching) only when the fleet has a free slot, so a job that waits in Redis can still
 * be overtaken by a newer one of higher priority.
 */
@Injectable()
export class JobQueueRepository {
  readonly queue: Queue<Ticket>;
  private readonly worker: Worker<Ticket>;

  constructor(@Inject(REDIS_PRODUCER) producer: RedisLike, @Inject(REDIS_WORKER) workerConnection: RedisLike, keys: RedisKeys) {
    this.queue = new Queue<Ticket>(keys.queueName, { connection: producer, prefix: keys.bullPrefix });
    this.worker = new Worker<Ticket>(keys.queueName, null, {
      connection: workerConnection,
      prefix: keys.bullPrefix,
      autorun: false,
      lockDuration: JOB_LOCK_MS,
      stalledInterval: JOB_LOCK_MS,
      maxStalledCount: 5,
      drainDelay: 1,
    });
    this.worker.on('error', () => undefined);
  }

  /** A taken job whose lock lapsed (its taker died) was put back to waiting by this replica's stalled check. */
  onStalled(fn: (ticket: Ticket) => void): void {
    this.worker.on('stalled', (jobId: string) => {
      void this.queue
        .getJob(jobId)
        .then((job) => job?.data && fn(withDefaults(job.data)))
        .catch(() => undefined);
    });
  }

  async ready(): Promise<void> {
    await Promise.all([this.queue.waitUntilReady(), this.worker.waitUntilReady()]);
    // Jobs whose taker died (lock expired) go back to waiting.
    await this.worker.startStalledCheckTimer();
  }

  async enqueue(ticket: Ticket): Promise<void> {
    await this.queue.add('request', ticket, {
      jobId: ticket.requestId,
      // BullMQ runs jobs without a priority before all prioritized ones, so every job gets one.
      priority: ticket.priority,
      removeOnComplete: true,
      removeOnFail: true,
      attempts: 1,
    });
  }

  /** Takes the highest-priority waiting job now; undefined when none waits. */
  async take(token: string): Promise<TakenJob | undefined> {
    const job: Job<Ticket> | undefined = await this.worker.getNextJob(token, { block: false });
    if (!job) return undefined;
    return {
      ticket: withDefaults(job.data),
      extend: async () => {
        await job.extendLock(token, JOB_LOCK_MS);
      },
      complete: async () => {
        await job.moveToCompleted('placed', token, false);
      },
      fail: async (reason) => {
        await job.moveToFailed(new Error(reason), token, false);
      },
    };
  }

  /**
   * The first `limit` tickets in the order the queue serves them: promoted ones (see promote) first, then by
   * priority and arrival.
   */
  async peek(limit: number): Promise<Ticket[]> {
    const [promoted, prioritized] = await Promise.all([this.queue.getWaiting(0, limit - 1), this.queue.getPrioritized(0, limit - 1)]);
    return [...promoted, ...prioritized]
      .filter((j): j is Job<Ticket> => j !== undefined && j !== null)
      .slice(0, limit)
      .map((j) => withDefaults(j.data));
  }

  /**
   * Moves a waiting job ahead of every prioritized one, so the next take() (by any replica) gets it. For a job a
   * free node can serve while the jobs ahead of it cannot use that node. A job already taken is left alone.
   */
  async promote(requestId: string): Promise<void> {
    const job = await this.queue.getJob(requestId);
    await job?.changePriority({ priority: 0, lifo: true });
  }

  /** Removes a job that has not been taken; false when it is already taken or gone. */
  async remove(requestId: string): Promise<boolean> {
    return (await this.queue.remove(requestId)) === 1;
  }

  /** Redis keys that hold jobs not yet taken, for a one-round-trip "is anybody waiting?" check. */
  waitingKeys(): { zsets: string[]; lists: string[] } {
    const k = this.queue.keys;
    return { zsets: [k.prioritized], lists: [k.wait, k.paused] };
  }

  /** Jobs waiting for a slot (not yet taken). */
  async waitingCount(): Promise<number> {
    const counts = await this.queue.getJobCounts('waiting', 'prioritized');
    return (counts.waiting ?? 0) + (counts.prioritized ?? 0);
  }

  async countsByPriority(): Promise<Record<number, number>> {
    const jobs = await this.queue.getJobs(['prioritized', 'waiting'], 0, 999);
    const out: Record<number, number> = {};
    for (const j of jobs) out[j.data.priority] = (out[j.data.priority] ?? 0) + 1;
    return out;
  }

  async close(): Promise<void> {
    await this.worker.close(true);
    await this.queue.close();
  }
}

/** A ticket queued by a replica of an older version carries no tenant: it is the shared tenant's, weight 1. */
function withDefaults(ticket: Ticket): Ticket {
  if (typeof ticket.tenant === 'string' && typeof ticket.weight === 'number') return ticket;
  return { ...ticket, tenant: typeof ticket.tenant === 'string' ? ticket.tenant : SHARED_TENANT, weight: typeof ticket.weight === 'number' ? ticket.weight : 1 };
}
