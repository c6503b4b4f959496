import { Injectable } from '@nestjs/common';
import { JobQueueRepository } from './job-queue.repository';

/** How often the shared queue is counted. */
const COUNT_EVERY_MS = 250;

/**
 * How much waits for a slot: this replica's own requests (how many are in the shared queue, and the bytes of
 * every body between admission and its grant) and, as of the last count, every job in the shared queue. Admission
 * bounds the queue with these figures; the pump skips its look at Redis when nothing may wait.
 */
@Injectable()
export class QueueDepth {
  private queuedHere = 0;
  private bytesHere = 0;
  private waitingEverywhere = 0;
  private timer?: NodeJS.Timeout;
  private counting = false;

  constructor(private readonly queue: JobQueueRepository) {}

  start(): void {
    this.timer = setInterval(() => void this.count(), COUNT_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Requests of this replica waiting in the shared queue for their grant. */
  get waitingHere(): number {
    return this.queuedHere;
  }

  /** Jobs in the shared queue: the last count, plus what this replica added since. */
  get waiting(): number {
    return this.waitingEverywhere;
  }

  /** Bytes of the bodies of this replica's requests between admission and grant (bounded by HERD_MAX_QUEUED_BYTES). */
  get bytesWaitingHere(): number {
    return this.bytesHere;
  }

  /** Whether a request may wait in the shared queue (this replica's own, or any as of the last count). */
  mayHaveWork(): boolean {
    return this.queuedHere > 0 || this.waitingEverywhere > 0;
  }

  /** A request's body is held here until it gets its grant (or gives up). */
  holdBytes(bytes: number): void {
    this.bytesHere += bytes;
  }

  releaseBytes(bytes: number): void {
    this.bytesHere -= bytes;
  }

  /** A request of this replica is being added to the shared queue. */
  enqueued(): void {
    this.queuedHere++;
    this.waitingEverywhere++;
  }

  /** Its job could not be added after all. */
  enqueueFailed(): void {
    this.queuedHere--;
    this.waitingEverywhere--;
  }

  /** It left the queue: granted, cancelled or timed out (the next count drops it from the shared figure). */
  left(): void {
    this.queuedHere--;
  }

  private async count(): Promise<void> {
    if (this.counting) return;
    this.counting = true;
    try {
      // The queue bound is checked against a count at most 250 ms old plus this replica's own additions since.
      this.waitingEverywhere = await this.queue.waitingCount();
    } catch {
      // keep the last figure
    } finally {
      this.counting = false;
    }
  }
}
