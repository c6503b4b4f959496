import { Module } from '@nestjs/common';
import { AffinityModule } from '../affinity/affinity.module';
import { FleetModule } from '../fleet/fleet.module';
import { LearningModule } from '../learning/learning.module';
import { QueueModule } from '../queue/queue.module';
import { TenantsModule } from '../tenants/tenants.module';
import { AdmissionService } from './admission.service';

/** Step 1, admit: may this replica take the request now, and what is its ticket. */
@Module({
  imports: [AffinityModule, FleetModule, QueueModule, LearningModule, TenantsModule],
  providers: [AdmissionService],
  exports: [AdmissionService],
})
export class AdmissionModule {}
