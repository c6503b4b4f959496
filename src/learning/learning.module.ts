import { Module } from '@nestjs/common';
import { FleetModule } from '../fleet/fleet.module';
import { LearningService } from './learning.service';
import { ModelStatsRepository } from './model-stats.repository';

/** Step 5, learn: rates and model stats from answers, and the estimates made from them. */
@Module({
  imports: [FleetModule],
  providers: [ModelStatsRepository, LearningService],
  exports: [LearningService],
})
export class LearningModule {}
