import { Module } from '@nestjs/common';
import { AffinityRepository } from './affinity.repository';
import { AffinityService } from './affinity.service';

/** Conversation affinity: which node probably still holds a prompt's beginning in its cache. */
@Module({
  providers: [AffinityRepository, AffinityService],
  exports: [AffinityService],
})
export class AffinityModule {}
