import { SimAbortError } from './clock';

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  settled: boolean;
}

/**
 * `slots` requests run at once; the rest wait in FIFO order. When `maxQueue` requests already wait,
 * enter() answers 'busy' at once. An aborted waiter leaves the queue immediately.
 */
export class SlotPool {
  private running = 0;
  private waiting = 0;
  private highWater = 0;
  private queue: Waiter[] = [];
  private head = 0;

  constructor(
    private readonly slots: number,
    private readonly maxQueue: number,
  ) {}

  active(): number {
    return this.running;
  }

  queued(): number {
    return this.waiting;
  }

  maxActiveSeen(): number {
    return this.highWater;
  }

  resetHighWater(): void {
    this.highWater = this.running;
  }

  /** 'entered' when a slot was free (taken synchronously), 'busy' when the queue is full, else a promise resolved on entry. */
  enter(signal?: AbortSignal): 'entered' | 'busy' | Promise<void> {
    if (signal?.aborted) return Promise.reject(new SimAbortError());
    if (this.running < this.slots && this.waiting === 0) {
      this.take();
      return 'entered';
    }
    if (this.waiting >= this.maxQueue) return 'busy';
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, settled: false };
      if (signal) {
        waiter.onAbort = () => {
          if (waiter.settled) return;
          waiter.settled = true;
          this.waiting--;
          reject(new SimAbortError());
          this.compact();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.waiting++;
    });
  }

  release(): void {
    this.running--;
    this.admit();
  }

  private take(): void {
    this.running++;
    if (this.running > this.highWater) this.highWater = this.running;
  }

  private admit(): void {
    while (this.running < this.slots && this.head < this.queue.length) {
      const waiter = this.queue[this.head++];
      if (waiter.settled) continue;
      waiter.settled = true;
      this.waiting--;
      if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
      this.take();
      waiter.resolve();
    }
    this.compact();
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.waiting === 0 && this.queue.length > 0) {
      // every entry left is an aborted waiter
      this.queue = [];
      this.head = 0;
    }
  }
}
