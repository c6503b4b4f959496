import { Module } from '@nestjs/common';
import { FleetModule } from '../fleet/fleet.module';
import { PlacementModule } from '../placement/placement.module';
import { FairReserveHint } from './fair-reserve-hint';
import { FairShareRepository } from './fair-share.repository';
import { Handoff } from './handoff';
import { HandoffRepository } from './handoff.repository';
import { JobQueueRepository } from './job-queue.repository';
import { QueueDepth } from './queue-depth';
import { QueuePump } from './queue-pump';
import { QueueService } from './queue.service';

/** Step 2, queue: the shared priority queue of tickets, its pump, and the hand-off of grants between replicas. */
@Module({
  imports: [FleetModule, PlacementModule],
  providers: [FairShareRepository, FairReserveHint, JobQueueRepository, HandoffRepository, Handoff, QueueDepth, QueuePump, QueueService],
  exports: [FairShareRepository, JobQueueRepository, Handoff, QueueDepth, QueuePump, QueueService],
})
export class QueueModule {}
