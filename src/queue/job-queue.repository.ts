import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/redis-keys';
import type { Ticket } from './ticket';

/**
 * The only file that knows BullMQ. One priority queue for every request of every replica; a job is active
 * for as long as its request runs, so the queue's global concurrency (the fleet's free slots) decides
 * how many run and priorities decide who goes next.
 */
export class JobQueueRepository {
  readonly queue: Queue<Ticket>;
  private worker?: Worker<Ticket>;

  constructor(
    producer: Redis,
    private readonly workerConnection: Redis,
    private readonly keys: RedisKeys,
  ) {
    this.queue = new Queue<Ticket>(keys.queueName, { connection: producer, prefix: keys.bullPrefix });
  }

  async ready(): Promise<void> {
    await this.queue.waitUntilReady();
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

  /** Removes a job that has not started; false when it is already active or gone. */
  async remove(requestId: string): Promise<boolean> {
    return (await this.queue.remove(requestId)) === 1;
  }

  async setGlobalConcurrency(n: number): Promise<void> {
    await this.queue.setGlobalConcurrency(Math.max(1, n));
  }

  /** Jobs waiting for a slot (not yet active). */
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

  startWorker(process: (ticket: Ticket) => Promise<void>, concurrency: number): void {
    this.worker = new Worker<Ticket>(this.keys.queueName, async (job: Job<Ticket>) => process(job.data), {
      connection: this.workerConnection,
      prefix: this.keys.bullPrefix,
      concurrency,
      lockDuration: 30_000,
      maxStalledCount: 1,
      drainDelay: 5,
    });
    this.worker.on('error', () => undefined);
  }

  /** Stop taking new jobs; running ones finish. */
  async pauseWorker(): Promise<void> {
    await this.worker?.pause(true);
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
