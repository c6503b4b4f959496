import { Module, type OnModuleInit } from '@nestjs/common';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { FleetModule } from '../fleet/fleet.module';
import { FleetRegistry } from '../fleet/fleet-registry';
import { LedgerRepository } from '../fleet/ledger.repository';
import { InferenceModule } from '../inference/inference.module';
import { InferenceService } from '../inference/inference.service';
import { RequestEvents } from '../inference/request-events';
import { FairShareRepository } from '../queue/fair-share.repository';
import { JobQueueRepository } from '../queue/job-queue.repository';
import { QueueModule } from '../queue/queue.module';
import { UsageModule } from '../usage/usage.module';
import { UsageService } from '../usage/usage.service';
import { DashboardAssets, DashboardController } from './dashboard.controller';
import { DashboardState } from './dashboard-state';
import { findPublicDir, loadAssets, publicDirCandidates } from './static-assets';

/** The operator dashboard and prompt console (`/dashboard`) and its JSON feed (`GET /herd/dashboard`). */
@Module({
  imports: [FleetModule, QueueModule, InferenceModule, UsageModule],
  controllers: [DashboardController],
  providers: [
    {
      provide: DashboardState,
      useFactory: (config: HerdConfig, fleet: FleetRegistry, ledger: LedgerRepository, queue: JobQueueRepository, tenants: FairShareRepository, inference: InferenceService, usage: UsageService) =>
        new DashboardState({ config, fleet, ledger, queue, tenants, inference, usage }),
      inject: [HERD_CONFIG, FleetRegistry, LedgerRepository, JobQueueRepository, FairShareRepository, InferenceService, UsageService],
    },
    { provide: DashboardAssets, useFactory: () => locateAssets() },
  ],
})
export class DashboardModule implements OnModuleInit {
  constructor(
    private readonly events: RequestEvents,
    private readonly state: DashboardState,
    private readonly assets: DashboardAssets,
    private readonly log: Logger,
  ) {}

  onModuleInit(): void {
    const state = this.state;
    this.events.on((record) => state.record(record));
    if (this.assets.problem) this.log.warn('dashboard disabled', { reason: this.assets.problem });
  }
}

function locateAssets(): DashboardAssets {
  const dir = findPublicDir();
  if (!dir) return new DashboardAssets(undefined, `looked in ${publicDirCandidates(__dirname).join(' and ')}`);
  try {
    return new DashboardAssets(loadAssets(dir));
  } catch (err) {
    return new DashboardAssets(undefined, (err as Error).message);
  }
}
