import { Module, type OnModuleInit } from '@nestjs/common';
import { BatchModule } from '../batch/batch.module';
import { WorkRepository } from '../batch/work.repository';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { FleetModule } from '../fleet/fleet.module';
import { FleetRegistry } from '../fleet/fleet-registry';
import { LedgerRepository } from '../fleet/ledger.repository';
import { InferenceModule } from '../inference/inference.module';
import { RequestEvents } from '../inference/request-events';
import { FairShareRepository } from '../queue/fair-share.repository';
import { JobQueueRepository } from '../queue/job-queue.repository';
import { QueueModule } from '../queue/queue.module';
import { HerdMetrics } from './herd-metrics';
import { MetricsController } from './metrics.controller';
import { logRequest } from './request-log';

/** `GET /metrics` and the per-request log line, both fed by the request events. */
@Module({
  imports: [FleetModule, QueueModule, InferenceModule, BatchModule],
  controllers: [MetricsController],
  providers: [
    {
      provide: HerdMetrics,
      useFactory: (config: HerdConfig, fleet: FleetRegistry, ledger: LedgerRepository, queue: JobQueueRepository, tenants: FairShareRepository, work: WorkRepository) =>
        new HerdMetrics({ config, fleet, ledger, queue, tenants, work }),
      inject: [HERD_CONFIG, FleetRegistry, LedgerRepository, JobQueueRepository, FairShareRepository, WorkRepository],
    },
  ],
  exports: [HerdMetrics],
})
export class MetricsModule implements OnModuleInit {
  constructor(
    private readonly events: RequestEvents,
    private readonly metrics: HerdMetrics,
    private readonly log: Logger,
  ) {}

  onModuleInit(): void {
    const { metrics, log } = this;
    this.events.on((record) => {
      metrics.observe(record);
      logRequest(log, record);
    });
  }
}
