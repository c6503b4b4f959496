import { AffinityModule } from '../affinity/affinity.module';
import { Module } from '@nestjs/common';
import { AdmissionModule } from '../admission/admission.module';
import { FleetModule } from '../fleet/fleet.module';
import { LearningModule } from '../learning/learning.module';
import { PlacementModule } from '../placement/placement.module';
import { QueueModule } from '../queue/queue.module';
import { UpstreamModule } from '../upstream/upstream.module';
import { DirectCall } from './direct-call';
import { InferenceService } from './inference.service';
import { LiveAttempts } from './live-attempts';
import { RequestEvents } from './request-events';

/** The request path: admit → queue → place → relay → learn, and the one record each request ends as. */
@Module({
  imports: [AdmissionModule, AffinityModule, QueueModule, PlacementModule, FleetModule, LearningModule, UpstreamModule],
  providers: [InferenceService, DirectCall, LiveAttempts, RequestEvents],
  exports: [InferenceService, DirectCall, RequestEvents],
})
export class InferenceModule {}
