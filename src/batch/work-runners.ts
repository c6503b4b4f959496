import { Inject, Injectable } from '@nestjs/common';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { SlotEventsRepository } from '../fleet/slot-events.repository';
import { BatchLineWorker } from './batch-line.worker';
import { BatchSweeper } from './batch-sweeper';
import { JobRepository } from './job.repository';
import { JobWorker } from './job.worker';
import { WorkRunner } from './work-runner';
import { WorkRepository, type WorkLane } from './work.repository';

/** This replica's runners of batch lines and async jobs, and the batch sweeper: started and stopped by HerdLifecycle. */
@Injectable()
export class WorkRunners {
  private readonly runners: Record<WorkLane, WorkRunner>;

  constructor(
    lines: BatchLineWorker,
    jobs: JobWorker,
    work: WorkRepository,
    private readonly jobRepo: JobRepository,
    private readonly slotEvents: SlotEventsRepository,
    private readonly sweeper: BatchSweeper,
    @Inject(HERD_CONFIG) config: HerdConfig,
    log: Logger,
  ) {
    this.runners = { batch: new WorkRunner(lines, work, config.leaseMs, log), jobs: new WorkRunner(jobs, work, config.leaseMs, log) };
  }

  async start(): Promise<void> {
    this.slotEvents.onFreed(() => {
      this.runners.batch.slotFreed();
      this.runners.jobs.slotFreed();
    });
    await this.jobRepo.onCanceled((id) => this.runners.jobs.abort(id, 'canceled'));
    this.runners.batch.start();
    this.runners.jobs.start();
    this.sweeper.start();
  }

  /** Takes no more work; what runs here is aborted and given back at once, for another replica to run. */
  async stop(): Promise<void> {
    this.sweeper.stop();
    await Promise.all([this.runners.batch.stop(), this.runners.jobs.stop()]);
  }

  /** New work in a lane: this replica looks at once (others within their idle wait). */
  kick(lane: WorkLane): void {
    this.runners[lane].kick();
  }

  /** A job canceled here while this replica runs it. */
  abortJob(id: string): void {
    this.runners.jobs.abort(id, 'canceled');
  }
}
