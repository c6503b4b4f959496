import { Module } from '@nestjs/common';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { FleetModule } from '../fleet/fleet.module';
import { createStrategy } from '../scheduler';
import { LeaseKeeper } from './lease-keeper';
import { PlacementService, SCHEDULING_STRATEGY } from './placement.service';

/** Step 3, place: rank (the pure scheduler), reserve a slot lease, keep it while the request runs. */
@Module({
  imports: [FleetModule],
  providers: [{ provide: SCHEDULING_STRATEGY, useFactory: (config: HerdConfig) => createStrategy(config.strategy), inject: [HERD_CONFIG] }, PlacementService, LeaseKeeper],
  exports: [PlacementService, LeaseKeeper],
})
export class PlacementModule {}
