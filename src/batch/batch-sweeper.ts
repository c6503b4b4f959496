import { Injectable } from '@nestjs/common';
import { Logger } from '../common/logger';
import { BatchFinalizer } from './batch-finalizer';
import { BatchRepository } from './batch.repository';

const SWEEP_MS = 1000;

/**
 * Every replica looks at the unfinished batches once a second: notices an expired completion window, closes a
 * cancelled batch whose last running line ended elsewhere, and finalizes a closed batch whose finalizer died.
 * Line runners do the same as they go; the sweeper is what makes it happen even when no line runs.
 */
@Injectable()
export class BatchSweeper {
  private timer?: NodeJS.Timeout;
  private sweeping = false;

  constructor(
    private readonly batches: BatchRepository,
    private readonly finalizer: BatchFinalizer,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), SWEEP_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      for (const id of await this.batches.activeBatches()) await this.finalizer.after(id, await this.batches.advance(id));
    } catch (err) {
      this.log.warn('batch sweep failed', { error: (err as Error).message });
    } finally {
      this.sweeping = false;
    }
  }
}
